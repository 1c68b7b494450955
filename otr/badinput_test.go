package otr

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// TestHistoricCrashInputs feeds inputs that crashed other OTR libraries and
// checks each gives a typed error and no panic.
func TestHistoricCrashInputs(t *testing.T) {
	p := newPeer(t, "p", testKeyAlice, 0x1000, PolicyOpportunistic, 1)
	for _, tc := range []struct {
		line string
		want error
	}{
		{"?OTR:===.", ErrMalformed},
		{"?OTR:.", ErrMalformed},
		{"?OTR:AAM.", ErrMalformed},
		{"?OTR|00002000|00001000,00001,99999,AAAA,", ErrMalformed}, // n > 65535
		{"?OTR|00002000|00001000,00000,00001,AAAA,", ErrMalformed}, // k = 0
		{"?OTR|00002000|00001000,00003,00002,AAAA,", ErrMalformed}, // k > n
		{"?OTR,00001,00001,,", ErrMalformed},                       // empty piece
		{"?OTR:" + b64(wire.NewWriter(nil).Short(3).Byte(msgData).Int(0x2000).Int(0x1000).Byte(0).Int(1).Int(1).Int(0xffffffff).Bytes()) + ".", ErrMalformed},
		{"?OTR:" + b64(wire.NewWriter(nil).Short(3).Byte(msgData).Int(5).Int(0x1000).Bytes()) + ".", ErrMalformed}, // sender tag < 0x100
	} {
		_, err := p.c.Receive(t0, tc.line)
		if !errors.Is(err, tc.want) {
			t.Errorf("%q: err = %v, want %v", tc.line, err, tc.want)
		}
	}

	// Fragments adding up to more than the 1 MiB cap.
	piece := strings.Repeat("A", 400<<10)
	var err error
	for k := 1; k <= 3 && err == nil; k++ {
		_, err = p.c.Receive(t0, fmt.Sprintf("?OTR|00002000|00001000,%05d,00003,%s,", k, piece))
	}
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("oversized fragments: %v", err)
	}
}

func b64(b []byte) string {
	return strings.TrimSuffix(strings.TrimPrefix(encodeMessage(b), "?OTR:"), ".")
}

// TestRevealSignatureShortR sends a Reveal Signature whose r is 15 bytes.
func TestRevealSignatureShortR(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	q, _ := a.c.Start(t0)
	commit, _ := b.c.Receive(t0, q.Wire[0])
	key, _ := a.c.Receive(t0, commit.Wire[0]) // alice now awaits the Reveal Signature
	_ = key
	for _, n := range []int{0, 1, 15, 17} {
		w := wire.NewWriter(nil).Short(3).Byte(msgRevealSig).Int(0x2000).Int(0x1000)
		w.Data(make([]byte, n)).Data(make([]byte, 40)).Raw(make([]byte, 20))
		o, err := a.c.Receive(t0, encodeMessage(w.Bytes()))
		if !errors.Is(err, ErrMalformed) || len(o.Wire) != 0 {
			t.Errorf("r of %d bytes: err %v, wire %q", n, err, o.Wire)
		}
	}
}

// TestTruncatedMessagesNoPanic feeds every prefix of every message of an
// AKE and a data exchange to fresh and established conversations.
func TestTruncatedMessagesNoPanic(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	var lines []string
	q, _ := a.c.Start(t0)
	commit, _ := b.c.Receive(t0, q.Wire[0])
	key, _ := a.c.Receive(t0, commit.Wire[0])
	rs, _ := b.c.Receive(t0, key.Wire[0])
	sig, _ := a.c.Receive(t0, rs.Wire[0])
	b.c.Receive(t0, sig.Wire[0])
	d, _ := a.c.Send(t0, "data")
	lines = append(lines, commit.Wire[0], key.Wire[0], rs.Wire[0], sig.Wire[0], d.Wire[0])
	for _, l := range lines {
		raw, err := decodeMessage(l)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(raw); n++ {
			m := encodeMessage(raw[:n])
			for _, p := range []*peer{a, b} {
				p.c.Receive(t0, m) // must not panic
			}
		}
		// Flip each byte once in a copy as well.
		for i := 0; i < len(raw); i += 7 {
			c := append([]byte(nil), raw...)
			c[i] ^= 0x80
			b.c.Receive(t0, encodeMessage(c))
		}
	}
	// The sessions survived all that.
	if o := send(t, t0, a, b, "still fine"); len(o.Messages) != 1 {
		t.Fatal("session broken by garbage")
	}
}

