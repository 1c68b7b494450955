package otr_test

// Shared by the libotr interop tests, the transcript recorder and the
// replay test: a Conversation of ours wired to a libotr peer, with every
// call and output optionally written to a transcript.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// t0 is the fixed start of every conversation's clock.
var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// seededRand is a deterministic randomness source for Config.Rand, so a
// conversation can be recorded and replayed byte for byte.
func seededRand(seed string) io.Reader {
	return rand.NewChaCha8(sha256.Sum256([]byte(seed)))
}

// loadKey loads one of the libotr-generated test keys from otr/testdata.
func loadKey(t testing.TB, name string) *otr.PrivateKey {
	t.Helper()
	b, err := otrtest.KeyBinary(otrtest.Testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	k := new(otr.PrivateKey)
	if err := k.UnmarshalBinary(b); err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	return k
}

// ourConfig describes our side of a recorded or live conversation.
type ourConfig struct {
	KeyFile      string // in otr/testdata
	InstanceTag  otr.InstanceTag
	Policy       otr.Policy
	FragmentSize int
	Seed         string
}

func defaultOurConfig() ourConfig {
	return ourConfig{
		KeyFile:      "otrbridge.key",
		InstanceTag:  0x5eed0003,
		Policy:       otr.PolicyOpportunistic,
		FragmentSize: 400,
		Seed:         "otrbridge interop",
	}
}

func (c ourConfig) header() string {
	return fmt.Sprintf("config key=%s instag=%08x policy=0x%x fragment=%d seed=%s",
		c.KeyFile, uint32(c.InstanceTag), uint32(c.Policy), c.FragmentSize, hex.EncodeToString([]byte(c.Seed)))
}

func (c ourConfig) newConversation(t testing.TB) *otr.Conversation {
	t.Helper()
	conv, err := otr.NewConversation(otr.Config{
		PrivateKey:   loadKey(t, c.KeyFile),
		InstanceTag:  c.InstanceTag,
		Policy:       c.Policy,
		FragmentSize: c.FragmentSize,
		Rand:         seededRand(c.Seed),
	})
	if err != nil {
		t.Fatalf("NewConversation: %v", err)
	}
	return conv
}

// ours drives our Conversation with a fake clock and writes a transcript
// line for every call and every output.
type ours struct {
	t    testing.TB
	conv *otr.Conversation
	cfg  ourConfig
	now  time.Time
	log  []string // transcript lines
}

func newOurs(t testing.TB, cfg ourConfig) *ours {
	return &ours{t: t, conv: cfg.newConversation(t), cfg: cfg, now: t0, log: []string{cfg.header()}}
}

func (o *ours) advance(d time.Duration) {
	o.now = o.now.Add(d)
	o.log = append(o.log, fmt.Sprintf("advance %s", d))
}

// call runs one operation on our conversation. op is its transcript form.
func (o *ours) call(op string) (otr.Output, error) {
	o.log = append(o.log, op)
	out, extra, err := applyOp(o.conv, o.now, op)
	o.log = append(o.log, outputLines(out, extra, err)...)
	return out, err
}

// applyOp performs one transcript operation. The replay test uses it too,
// so recording and replaying cannot drift apart.
// Extra transcript lines (the key ExtraSymmetricKey returned) come back
// separately from the Output.
func applyOp(c *otr.Conversation, now time.Time, op string) (out otr.Output, extra []string, err error) {
	verb, arg, _ := strings.Cut(op, " ")
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			panic(fmt.Sprintf("transcript op %q: %v", op, err))
		}
		return b
	}
	switch verb {
	case "recv":
		out, err = c.Receive(now, otrtest.Unescape(arg))
	case "send":
		out, err = c.Send(now, string(unhex(arg)))
	case "start":
		out, err = c.Start(now)
	case "end":
		out, err = c.End(now)
	case "smp":
		q, s, _ := strings.Cut(arg, " ")
		out, err = c.StartSMP(now, string(unhex(q)), unhex(s))
	case "answer":
		out, err = c.AnswerSMP(now, unhex(arg))
	case "abort":
		out, err = c.AbortSMP(now)
	case "symkey":
		use, data, _ := strings.Cut(arg, " ")
		var u uint32
		fmt.Sscan(use, &u)
		var key [32]byte
		key, out, err = c.ExtraSymmetricKey(now, u, unhex(data))
		if err == nil {
			extra = []string{"symkey " + hex.EncodeToString(key[:])}
		}
	case "tick":
		out = c.Tick(now)
	default:
		panic(fmt.Sprintf("unknown transcript op %q", op))
	}
	return out, extra, err
}

// outputLines renders an Output in transcript form: wire lines, messages,
// event type names (the events' own fields are checked by the live tests),
// then the error, if any.
func outputLines(out otr.Output, extra []string, err error) []string {
	var lines []string
	for _, w := range out.Wire {
		lines = append(lines, "wire "+otrtest.Escape(w))
	}
	for _, m := range out.Messages {
		kind := "plain"
		if m.Encrypted {
			kind = "enc"
		}
		lines = append(lines, "msg "+kind+" "+hex.EncodeToString([]byte(m.Text)))
	}
	for _, e := range out.Events {
		lines = append(lines, "event "+reflect.TypeOf(e).Name())
	}
	lines = append(lines, extra...)
	if err != nil {
		lines = append(lines, "error")
	}
	return lines
}

