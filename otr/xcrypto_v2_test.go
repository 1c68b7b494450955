package otr

import (
	//lint:ignore SA1019 x/crypto/otr, the interop peer, takes its OTR identity (a DSA key, as the protocol mandates) as a crypto/dsa key.
	"crypto/dsa"
	"testing"

	xotr "golang.org/x/crypto/otr"
)

// These tests run OTR v2 against golang.org/x/crypto/otr, an independent
// implementation, as an in-process peer. It speaks v2 only.

// xPeer wraps an x/crypto conversation and what it received.
type xPeer struct {
	c       *xotr.Conversation
	msgs    []string
	changes []xotr.SecurityChange
}

func newXPeer(t *testing.T, keyHex string, seed byte) *xPeer {
	k := testKey(t, keyHex)
	var xk xotr.PrivateKey
	xk.PrivateKey = dsa.PrivateKey{
		PublicKey: dsa.PublicKey{Parameters: dsa.Parameters{P: k.pub.p, Q: k.pub.q, G: k.pub.g}, Y: k.pub.y},
		X:         k.x,
	}
	xk.PublicKey.PublicKey = xk.PrivateKey.PublicKey
	return &xPeer{c: &xotr.Conversation{PrivateKey: &xk, Rand: detRand(seed)}}
}

// xRun shuttles messages between our conversation and x/crypto's until
// neither has anything left to send. toX are lines for x/crypto, toUs for us.
func xRun(t *testing.T, us *peer, x *xPeer, toX, toUs []string) {
	t.Helper()
	for i := 0; len(toX) > 0 || len(toUs) > 0; i++ {
		if i > 30 {
			t.Fatal("no convergence")
		}
		var nextX, nextUs []string
		for _, l := range toX {
			out, enc, change, send, err := x.c.Receive([]byte(l))
			if err != nil {
				t.Fatalf("x/crypto receive: %v", err)
			}
			if len(out) > 0 && enc {
				x.msgs = append(x.msgs, string(out))
			}
			if change != xotr.NoChange {
				x.changes = append(x.changes, change)
			}
			for _, s := range send {
				nextUs = append(nextUs, string(s))
			}
		}
		for _, l := range toUs {
			o, err := us.c.Receive(t0, l)
			if err != nil {
				t.Fatalf("our receive: %v", err)
			}
			us.record(o)
			nextX = append(nextX, o.Wire...)
		}
		toX, toUs = nextX, nextUs
	}
}

func xEstablished(t *testing.T, us *peer, x *xPeer) {
	t.Helper()
	gs, ok := hasEvent[GoneSecure](us.events)
	if !ok || !x.c.IsEncrypted() || us.c.Info().State != Encrypted {
		t.Fatalf("AKE failed: ours %v, x/crypto encrypted %v", us.c.Info().State, x.c.IsEncrypted())
	}
	if gs.Version != 2 || gs.SSID != x.c.SSID {
		t.Fatalf("GoneSecure %+v, x/crypto SSID %x", gs, x.c.SSID)
	}
	want := testKey(t, testKeyBob).Public().Fingerprint()
	if gs.Fingerprint != want {
		t.Fatalf("we see fingerprint %v, want %v", gs.Fingerprint, want)
	}
	if got := x.c.TheirPublicKey.Fingerprint(); string(got) != string(testKey(t, testKeyAlice).Public().Fingerprint().bytes()) {
		t.Fatalf("x/crypto sees fingerprint %x", got)
	}
}

func (f Fingerprint) bytes() []byte { return f[:] }

