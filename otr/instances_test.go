package otr

import (
	"errors"
	"testing"
)

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
	raw, _ := appendDecoded(nil, commit.Wire[0])
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

// TestOwnCommitEchoed: a server echoing our D-H Commit (receiver tag 0)
// back to us must not make us answer it.
func TestOwnCommitEchoed(t *testing.T) {
	a := newPeer(t, "alice", testKeyAlice, 0x1000, PolicyManual, 1)
	o, _ := a.c.Receive(t0, "?OTRv3?")
	if len(o.Wire) != 1 {
		t.Fatal("no commit")
	}
	r, err := a.c.Receive(t0, o.Wire[0])
	if err != nil || len(r.Wire) != 0 || len(a.c.Instances()) != 0 {
		t.Fatalf("acted on our own commit: %+v %v", r, err)
	}
}

// TestOwnV2AKEEchoed: v2 has no instance tags; an echoed commit or D-H Key
// is recognised by its values.
func TestOwnV2AKEEchoed(t *testing.T) {
	a, b := newPair(t, AllowV2, AllowV2)
	q, _ := b.c.Start(t0)
	commit, _ := a.c.Receive(t0, q.Wire[0])
	if r, _ := a.c.Receive(t0, commit.Wire[0]); len(r.Wire) != 0 {
		t.Fatal("answered our own v2 commit")
	}
	key, _ := b.c.Receive(t0, commit.Wire[0])
	if r, _ := b.c.Receive(t0, key.Wire[0]); len(r.Wire) != 0 {
		t.Fatal("answered our own v2 D-H Key")
	}
	exchange(t, t0, b, a, key.Wire)
	if a.c.Info().State != Encrypted || b.c.Info().State != Encrypted {
		t.Fatal("AKE failed after echoes")
	}
}

// TestOwnV2DataEchoed: our own v2 data message handed back is dropped
// quietly, not answered with an OTR error.
func TestOwnV2DataEchoed(t *testing.T) {
	a, b := newPair(t, AllowV2, AllowV2)
	establish(t, a, b)
	for i := 0; i < 3; i++ {
		o, _ := a.c.Send(t0, "echo me")
		r, err := a.c.Receive(t0, o.Wire[0])
		if err != nil || len(r.Wire) != 0 || len(r.Messages) != 0 || len(r.Events) != 0 {
			t.Fatalf("own message: %+v %v", r, err)
		}
		if r := send(t, t0, b, a, "reply"); len(r.Messages) != 1 {
			t.Fatal("session broken")
		}
	}
}
