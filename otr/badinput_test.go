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
		{"?OTR:" + base64Of(wire.NewWriter(nil).Short(3).Byte(msgData).Int(0x2000).Int(0x1000).Byte(0).Int(1).Int(1).Int(0xffffffff).Bytes()) + ".", ErrMalformed},
		{"?OTR:" + base64Of(wire.NewWriter(nil).Short(3).Byte(msgData).Int(5).Int(0x1000).Bytes()) + ".", ErrMalformed}, // sender tag < 0x100
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

func base64Of(b []byte) string {
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
		raw, err := appendDecoded(nil, l)
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
