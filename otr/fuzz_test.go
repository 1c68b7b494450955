package otr

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzSeeds returns real wire lines: an AKE, data messages and fragments.
func fuzzSeeds(t testing.TB) []string {
	a, b := newPair(t, PolicyOpportunistic, PolicyOpportunistic)
	var seeds []string
	q, _ := a.c.Start(t0)
	commit, _ := b.c.Receive(t0, q.Wire[0])
	key, _ := a.c.Receive(t0, commit.Wire[0])
	rs, _ := b.c.Receive(t0, key.Wire[0])
	sig, _ := a.c.Receive(t0, rs.Wire[0])
	b.c.Receive(t0, sig.Wire[0])
	seeds = append(seeds, q.Wire[0], commit.Wire[0], key.Wire[0], rs.Wire[0], sig.Wire[0])
	d, _ := a.c.Send(t0, "hello")
	seeds = append(seeds, d.Wire...)
	_, sk, _ := a.c.ExtraSymmetricKey(t0, 1, []byte("x"))
	seeds = append(seeds, sk.Wire...)
	a.c.cfg.FragmentSize = 120
	d, _ = a.c.Send(t0, "fragmented message of some length")
	seeds = append(seeds, d.Wire...)
	// A fragment line an IRC client cut in two.
	seeds = append(seeds, weechatCut(d.Wire[0], 60)...)
	seeds = append(seeds, "?OTR Error: oops", "hi \t  \t\t\t\t \t \t \t    \t\t  \t\t", "?OTR:===.", "?OTR,1,2,abc,")
	return seeds
}

// FuzzReceive feeds arbitrary lines to a fresh conversation and to one
// with an established session. Nothing may panic, and every error must be
// one of the package's typed errors.
func FuzzReceive(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	a, b := newPair(f, PolicyOpportunistic, PolicyOpportunistic)
	establish(f, a, b)
	key := testKey(f, testKeyAlice)
	f.Fuzz(func(t *testing.T, line string) {
		fresh, err := NewConversation(Config{PrivateKey: key, InstanceTag: 0x2000, Policy: PolicyAlways, Rand: detRand(1)})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []*Conversation{fresh, b.c} {
			_, err := c.Receive(t0, line)
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnreadable) && !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}

// FuzzTLV checks that TLV parsing never panics and that what it parses
// encodes back to a prefix of the input.
func FuzzTLV(f *testing.F) {
	f.Add([]byte("hi\x00\x00\x01\x00\x00"))
	f.Add([]byte("\x00\x00\x08\x00\x05\x00\x00\x00\x01x"))
	f.Add([]byte("no tlvs"))
	f.Fuzz(func(t *testing.T, b []byte) {
		text, tlvs := splitPlaintext(b)
		if bytes.IndexByte(text, 0) >= 0 {
			t.Fatal("text contains NUL")
		}
		if len(text) == len(b) {
			if tlvs != nil {
				t.Fatal("TLVs without NUL")
			}
			return
		}
		enc := append(append([]byte(nil), text...), 0)
		for _, tv := range tlvs {
			enc = appendTLV(enc, tv)
		}
		if !bytes.HasPrefix(b, enc) {
			t.Fatal("TLVs do not re-encode to the input")
		}
	})
}
