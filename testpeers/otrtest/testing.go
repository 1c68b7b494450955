package otrtest

import (
	"errors"
	"testing"
	"time"
)

// LibotrPeer is a Peer tied to a test: it is closed when the test ends,
// and its command methods fail the test on an error instead of returning
// it, so call them from the test goroutine (WaitFor, History and the
// embedded Peer's methods may be used from anywhere).
type LibotrPeer struct {
	*Peer
	t testing.TB
}

// StartLibotr is Launch for a test. Without gcc/libotr the test is
// skipped, or fails under OTRBRIDGE_REQUIRE_PEERS=1.
func StartLibotr(t testing.TB, opts Options) *LibotrPeer {
	t.Helper()
	p, err := Launch(opts)
	return started(t, p, err)
}

// StartPotr is LaunchPotr for a test. Without python3-potr the test is
// skipped, or fails under OTRBRIDGE_REQUIRE_PEERS=1.
func StartPotr(t testing.TB, opts Options) *LibotrPeer {
	t.Helper()
	p, err := LaunchPotr(opts)
	return started(t, p, err)
}

func started(t testing.TB, p *Peer, err error) *LibotrPeer {
	t.Helper()
	if err != nil {
		skipIfMissing(t, err)
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &LibotrPeer{Peer: p, t: t}
}

// Binary is Build for a test. Without gcc/libotr the test is skipped, or
// fails under OTRBRIDGE_REQUIRE_PEERS=1.
func Binary(t testing.TB, name string) string {
	t.Helper()
	path, err := Build(name)
	if err != nil {
		skipIfMissing(t, err)
		t.Fatal(err)
	}
	return path
}

func skipIfMissing(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrMissing) && !RequirePeers() {
		t.Skipf("skipping OTR interop: %v (set OTRBRIDGE_REQUIRE_PEERS=1 to make this fail)", err)
	}
}

// check fails the test if err is set.
func (p *LibotrPeer) check(err error) {
	p.t.Helper()
	if err != nil {
		p.t.Fatal(err)
	}
}

// Recv hands received wire lines to the peer, one RECV each.
func (p *LibotrPeer) Recv(lines ...string) Result {
	p.t.Helper()
	r, err := p.Peer.Recv(lines...)
	p.check(err)
	return r
}

// Send sends text as the user would (encrypted when the session is).
func (p *LibotrPeer) Send(text string) Result {
	p.t.Helper()
	r, err := p.Peer.Send(text)
	p.check(err)
	return r
}

// Query sends libotr's default (multi-line) query message.
func (p *LibotrPeer) Query() Result {
	p.t.Helper()
	r, err := p.Peer.Query()
	p.check(err)
	return r
}

// QueryBare sends a bare one-line query such as "?OTRv23?".
func (p *LibotrPeer) QueryBare() Result {
	p.t.Helper()
	r, err := p.Peer.QueryBare()
	p.check(err)
	return r
}

// End ends the private conversation with all instances.
func (p *LibotrPeer) End() Result {
	p.t.Helper()
	r, err := p.Peer.End()
	p.check(err)
	return r
}

// SMP starts the socialist millionaires' protocol without a question.
func (p *LibotrPeer) SMP(secret string) Result {
	p.t.Helper()
	r, err := p.Peer.SMP(secret)
	p.check(err)
	return r
}

// SMPQuestion starts SMP with a question.
func (p *LibotrPeer) SMPQuestion(question, secret string) Result {
	p.t.Helper()
	r, err := p.Peer.SMPQuestion(question, secret)
	p.check(err)
	return r
}

// SMPAnswer answers the peer's SMP request.
func (p *LibotrPeer) SMPAnswer(secret string) Result {
	p.t.Helper()
	r, err := p.Peer.SMPAnswer(secret)
	p.check(err)
	return r
}

// SMPAbort aborts a running SMP.
func (p *LibotrPeer) SMPAbort() Result {
	p.t.Helper()
	r, err := p.Peer.SMPAbort()
	p.check(err)
	return r
}

// SetPolicy changes libotr's policy bits.
func (p *LibotrPeer) SetPolicy(bits uint32) { p.t.Helper(); p.check(p.Peer.SetPolicy(bits)) }

// Advance moves libotr's clock forward.
func (p *LibotrPeer) Advance(d time.Duration) { p.t.Helper(); p.check(p.Peer.Advance(d)) }

// SymKey asks libotr for the extra symmetric key; see Peer.SymKey.
func (p *LibotrPeer) SymKey(use uint32, usedata []byte) ([]byte, Result) {
	p.t.Helper()
	key, r, err := p.Peer.SymKey(use, usedata)
	p.check(err)
	return key, r
}

// Info returns the state of the instance libotr would send to.
func (p *LibotrPeer) Info() Info {
	p.t.Helper()
	info, err := p.Peer.Info()
	p.check(err)
	return info
}