func TestDataWithoutSession(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	o, _ := a.c.Send(t0, "to a stranger")
	c := newPeer(t, "carol", testKeyBob, 0x2000, PolicyManual, 9)
	r, err := c.c.Receive(t0, o.Wire[0])
	if !errors.Is(err, ErrUnreadable) || len(r.Messages) != 0 || len(r.Wire) != 1 || !strings.HasPrefix(r.Wire[0], "?OTR Error: ") {
		t.Fatalf("%+v %v", r, err)
	}
	if _, ok := hasEvent[Unreadable](r.Events); !ok {
		t.Fatal("no Unreadable event")
	}
	// With IGNORE_UNREADABLE (e.g. a heartbeat) nothing happens at all.
	_, sk, err := a.c.ExtraSymmetricKey(t0, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	hb := sk.Wire[0]
	if r, err := c.c.Receive(t0, hb); err != nil || len(r.Wire) != 0 || len(r.Events) != 0 {
		t.Fatalf("%+v %v", r, err)
	}
}

// fanOut delivers alice's lines to every bob client and their replies back
// to alice until all are quiet, as an IRC server relays to a nick logged
// in twice.
func fanOut(t *testing.T, alice *peer, bobs []*peer, fromAlice []string) {
	t.Helper()
	for i := 0; len(fromAlice) > 0; i++ {
		if i > 10 {
			t.Fatal("no convergence")
		}
		var next []string
		for _, l := range fromAlice {
			for _, b := range bobs {
				o, err := b.c.Receive(t0, l)
				if err != nil {
					t.Fatalf("%s: %v", b.name, err)
				}
				b.record(o)
				for _, w := range o.Wire {
					r, err := alice.c.Receive(t0, w)
					if err != nil {
						t.Fatalf("alice: %v", err)
					}
					alice.record(r)
					next = append(next, r.Wire...)
				}
			}
		}
		fromAlice = next
	}
}

func TestMultipleInstances(t *testing.T) {
	alice := newPeer(t, "alice", testKeyAlice, 0x1000, PolicyManual, 1)
	bob1 := newPeer(t, "bob1", testKeyBob, 0x2000, PolicyManual, 2)
	bob2 := newPeer(t, "bob2", testKeyBob, 0x3000, PolicyManual, 3)
	bobs := []*peer{bob1, bob2}
	run := func(lines []string) { fanOut(t, alice, bobs, lines) }
	// bob1 asks for OTR; alice's one commit is answered by both clients.
	r, _ := alice.c.Receive(t0, "?OTRv3?")
	run(r.Wire)
	if bob1.c.Info().State != Encrypted || bob2.c.Info().State != Encrypted {
		t.Fatalf("bobs: %v %v", bob1.c.Info().State, bob2.c.Info().State)
	}
	inst := alice.c.Instances()
	if len(inst) != 2 || inst[0].State != Encrypted || inst[1].State != Encrypted {
		t.Fatalf("alice instances %+v", inst)
	}
	// bob1 speaks last, so alice's best instance is bob1.
	o, _ := bob2.c.Send(t0, "from 2")
	alice.c.Receive(t0, o.Wire[0])
	o, _ = bob1.c.Send(t0, "from 1")
	alice.c.Receive(t0, o.Wire[0])
	if got := alice.c.Info().TheirInstance; got != 0x2000 {
		t.Fatalf("best instance %v, want bob1", got)
	}
	o, _ = alice.c.Send(t0, "for bob1")
	r1, err1 := bob1.c.Receive(t0, o.Wire[0])
	r2, err2 := bob2.c.Receive(t0, o.Wire[0])
	if err1 != nil || len(r1.Messages) != 1 || err2 != nil || len(r2.Messages) != 0 || len(r2.Wire) != 0 {
		t.Fatalf("bob1 %+v %v; bob2 %+v %v", r1, err1, r2, err2)
	}
	if err := alice.c.SelectInstance(0x3000); err != nil {
		t.Fatal(err)
	}
	o, _ = alice.c.Send(t0, "for bob2")
	if r2, _ := bob2.c.Receive(t0, o.Wire[0]); len(r2.Messages) != 1 || r2.Messages[0].Instance != 0x1000 {
		t.Fatalf("bob2 %+v", r2)
	}
	if err := alice.c.SelectInstance(0x4444); !errors.Is(err, ErrUnknownInstance) {
		t.Fatal(err)
	}
}

// TestInstanceFlood: commits from ever new instance tags do not grow the
// state without bound.
func TestInstanceFlood(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	q, _ := a.c.Start(t0)
	commit, _ := b.c.Receive(t0, q.Wire[0])
	raw, _ := decodeMessage(commit.Wire[0])
	for i := 0; i < 100; i++ {
		raw[3], raw[4], raw[5], raw[6] = 0, 1, byte(i), 0 // sender tag
		if _, err := a.c.Receive(t0, encodeMessage(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(a.c.Instances()); n > maxInstances {
		t.Fatalf("%d instances kept", n)
	}
}

// TestTrustedInstancePreferred: with two encrypted instances, one with a
// trusted key, Send goes to the trusted one even if the other spoke last.
func TestTrustedInstancePreferred(t *testing.T) {
	alice := newPeer(t, "alice", testKeyAlice, 0x1000, PolicyManual, 1)
	trusted := testKey(t, testKeyBob).Public().Fingerprint()
	alice.c.cfg.Trusted = func(f Fingerprint) bool { return f == trusted }
	bob1 := newPeer(t, "bob1", testKeyBob, 0x2000, PolicyManual, 2)
	bob2 := newPeer(t, "bob2", testKeyAlice, 0x3000, PolicyManual, 3) // another key
	r, _ := alice.c.Receive(t0, "?OTRv3?")
	fanOut(t, alice, []*peer{bob1, bob2}, r.Wire)
	o, _ := bob2.c.Send(t0, "I spoke last")
	alice.c.Receive(t0, o.Wire[0])
	if got := alice.c.Info().TheirInstance; got != 0x2000 {
		t.Fatalf("best instance %v, want the trusted one", got)
	}
}