func xMessages(t *testing.T, us *peer, x *xPeer) {
	t.Helper()
	for i, text := range []string{"hello x", "hello us", "ünïcødé", "second from x", "third from x", "back to x"} {
		fromUs := i == 0 || i == 2 || i == 5
		if fromUs {
			o, err := us.c.Send(t0, text)
			if err != nil {
				t.Fatal(err)
			}
			n := len(x.msgs)
			xRun(t, us, x, o.Wire, nil)
			if len(x.msgs) != n+1 || x.msgs[n] != text {
				t.Fatalf("x/crypto got %q, want %q", x.msgs[n:], text)
			}
			continue
		}
		send, err := x.c.Send([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, s := range send {
			lines = append(lines, string(s))
		}
		n := len(us.msgs)
		xRun(t, us, x, nil, lines)
		if len(us.msgs) != n+1 || us.msgs[n].Text != text || !us.msgs[n].Encrypted {
			t.Fatalf("we got %+v, want %q", us.msgs[n:], text)
		}
	}
}

func TestXCryptoV2WeStart(t *testing.T) {
	us := newPeer(t, "alice", testKeyAlice, 0x1000, PolicyManual, 1)
	x := newXPeer(t, testKeyBob, 2)
	o, err := us.c.Start(t0)
	if err != nil {
		t.Fatal(err)
	}
	xRun(t, us, x, o.Wire, nil)
	xEstablished(t, us, x)
	xMessages(t, us, x)
}

func TestXCryptoV2TheyStart(t *testing.T) {
	us := newPeer(t, "alice", testKeyAlice, 0x1000, PolicyManual, 1)
	x := newXPeer(t, testKeyBob, 2)
	xRun(t, us, x, nil, []string{xotr.QueryMessage})
	xEstablished(t, us, x)
	xMessages(t, us, x)
}

func TestXCryptoV2Fragments(t *testing.T) {
	us := newPeer(t, "alice", testKeyAlice, 0x1000, PolicyManual, 1)
	us.c.cfg.FragmentSize = 120
	x := newXPeer(t, testKeyBob, 2)
	x.c.FragmentSize = 100
	o, _ := us.c.Start(t0)
	xRun(t, us, x, o.Wire, nil)
	xEstablished(t, us, x)
	xMessages(t, us, x)
}

func TestXCryptoV2SMP(t *testing.T) {
	for _, tc := range []struct {
		name      string
		weAsk     bool
		question  string
		ours, his string
		ok        bool
	}{
		{"we ask", true, "", "s3cret", "s3cret", true},
		{"we ask wrong", true, "", "s3cret", "other", false},
		{"they ask with question", false, "pet?", "rex", "rex", true},
		{"they ask wrong", false, "", "rex", "fido", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			us := newPeer(t, "alice", testKeyAlice, 0x1000, PolicyManual, 1)
			x := newXPeer(t, testKeyBob, 2)
			o, _ := us.c.Start(t0)
			xRun(t, us, x, o.Wire, nil)
			xEstablished(t, us, x)
			if tc.weAsk {
				o, err := us.c.StartSMP(t0, tc.question, []byte(tc.ours))
				if err != nil {
					t.Fatal(err)
				}
				// x/crypto asks for the secret on SMP1.
				var toUs []string
				for _, l := range o.Wire {
					_, _, change, send, err := x.c.Receive([]byte(l))
					if err != nil || change != xotr.SMPSecretNeeded {
						t.Fatalf("x/crypto: %v %v", change, err)
					}
					for _, s := range send {
						toUs = append(toUs, string(s))
					}
				}
				send, err := x.c.Authenticate("", []byte(tc.his))
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range send {
					toUs = append(toUs, string(s))
				}
				xRun(t, us, x, nil, toUs)
			} else {
				send, err := x.c.Authenticate(tc.question, []byte(tc.his))
				if err != nil {
					t.Fatal(err)
				}
				var lines []string
				for _, s := range send {
					lines = append(lines, string(s))
				}
				xRun(t, us, x, nil, lines)
				asked, ok := hasEvent[SMPAsked](us.events)
				if !ok || asked.Question != tc.question || asked.HasQuestion != (tc.question != "") {
					t.Fatalf("SMPAsked = %+v, %v", asked, ok)
				}
				if us.c.Info().SMP != SMPWaitingForSecret {
					t.Fatal("SMP state not waiting")
				}
				o, err := us.c.AnswerSMP(t0, []byte(tc.ours))
				if err != nil {
					t.Fatal(err)
				}
				xRun(t, us, x, o.Wire, nil)
			}
			succ, okS := hasEvent[SMPSucceeded](us.events)
			_, okF := hasEvent[SMPFailed](us.events)
			if okS != tc.ok || okF == tc.ok {
				t.Fatalf("success %v failure %v, want success %v; events %#v", okS, okF, tc.ok, us.events)
			}
			if tc.ok && succ.SetTrust != (tc.weAsk || tc.question == "") {
				t.Fatalf("SetTrust = %v", succ.SetTrust)
			}
			wantX := xotr.SMPComplete
			if !tc.ok {
				wantX = xotr.SMPFailed
			}
			if x.changes[len(x.changes)-1] != wantX {
				t.Fatalf("x/crypto result %v, want %v", x.changes[len(x.changes)-1], wantX)
			}
		})
	}
}

func TestXCryptoV2Disconnect(t *testing.T) {
	us := newPeer(t, "alice", testKeyAlice, 0x1000, PolicyManual, 1)
	x := newXPeer(t, testKeyBob, 2)
	o, _ := us.c.Start(t0)
	xRun(t, us, x, o.Wire, nil)
	xEstablished(t, us, x)
	var lines []string
	for _, s := range x.c.End() {
		lines = append(lines, string(s))
	}
	xRun(t, us, x, nil, lines)
	if _, ok := hasEvent[PeerEnded](us.events); !ok || us.c.Info().State != Finished {
		t.Fatalf("state %v after x/crypto ended", us.c.Info().State)
	}
	if o, err := us.c.Send(t0, "must not leak"); err != ErrFinished || len(o.Wire) != 0 {
		t.Fatalf("Send in FINISHED: %v %v", o.Wire, err)
	}
	// We end too: back to plaintext, and x/crypto was told nothing new.
	if _, err := us.c.End(t0); err != nil || us.c.Info().State != Plaintext {
		t.Fatal(err)
	}
}
