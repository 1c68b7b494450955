package otr_test

// Interop with python-potr 1.0.2 (OTR v2 only; the library of weechat-otr)
// through testpeers/potr/potrpeer.py. Skips without python3-potr, fails
// under OTRBRIDGE_REQUIRE_PEERS=1.

import (
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

func newPotrLink(t *testing.T) *link {
	t.Helper()
	return &link{t: t, us: newOurs(t, defaultOurConfig()), lib: otrtest.StartPotr(t, otrtest.Options{Account: "potr"})}
}

func TestPotrAKE(t *testing.T) {
	t.Parallel() // python is slow; each test has its own peer
	for _, how := range []string{ourQuery, libQuery, ourWhitespace, libWhitespace} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			l := newPotrLink(t)
			x := establishPotr(t, l, how)
			if gs, _ := ourEvent[otr.GoneSecure](x); gs.Version != 2 {
				t.Fatalf("version %d with potr", gs.Version)
			}
			ourSend(t, l, "hello potr")
			libSend(t, l, "hello otrbridge ✓")
			ourSend(t, l, "grüße")
			ourSend(t, l, "twice")
			libSend(t, l, "日本語")
		})
	}
}

// establishPotr is establish for a v2-only peer without instance tags.
func establishPotr(t *testing.T, l *link, how string) exchange {
	t.Helper()
	var x exchange
	switch how {
	case ourQuery:
		x = l.do("start")
	case libQuery:
		x = l.libDo(l.lib.Query())
	case ourWhitespace:
		x = l.do("send " + hexs(plaintextHello))
	case libWhitespace:
		x = l.libDo(l.lib.Send(plaintextHello))
		if len(x.us.Messages) == 0 || x.us.Messages[0].Text != plaintextHello {
			t.Fatalf("tagged plaintext from potr not delivered stripped:\n%s", x)
		}
	}
	gs, ok := ourEvent[otr.GoneSecure](x)
	if !ok || !x.lib.Has("gone_secure", "") {
		t.Fatalf("no AKE with potr:\n%s", x)
	}
	info := l.lib.Info()
	ours := l.us.conv.Info()
	if info.State != "encrypted" || info.TheirFP != hexFP(loadKey(t, l.us.cfg.KeyFile).Public().Fingerprint()) ||
		hexFP(gs.Fingerprint) != l.lib.Fingerprint || info.SSID != hexs(string(ours.SSID[:])) {
		t.Fatalf("potr %+v, ours %+v (event %+v)", info, ours, gs)
	}
	return x
}

func TestPotrFragments(t *testing.T) {
	t.Parallel() // python is slow; each test has its own peer
	l := newPotrLink(t)
	establishPotr(t, l, ourQuery)
	long := strings.Repeat("0123456789 ünï ", 200)[:3000]
	ourSend(t, l, long)
	// potr writes unpadded fragment headers ("?OTR,1,9,...,").
	x := libSend(t, l, long)
	if len(x.fromLib) < 2 || !strings.HasPrefix(x.fromLib[0], "?OTR,1,") {
		t.Fatalf("potr did not fragment as expected: %.40q", x.fromLib)
	}
}

func TestPotrSMP(t *testing.T) {
	t.Parallel() // python is slow; each test has its own peer
	t.Run("we ask", func(t *testing.T) {
		l := newPotrLink(t)
		establishPotr(t, l, ourQuery)
		x := l.do("smp " + hexs("") + " " + hexs("sesame"))
		if !x.lib.Has("smp", "ASK_FOR_SECRET") {
			t.Fatalf("potr not asked:\n%s", x)
		}
		x = l.libDo(l.lib.SMPAnswer("sesame"))
		if _, ok := ourEvent[otr.SMPSucceeded](x); !ok || !x.lib.Has("smp", "SUCCESS") {
			t.Fatalf("SMP with potr did not succeed:\n%s", x)
		}
	})
	t.Run("potr asks with question", func(t *testing.T) {
		l := newPotrLink(t)
		establishPotr(t, l, ourQuery)
		x := l.libDo(l.lib.SMPQuestion("pet?", "cat"))
		if a, ok := ourEvent[otr.SMPAsked](x); !ok || a.Question != "pet?" {
			t.Fatalf("not asked (%+v):\n%s", a, x)
		}
		x = l.do("answer " + hexs("cat"))
		if _, ok := ourEvent[otr.SMPSucceeded](x); !ok || !x.lib.Has("smp", "SUCCESS") {
			t.Fatalf("SMP with potr did not succeed:\n%s", x)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		l := newPotrLink(t)
		establishPotr(t, l, ourQuery)
		l.do("smp " + hexs("") + " " + hexs("right"))
		x := l.libDo(l.lib.SMPAnswer("wrong"))
		// potr as responder aborts instead of sending SMP4.
		_, failed := ourEvent[otr.SMPFailed](x)
		_, aborted := ourEvent[otr.SMPAborted](x)
		if _, ok := ourEvent[otr.SMPSucceeded](x); ok || !failed && !aborted {
			t.Fatalf("wrong secret not reported as failed or aborted:\n%s", x)
		}
		ourSend(t, l, "still private")
	})
}

func TestPotrDisconnect(t *testing.T) {
	t.Parallel() // python is slow; each test has its own peer
	l := newPotrLink(t)
	establishPotr(t, l, ourQuery)
	x := l.libDo(l.lib.End())
	if _, ok := ourEvent[otr.PeerEnded](x); !ok {
		t.Fatalf("potr's disconnect not seen:\n%s", x)
	}
	out, err := l.us.call("send " + hexs("must not leak"))
	if err == nil || len(out.Wire) != 0 {
		t.Fatalf("send after potr ended: %v %q", err, out.Wire)
	}
}

// TestPotrRandomWalk: the random walk of the libotr tests (messages,
// refreshes, silence, end and restart; no SMP, which is slow in python)
// against potr.
func TestPotrRandomWalk(t *testing.T) {
	t.Parallel()
	randomWalk(t, newPotrLink(t), 7, 25, 2, false)
}
