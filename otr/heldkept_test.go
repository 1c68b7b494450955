package otr

import (
	"strings"
	"testing"
	"time"
)

// A message held before the AKE must not go to whoever answered it with a
// key the caller does not accept: it waits, with what is sent after it,
// until the caller releases it for that key.
func TestHeldKeptBackFromUnacceptedKey(t *testing.T) {
	a, b := newPair(t, PolicyAlways, PolicyOpportunistic)
	a.c.cfg.HoldTimeout = 30 * time.Second
	bobFP := b.c.cfg.PrivateKey.Public().Fingerprint()
	accepted := false
	a.c.cfg.HeldMayGoTo = func(fp Fingerprint) bool { return accepted && fp == bobFP }

	o1, err := a.c.Send(t0, "first")
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := hasEvent[HeldMessage](o1.Events)
	akeAt := t0.Add(20 * time.Second)
	exchange(t, akeAt, a, b, o1.Wire)
	if a.c.Info().State != Encrypted {
		t.Fatal("no private session")
	}
	if _, ok := hasEvent[HeldSent](a.events); ok || len(b.msgs) != 0 {
		t.Fatalf("held message released to a key that was refused: bob got %+v", b.msgs)
	}
	kept, ok := hasEvent[HeldKeptBack](a.events)
	if !ok || kept.Fingerprint != bobFP || kept.Held != 1 {
		t.Fatalf("HeldKeptBack %+v %v", kept, ok)
	}
	if fp, ok := a.c.HeldKeptBack(); !ok || fp != bobFP {
		t.Fatal("HeldKeptBack does not report the key")
	}

	// A message sent now waits behind the first: nothing on the wire, not
	// even a query (the session is private).
	o2, err := a.c.Send(akeAt, "second")
	if err != nil {
		t.Fatal(err)
	}
	h2, ok := hasEvent[HeldMessage](o2.Events)
	if !ok || len(o2.Wire) != 0 {
		t.Fatalf("second message while kept back: %+v", o2)
	}

	// The hold timeout starts again when the messages are kept back.
	if out := a.c.Tick(t0.Add(30 * time.Second)); len(out.Events) != 0 {
		t.Fatalf("expired before the user had HoldTimeout to decide: %+v", out.Events)
	}

	// Releasing for another key does nothing.
	if out, err := a.c.ReleaseHeld(akeAt, a.c.cfg.PrivateKey.Public().Fingerprint()); err != nil || len(out.Wire) != 0 {
		t.Fatalf("released for the wrong key: %+v %v", out, err)
	}
	out, err := a.c.ReleaseHeld(akeAt, bobFP)
	if err != nil {
		t.Fatal(err)
	}
	var sent []HeldID
	for _, e := range out.Events {
		if hs, ok := e.(HeldSent); ok {
			sent = append(sent, hs.ID)
		}
	}
	if len(sent) != 2 || sent[0] != h1.ID || sent[1] != h2.ID {
		t.Fatalf("HeldSent %v", sent)
	}
	exchange(t, akeAt, a, b, out.Wire)
	if len(b.msgs) != 2 || b.msgs[0].Text != "first" || b.msgs[1].Text != "second" || !b.msgs[1].Encrypted {
		t.Fatalf("bob got %+v", b.msgs)
	}
	if _, ok := a.c.HeldKeptBack(); ok {
		t.Fatal("still kept back after the release")
	}
	if got := send(t, akeAt, a, b, "third"); len(got.Messages) != 1 || got.Messages[0].Text != "third" {
		t.Fatalf("after the release a message goes at once: %+v", got)
	}
}

// Kept-back messages expire HoldTimeout after they were kept back; a
// refreshed session with the same refused key tells nothing new and
// releases nothing; End forgets the refusal, and the next session is asked
// again.
func TestHeldKeptBackExpiresAndIsAskedAgain(t *testing.T) {
	a, b := newPair(t, PolicyAlways, PolicyOpportunistic)
	a.c.cfg.HoldTimeout = 30 * time.Second
	asked := 0
	a.c.cfg.HeldMayGoTo = func(Fingerprint) bool { asked++; return false }
	o, _ := a.c.Send(t0, "kept")
	h, _ := hasEvent[HeldMessage](o.Events)
	exchange(t, t0, a, b, o.Wire)
	out := a.c.Tick(t0.Add(30 * time.Second))
	if e, ok := hasEvent[HeldExpired](out.Events); !ok || e.ID != h.ID || len(out.Wire) != 0 {
		t.Fatalf("Tick: %+v", out)
	}
	// Still kept back: a new message waits for the user's decision.
	o, _ = a.c.Send(t0.Add(31*time.Second), "later")
	if _, ok := hasEvent[HeldMessage](o.Events); !ok || len(o.Wire) != 0 {
		t.Fatalf("sent after the kept messages expired: %+v", o)
	}
	// A refresh with the same key: asked again, refused, no new event.
	a.events = nil
	o, err := b.c.Start(t0.Add(32 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, t0.Add(32*time.Second), b, a, o.Wire)
	if _, ok := hasEvent[HeldKeptBack](a.events); ok || asked != 2 {
		t.Fatalf("refresh: events %+v, asked %d", a.events, asked)
	}
	for _, m := range b.msgs {
		if strings.Contains(m.Text, "later") {
			t.Fatal("released by a refresh")
		}
	}
	if _, err := a.c.End(t0.Add(33 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.c.HeldKeptBack(); ok {
		t.Fatal("End keeps the refusal")
	}
}
