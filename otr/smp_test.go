package otr

import (
	"errors"
	"testing"
)

func TestSMPOwnPeers(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	o, err := a.c.StartSMP(t0, "colour?", []byte("blue"))
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, t0, a, b, o.Wire)
	if asked, ok := hasEvent[SMPAsked](b.events); !ok || asked.Question != "colour?" {
		t.Fatal("bob not asked")
	}
	o, err = b.c.AnswerSMP(t0, []byte("blue"))
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, t0, b, a, o.Wire)
	sa, okA := hasEvent[SMPSucceeded](a.events)
	sb, okB := hasEvent[SMPSucceeded](b.events)
	if !okA || !okB || !sa.SetTrust || sb.SetTrust {
		t.Fatalf("results %+v %+v", sa, sb)
	}
	if _, err := b.c.AnswerSMP(t0, []byte("x")); !errors.Is(err, ErrNoSMPRequest) {
		t.Fatal(err)
	}
	// Abort midway.
	o, _ = a.c.StartSMP(t0, "", []byte("x"))
	exchange(t, t0, a, b, o.Wire)
	o, _ = b.c.AbortSMP(t0)
	exchange(t, t0, b, a, o.Wire)
	if _, ok := hasEvent[SMPAborted](a.events); !ok || a.c.Info().SMP != SMPIdle || b.c.Info().SMP != SMPIdle {
		t.Fatal("abort not seen")
	}
}

func TestSMPRestartWhileInProgress(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	o, _ := a.c.StartSMP(t0, "", []byte("one"))
	exchange(t, t0, a, b, o.Wire) // bob waits for his secret
	o, err := a.c.StartSMP(t0, "again?", []byte("two"))
	if err != nil || len(o.Wire) != 2 {
		t.Fatalf("%d lines, %v", len(o.Wire), err)
	}
	b.events = nil
	exchange(t, t0, a, b, o.Wire)
	if asked, ok := hasEvent[SMPAsked](b.events); !ok || asked.Question != "again?" {
		t.Fatalf("bob events %#v", b.events)
	}
	o, _ = b.c.AnswerSMP(t0, []byte("two"))
	exchange(t, t0, b, a, o.Wire)
	if _, ok := hasEvent[SMPSucceeded](a.events); !ok {
		t.Fatal("restarted SMP did not succeed")
	}
}
