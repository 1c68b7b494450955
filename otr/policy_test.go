package otr

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/otr/internal/plaintext"
)

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Policy
	}{
		{"never", 0},
		{"Manual", 0x06},
		{" opportunistic ", 0x76},
		{"always", 0x6e},
		{"allow-v3|require-encryption", 0x0c},
	} {
		p, err := ParsePolicy(tc.in)
		if err != nil || p != tc.want {
			t.Errorf("ParsePolicy(%q) = %#x, %v; want %#x", tc.in, uint32(p), err, uint32(tc.want))
		}
		if back, err := ParsePolicy(p.String()); err != nil || back != p {
			t.Errorf("round trip of %q via %q: %#x %v", tc.in, p.String(), uint32(back), err)
		}
	}
	if _, err := ParsePolicy("sometimes"); err == nil {
		t.Error("unknown policy accepted")
	}
}

func TestPolicyTable(t *testing.T) {
	tag := plaintext.WhitespaceTag(plaintext.V2 | plaintext.V3)
	for _, tc := range []struct {
		policy Policy
		// Send "hi" in plaintext:
		sendWire string // "" = held
		// Reactions to received plaintext OTR markers:
		onQuery, onTag, onError string // "commit", "query" or ""
	}{
		{PolicyNever, "hi", "", "", ""},
		{PolicyManual, "hi", "commit", "", ""},
		{PolicyOpportunistic, "hi" + tag, "commit", "commit", "query"},
		{PolicyAlways, "", "commit", "commit", "query"},
		{AllowV2, "hi", "commit", "", ""},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			p := newPeer(t, "p", testKeyAlice, 0x1000, tc.policy, 1)
			o, err := p.c.Send(t0, "hi")
			if err != nil {
				t.Fatal(err)
			}
			if tc.sendWire == "" {
				if _, held := hasEvent[HeldMessage](o.Events); !held || len(o.Wire) != 1 || o.Wire[0] != "?OTRv23?" {
					t.Fatalf("not held with a query: %+v", o)
				}
			} else if len(o.Wire) != 1 || o.Wire[0] != tc.sendWire {
				t.Fatalf("send wire %q, want %q", o.Wire, tc.sendWire)
			}
			kind := func(o Output) string {
				if len(o.Wire) == 0 {
					return ""
				}
				if strings.HasPrefix(o.Wire[0], "?OTR:AA") {
					return "commit"
				}
				if _, ok := plaintext.FindQuery(o.Wire[0]); ok {
					return "query"
				}
				return o.Wire[0]
			}
			for _, in := range []struct{ line, want string }{
				{"?OTRv23?", tc.onQuery},
				{"hello" + tag, tc.onTag},
				{"?OTR Error: something", tc.onError},
			} {
				p := newPeer(t, "p", testKeyAlice, 0x1000, tc.policy, 1)
				o, err := p.c.Receive(t0, in.line)
				if err != nil {
					t.Fatal(err)
				}
				if got := kind(o); got != in.want {
					t.Errorf("on %q: got %q, want %q", in.line, got, in.want)
				}
			}
		})
	}
}

func TestWhitespaceTagStripAndStop(t *testing.T) {
	p := newPeer(t, "p", testKeyAlice, 0x1000, PolicyManual|SendWhitespaceTag, 1)
	tag := plaintext.WhitespaceTag(plaintext.V2 | plaintext.V3)
	o, _ := p.c.Receive(t0, "hello"+tag+" there")
	if len(o.Messages) != 1 || o.Messages[0].Text != "hello there" || o.Messages[0].Encrypted {
		t.Fatalf("tag not stripped: %+v", o.Messages)
	}
	if o, _ := p.c.Send(t0, "a"); o.Wire[0] != "a"+tag {
		t.Fatalf("no tag on first message: %q", o.Wire)
	}
	p.c.Receive(t0, "plain answer")
	if o, _ := p.c.Send(t0, "b"); o.Wire[0] != "b" {
		t.Fatalf("tag still sent after the peer answered in plaintext: %q", o.Wire)
	}
}

func TestQueryNotDeliveredAndV1Ignored(t *testing.T) {
	p := newPeer(t, "p", testKeyAlice, 0x1000, PolicyManual, 1)
	o, _ := p.c.Receive(t0, "?OTR?")
	if len(o.Wire) != 0 {
		t.Fatal("answered a v1-only query")
	}
	if len(o.Messages) != 0 {
		t.Fatal("v1 query shown")
	}
	o, _ = p.c.Receive(t0, "please ?OTRv3? thanks")
	if len(o.Wire) != 1 || len(o.Messages) != 0 {
		t.Fatalf("query inside text: %+v", o)
	}
}

