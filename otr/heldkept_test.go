package otr

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// A message held before the AKE must not go to whoever answered it with a
// key the caller does not accept: it is dropped unsent, and so is every
// message sent to that session, until the caller accepts the key.
func TestHeldRefusedForUnacceptedKey(t *testing.T) {
	a, b := newPair(t, PolicyAlways, PolicyOpportunistic)
	bobFP := b.c.cfg.PrivateKey.Public().Fingerprint()
	asked := 0
	a.c.cfg.HeldMayGoTo = func(fp Fingerprint) bool { asked++; return false }

	o1, err := a.c.Send(t0, "first")
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := hasEvent[HeldMessage](o1.Events)
	o2, _ := a.c.Send(t0, "second")
	h2, _ := hasEvent[HeldMessage](o2.Events)
	exchange(t, t0, a, b, o1.Wire)
	if a.c.Info().State != Encrypted {
		t.Fatal("no private session")
	}
	if _, ok := hasEvent[HeldSent](a.events); ok || len(b.msgs) != 0 {
		t.Fatalf("held messages sent to a key that was refused: bob got %+v", b.msgs)
	}
	ref, ok := hasEvent[HeldRefused](a.events)
	if !ok || ref.Fingerprint != bobFP || !slices.Equal(ref.IDs, []HeldID{h1.ID, h2.ID}) {
		t.Fatalf("HeldRefused %+v %v", ref, ok)
	}
	if a.c.Waiting() {
		t.Fatal("refused messages are still held")
	}
	if fp, ok := a.c.RefusedKey(); !ok || fp != bobFP {
		t.Fatal("RefusedKey does not report the key")
	}

	// Sending now is refused, nothing on the wire.
	if o, err := a.c.Send(t0, "third"); !errors.Is(err, ErrKeyRefused) || len(o.Wire) != 0 {
		t.Fatalf("send to the refused session: %+v %v", o, err)
	}
	// A refresh with the same key: asked again, refused, nothing new.
	a.events = nil
	o, err := b.c.Start(t0)
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, t0, b, a, o.Wire)
	if _, ok := hasEvent[HeldRefused](a.events); ok || asked != 2 {
		t.Fatalf("refresh: events %+v, asked %d", a.events, asked)
	}
	if _, err := a.c.Send(t0, "fourth"); !errors.Is(err, ErrKeyRefused) {
		t.Fatalf("a refresh ended the refusal: %v", err)
	}

	// Accepting another key changes nothing; accepting bob's does.
	a.c.AcceptKey(a.c.cfg.PrivateKey.Public().Fingerprint())
	if _, err := a.c.Send(t0, "fifth"); !errors.Is(err, ErrKeyRefused) {
		t.Fatalf("accepting another key ended the refusal: %v", err)
	}
	a.c.AcceptKey(bobFP)
	if got := send(t, t0.Add(time.Second), a, b, "after accepting"); len(got.Messages) != 1 || got.Messages[0].Text != "after accepting" {
		t.Fatalf("after AcceptKey: %+v", got)
	}
	if len(b.msgs) != 1 {
		t.Fatalf("bob got %+v", b.msgs)
	}
}

// End forgets the refusal: the next private session is asked again, and
// one with an accepted key gets the held messages.
func TestHeldRefusalEndsWithSession(t *testing.T) {
	a, b := newPair(t, PolicyAlways, PolicyOpportunistic)
	accept := false
	a.c.cfg.HeldMayGoTo = func(Fingerprint) bool { return accept }
	o, _ := a.c.Send(t0, "refused")
	exchange(t, t0, a, b, o.Wire)
	if _, ok := a.c.RefusedKey(); !ok {
		t.Fatal("not refused")
	}
	if _, err := a.c.End(t0); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.c.RefusedKey(); ok {
		t.Fatal("End keeps the refusal")
	}
	accept = true
	o, err := a.c.Send(t0, "accepted")
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, t0, a, b, o.Wire)
	if len(b.msgs) != 1 || b.msgs[0].Text != "accepted" || !b.msgs[0].Encrypted {
		t.Fatalf("bob got %+v", b.msgs)
	}
}