// link connects our conversation with a libotr peer and carries wire lines
// both ways until both are quiet.
type link struct {
	t   testing.TB
	us  *ours
	lib *otrtest.LibotrPeer
	// cutAt, if > 0, makes the peer's lines arrive as WeeChat sends a
	// PRIVMSG text longer than that: cut in several.
	cutAt int
}

// exchange is everything both sides produced during one pump.
type exchange struct {
	us      otr.Output
	errs    []error
	lib     otrtest.Result
	toLib   []string // every line we put on the wire
	fromLib []string // every line libotr put on the wire
}

func (x *exchange) addOurs(out otr.Output, err error) {
	x.us.Wire = append(x.us.Wire, out.Wire...)
	x.us.Messages = append(x.us.Messages, out.Messages...)
	x.us.Events = append(x.us.Events, out.Events...)
	if err != nil {
		x.errs = append(x.errs, err)
	}
}

// ourEvent returns the first event of type T we produced.
func ourEvent[T otr.Event](x exchange) (T, bool) {
	for _, e := range x.us.Events {
		if v, ok := e.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func (x exchange) String() string {
	var b strings.Builder
	b.WriteString("ours:\n")
	for _, l := range outputLines(x.us, nil, nil) {
		fmt.Fprintf(&b, "  %.120s\n", l)
	}
	for _, e := range x.errs {
		fmt.Fprintf(&b, "  error: %v\n", e)
	}
	b.WriteString("libotr:\n")
	for _, l := range x.lib.Lines {
		fmt.Fprintf(&b, "  %.120s\n", l.Raw)
	}
	return b.String()
}

// do runs one of our operations and pumps its wire output to libotr.
func (l *link) do(op string) exchange {
	l.t.Helper()
	var x exchange
	out, err := l.us.call(op)
	x.addOurs(out, err)
	l.pump(&x, out.Wire, nil)
	return x
}

// libDo runs a libotr command and pumps its wire output to us.
func (l *link) libDo(r otrtest.Result) exchange {
	l.t.Helper()
	var x exchange
	x.lib.Lines = append(x.lib.Lines, r.Lines...)
	l.pump(&x, nil, r.Wire())
	return x
}

func (l *link) pump(x *exchange, toLib, toUs []string) {
	l.t.Helper()
	for round := 0; len(toLib)+len(toUs) > 0; round++ {
		if round > 30 {
			l.t.Fatalf("conversation did not settle:\n%s", x)
		}
		x.toLib = append(x.toLib, toLib...)
		r := l.lib.Recv(toLib...)
		x.lib.Lines = append(x.lib.Lines, r.Lines...)
		toUs = append(toUs, r.Wire()...)
		toLib = nil
		x.fromLib = append(x.fromLib, toUs...)
		if l.cutAt > 0 {
			var cut []string
			for _, line := range toUs {
				cut = append(cut, otr.WeechatCut(line, l.cutAt)...)
			}
			toUs = cut
		}
		for _, line := range toUs {
			out, err := l.us.call("recv " + otrtest.Escape(line))
			x.addOurs(out, err)
			toLib = append(toLib, out.Wire...)
		}
		toUs = nil
	}
}

// --- a conversation of ours with a libotr (or potr) peer ---

// newLink starts a libotr peer (key libotr-alice.key unless opts says
// otherwise) and our conversation with cfg.
func newLink(t *testing.T, cfg ourConfig, opts otrtest.Options) *link {
	t.Helper()
	lib := otrtest.StartLibotr(t, opts)
	return &link{t: t, us: newOurs(t, cfg), lib: lib}
}

func hexs(s string) string { return hex.EncodeToString([]byte(s)) }

// How an AKE gets started.
const (
	ourQuery       = "our query"
	ourWhitespace  = "our whitespace tag"
	libQuery       = "libotr's default query"
	libQueryBare   = "libotr's bare query"
	libWhitespace  = "libotr's whitespace tag"
	plaintextHello = "hello in plaintext"
)

// establish starts an AKE the given way and checks that both ends agree on
// version, fingerprints, SSID and instance tags.
func establish(t *testing.T, l *link, how string, version int) exchange {
	t.Helper()
	var x exchange
	switch how {
	case ourQuery:
		x = l.do("start")
		if len(x.toLib) == 0 || !strings.HasPrefix(x.toLib[0], "?OTRv") || strings.Contains(x.toLib[0], "\n") {
			t.Fatalf("our query is not a bare one-line query: %q", x.toLib)
		}
	case ourWhitespace:
		x = l.do("send " + hexs(plaintextHello))
		m := x.lib.Messages()
		if len(m) == 0 || m[0].Text != plaintextHello || m[0].Name != "plain" {
			t.Fatalf("libotr did not show the tagged plaintext (tag stripped):\n%s", x)
		}
	case libQuery:
		x = l.libDo(l.lib.Query())
	case libQueryBare:
		x = l.libDo(l.lib.QueryBare())
	case libWhitespace:
		x = l.libDo(l.lib.Send(plaintextHello))
		if len(x.us.Messages) == 0 || x.us.Messages[0].Text != plaintextHello || x.us.Messages[0].Encrypted {
			t.Fatalf("we did not deliver the tagged plaintext stripped:\n%s", x)
		}
	default:
		t.Fatalf("unknown AKE start %q", how)
	}
	for _, e := range x.errs {
		t.Errorf("our side returned an error during the AKE: %v", e)
	}
	checkSecure(t, l, x, version)
	return x
}

func checkSecure(t *testing.T, l *link, x exchange, version int) {
	t.Helper()
	gs, ok := ourEvent[otr.GoneSecure](x)
	// libotr reports a new AKE over an existing session as still_secure.
	if !ok || !x.lib.Has("gone_secure", "") && !x.lib.Has("still_secure", "") {
		t.Fatalf("AKE did not complete on both sides:\n%s", x)
	}
	libFP, err := otr.ParseFingerprint(l.lib.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	ourFP := l.us.conv.Info()
	li := l.lib.Info()
	switch {
	case gs.Version != version || li.Version != version:
		t.Errorf("version: ours %d, libotr %d, want %d", gs.Version, li.Version, version)
	case gs.Fingerprint != libFP:
		t.Errorf("we see fingerprint %s, libotr's key is %s", gs.Fingerprint, l.lib.HumanFP)
	case li.TheirFP != hex.EncodeToString(fpOf(t, l.us.cfg.KeyFile)):
		t.Errorf("libotr sees fingerprint %s, ours is %x", li.TheirFP, fpOf(t, l.us.cfg.KeyFile))
	case li.State != "encrypted" || ourFP.State != otr.Encrypted:
		t.Errorf("states: libotr %s, ours %v", li.State, ourFP.State)
	case li.SSID != hex.EncodeToString(ourFP.SSID[:]) || li.SSID != hex.EncodeToString(gs.SSID[:]):
		t.Errorf("SSID: libotr %s, ours %x (event %x)", li.SSID, ourFP.SSID, gs.SSID)
	case li.SSIDFirstHalf != ourFP.SSIDHighHalf:
		// The two ends must show opposite halves in bold.
		t.Errorf("SSID halves: libotr first-half-bold=%v, ours high-half=%v", li.SSIDFirstHalf, ourFP.SSIDHighHalf)
	}
	if version == 3 {
		if uint32(gs.Instance) != l.lib.InstanceTag || uint32(ourFP.TheirInstance) != l.lib.InstanceTag {
			t.Errorf("we talk to instance %v/%v, libotr is %08x", gs.Instance, ourFP.TheirInstance, l.lib.InstanceTag)
		}
		if li.TheirInstance != uint32(l.us.cfg.InstanceTag) || li.OurInstance != l.lib.InstanceTag {
			t.Errorf("libotr talks to instance %08x, ours is %v", li.TheirInstance, l.us.cfg.InstanceTag)
		}
	}
}

func fpOf(t *testing.T, keyFile string) []byte {
	fp := loadKey(t, keyFile).Public().Fingerprint()
	return fp[:]
}

// ourSend sends text from our side and checks libotr shows it, encrypted.
func ourSend(t *testing.T, l *link, text string) exchange {
	t.Helper()
	x := l.do("send " + hexs(text))
	if len(x.errs) > 0 {
		t.Fatalf("Send: %v", x.errs)
	}
	for _, w := range x.toLib {
		// (texts that imitate OTR syntax cannot be told from it this way)
		if len(text) >= 8 && !strings.HasPrefix(text, "?OTR") && strings.Contains(w, text[:8]) {
			t.Fatalf("plaintext on the wire: %.80q", w)
		}
		if max := l.us.cfg.FragmentSize; max > 0 && len(w) > max {
			t.Fatalf("wire line of %d bytes exceeds the fragment size %d", len(w), max)
		}
	}
	m := x.lib.Messages()
	if len(m) != 1 || m[0].Text != text || m[0].Name != "enc" {
		t.Fatalf("libotr shows %d messages, want the %d-byte text encrypted:\n%s", len(m), len(text), x)
	}
	return x
}

// libSend sends text from libotr and checks we deliver it, encrypted.
func libSend(t *testing.T, l *link, text string) exchange {
	t.Helper()
	x := l.libDo(l.lib.Send(text))
	if len(x.errs) > 0 {
		t.Fatalf("Receive: %v\n%s", x.errs, x)
	}
	m := x.us.Messages
	if len(m) != 1 || m[0].Text != text || !m[0].Encrypted {
		t.Fatalf("we delivered %d messages, want the %d-byte text encrypted:\n%s", len(m), len(text), x)
	}
	if l.lib.Info().Version == 3 && uint32(m[0].Instance) != l.lib.InstanceTag {
		t.Errorf("message attributed to instance %v, libotr is %08x", m[0].Instance, l.lib.InstanceTag)
	}
	return x
}