func TestFinishedFailsClosed(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyOpportunistic)
	establish(t, a, b)
	o, err := a.c.End(t0)
	if err != nil || len(o.Wire) != 1 {
		t.Fatal(o, err)
	}
	if _, ok := hasEvent[GoneInsecure](o.Events); !ok {
		t.Fatal("no GoneInsecure")
	}
	r, err := b.c.Receive(t0, o.Wire[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := hasEvent[PeerEnded](r.Events); !ok || b.c.Info().State != Finished {
		t.Fatalf("bob: %+v, state %v", r, b.c.Info().State)
	}
	for i := 0; i < 3; i++ {
		o, err := b.c.Send(t0, "secret text")
		if !errors.Is(err, ErrFinished) || len(o.Wire) != 0 || len(o.Messages) != 0 {
			t.Fatalf("Send in FINISHED: %+v %v", o, err)
		}
	}
	if _, err := b.c.End(t0); err != nil || b.c.Info().State != Plaintext {
		t.Fatal("End from FINISHED", err)
	}
	if o, err := b.c.Send(t0, "now plain"); err != nil || o.Wire[0] != "now plain" {
		t.Fatalf("plaintext after End: %+v %v", o, err)
	}
}

func TestRequireHoldDeliverExpire(t *testing.T) {
	a, b := newPair(t, PolicyAlways, PolicyOpportunistic)
	a.c.cfg.HoldTimeout = 30 * time.Second
	o1, err := a.c.Send(t0, "first")
	if err != nil {
		t.Fatal(err)
	}
	o2, _ := a.c.Send(t0.Add(time.Second), "second")
	for _, o := range []Output{o1, o2} {
		for _, w := range o.Wire {
			if strings.Contains(w, "first") || strings.Contains(w, "second") {
				t.Fatal("plaintext leaked under RequireEncryption")
			}
		}
	}
	h1, _ := hasEvent[HeldMessage](o1.Events)
	h2, _ := hasEvent[HeldMessage](o2.Events)
	if h1.ID == 0 || h2.ID == h1.ID {
		t.Fatalf("held IDs %v %v", h1.ID, h2.ID)
	}
	// The query reaches Bob; the AKE runs; both held messages arrive.
	exchange(t, t0, a, b, o1.Wire)
	var sent []HeldID
	for _, e := range a.events {
		if hs, ok := e.(HeldSent); ok {
			sent = append(sent, hs.ID)
		}
	}
	if len(sent) != 2 || sent[0] != h1.ID || sent[1] != h2.ID {
		t.Fatalf("HeldSent %v", sent)
	}
	if len(b.msgs) != 2 || b.msgs[0].Text != "first" || b.msgs[1].Text != "second" || !b.msgs[0].Encrypted {
		t.Fatalf("bob got %+v", b.msgs)
	}

	// A held message with no answer expires after HoldTimeout.
	c := newPeer(t, "c", testKeyAlice, 0x1000, PolicyAlways, 3)
	c.c.cfg.HoldTimeout = 30 * time.Second
	o, _ := c.c.Send(t0, "lost")
	h, _ := hasEvent[HeldMessage](o.Events)
	if !c.c.Waiting() {
		t.Fatal("a held message does not ask for Tick")
	}
	if out := c.c.Tick(t0.Add(29 * time.Second)); len(out.Events) != 0 {
		t.Fatal("expired early")
	}
	out := c.c.Tick(t0.Add(30 * time.Second))
	if e, ok := hasEvent[HeldExpired](out.Events); !ok || e.ID != h.ID || len(out.Wire) != 0 {
		t.Fatalf("Tick: %+v", out)
	}
	if c.c.Waiting() {
		t.Fatal("still waiting after the expiry")
	}
}

func TestPlaintextWhileEncrypted(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	o, err := a.c.Receive(t0, "sneaky plain")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Messages) != 1 || o.Messages[0].Encrypted {
		t.Fatalf("%+v", o.Messages)
	}
	if _, ok := hasEvent[UnencryptedReceived](o.Events); !ok {
		t.Fatal("no UnencryptedReceived")
	}
	if len(o.Wire) != 0 {
		t.Fatal("plaintext started something")
	}
}

// TestResendAfterErrorAKE: Bob loses his session (restart), Alice's

// message is unreadable to him; his error makes Alice re-query, and after

// the new AKE with the same key her message is sent again.

func TestPolicyNeverPassesThrough(t *testing.T) {
	p := newPeer(t, "p", testKeyAlice, 0x1000, PolicyNever, 1)
	for _, line := range []string{"?OTRv23?", "?OTR:AAMD.", "?OTR Error: x", "plain"} {
		o, err := p.c.Receive(t0, line)
		if err != nil || len(o.Wire) != 0 || len(o.Messages) != 1 || o.Messages[0].Text != line || len(o.Events) != 0 {
			t.Errorf("%q: %+v %v", line, o, err)
		}
	}
}
