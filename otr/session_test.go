package otr

import (
	"errors"
	"testing"
	"time"
)

func TestHeartbeat(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	later := t0.Add(61 * time.Second)
	o, _ := a.c.Send(later, "ping")
	r, err := b.c.Receive(later, o.Wire[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := hasEvent[HeartbeatSent](r.Events); !ok || len(r.Wire) != 1 {
		t.Fatalf("no heartbeat: %+v", r)
	}
	hb, err := a.c.Receive(later, r.Wire[0])
	if err != nil || len(hb.Messages) != 0 || len(hb.Wire) != 0 {
		t.Fatalf("heartbeat shown or answered: %+v %v", hb, err)
	}
	// Right after sending, no heartbeat.
	o, _ = a.c.Send(later, "pong?")
	if r, _ := b.c.Receive(later, o.Wire[0]); len(r.Wire) != 0 {
		t.Fatal("heartbeat although we just sent")
	}
}

func TestExtraSymmetricKey(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	send(t, t0, b, a, "rotate once")
	key, o, err := a.c.ExtraSymmetricKey(t0, 7, []byte("file.txt"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.c.Receive(t0, o.Wire[0])
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := hasEvent[ExtraSymmetricKeyReceived](r.Events)
	if !ok || ev.Key != key || ev.Use != 7 || string(ev.UseData) != "file.txt" || len(r.Messages) != 0 {
		t.Fatalf("%+v", r)
	}
	if _, _, err := newPeer(t, "x", testKeyAlice, 0x1000, PolicyManual, 5).c.ExtraSymmetricKey(t0, 1, nil); !errors.Is(err, ErrNotPrivate) {
		t.Fatal(err)
	}
}

func TestResendAfterErrorAKE(t *testing.T) {
	a, b := newPair(t, PolicyOpportunistic, PolicyOpportunistic)
	establish(t, a, b)
	b2 := newPeer(t, "bob", testKeyBob, 0x2000, PolicyOpportunistic, 7) // bob restarted
	o, _ := a.c.Send(t0, "lost message")
	r, err := b2.c.Receive(t0, o.Wire[0])
	if !errors.Is(err, ErrUnreadable) || len(r.Wire) != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	exchange(t, t0.Add(time.Second), b2, a, r.Wire)
	if _, ok := hasEvent[MessageResent](a.events); !ok {
		t.Fatal("no MessageResent")
	}
	if len(b2.msgs) != 1 || b2.msgs[0].Text != "[resent] lost message" || !b2.msgs[0].Encrypted {
		t.Fatalf("bob got %+v", b2.msgs)
	}

	// A different key on the other end: nothing is resent.
	a, b = newPair(t, PolicyOpportunistic, PolicyOpportunistic)
	establish(t, a, b)
	mallory := newPeer(t, "mallory", testKeyAlice, 0x2000, PolicyOpportunistic, 8)
	o, _ = a.c.Send(t0, "for bob only")
	r, _ = mallory.c.Receive(t0, o.Wire[0])
	exchange(t, t0, mallory, a, r.Wire)
	if _, ok := hasEvent[MessageResent](a.events); ok || len(mallory.msgs) != 0 {
		t.Fatalf("resent to another key: %+v", mallory.msgs)
	}
}
