package otr_test

// SMP between libotr 4.1.1 and us.

import (
	"testing"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// smpCase runs one SMP between the two ends.
func TestLibotrSMP(t *testing.T) {
	type result int
	const (
		success result = iota
		failure
		aborted
	)
	for _, tc := range []struct {
		name          string
		weStart       bool
		question      string
		secret, reply string
		abort         string // "" or "us"/"libotr": who aborts instead of answering
		want          result
	}{
		{"we ask, secret", true, "", "correct horse", "correct horse", "", success},
		{"libotr asks, secret", false, "", "correct horse", "correct horse", "", success},
		{"we ask, question", true, "Where did we meet?", "Zürich", "Zürich", "", success},
		{"libotr asks, question", false, "Where did we meet?", "Zürich", "Zürich", "", success},
		{"we ask, wrong secret", true, "", "right", "wrong", "", failure},
		{"libotr asks, wrong secret", false, "", "right", "wrong", "", failure},
		{"we ask, libotr aborts", true, "q?", "s", "", "libotr", aborted},
		{"libotr asks, we abort", false, "q?", "s", "", "us", aborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLink(t, defaultOurConfig(), otrtest.Options{})
			establish(t, l, ourQuery, 3)
			var x exchange
			if tc.weStart {
				x = l.do("smp " + hexs(tc.question) + " " + hexs(tc.secret))
				ask, ok := x.lib.Event("smp", "ASK_FOR_SECRET")
				if tc.question != "" {
					ask, ok = x.lib.Event("smp", "ASK_FOR_ANSWER")
					if ask.Args["question"] != hexs(tc.question) {
						t.Errorf("libotr got question %q", ask.Args["question"])
					}
				}
				if !ok {
					t.Fatalf("libotr was not asked:\n%s", x)
				}
				if tc.abort == "libotr" {
					x = l.libDo(l.lib.SMPAbort())
				} else {
					x = l.libDo(l.lib.SMPAnswer(tc.reply))
				}
			} else {
				if tc.question != "" {
					x = l.libDo(l.lib.SMPQuestion(tc.question, tc.secret))
				} else {
					x = l.libDo(l.lib.SMP(tc.secret))
				}
				asked, ok := ourEvent[otr.SMPAsked](x)
				if !ok || asked.HasQuestion != (tc.question != "") || asked.Question != tc.question {
					t.Fatalf("we were not asked properly (%+v):\n%s", asked, x)
				}
				if tc.abort == "us" {
					x = l.do("abort")
				} else {
					x = l.do("answer " + hexs(tc.reply))
				}
			}
			for _, e := range x.errs {
				t.Errorf("our side: %v", e)
			}
			_, weOK := ourEvent[otr.SMPSucceeded](x)
			_, weFail := ourEvent[otr.SMPFailed](x)
			_, weAbort := ourEvent[otr.SMPAborted](x)
			switch tc.want {
			case success:
				if !weOK || !x.lib.Has("smp", "SUCCESS") {
					t.Fatalf("SMP did not succeed on both sides:\n%s", x)
				}
				ok, _ := ourEvent[otr.SMPSucceeded](x)
				// libotr's rule: the initiator trusts, the responder only
				// when no question was asked.
				wantTrust := tc.weStart || tc.question == ""
				if ok.SetTrust != wantTrust {
					t.Errorf("SetTrust = %v, want %v", ok.SetTrust, wantTrust)
				}
				libTrusts := l.lib.Info().Trust == "smp"
				if libTrusts != (!tc.weStart || tc.question == "") {
					t.Errorf("libotr trust %q after SMP", l.lib.Info().Trust)
				}
			case failure:
				if !weFail || !x.lib.Has("smp", "FAILURE") {
					t.Fatalf("SMP did not fail on both sides:\n%s", x)
				}
			case aborted:
				if tc.abort == "libotr" && !weAbort {
					t.Fatalf("we did not see libotr's abort:\n%s", x)
				}
				if tc.abort == "us" && !x.lib.Has("smp", "ABORT") {
					t.Fatalf("libotr did not see our abort:\n%s", x)
				}
			}
			// SMP must not disturb the conversation, and a second SMP works.
			ourSend(t, l, "after smp")
			libSend(t, l, "after smp too")
			x = l.do("smp " + hexs("") + " " + hexs("again"))
			x = l.libDo(l.lib.SMPAnswer("again"))
			if _, ok := ourEvent[otr.SMPSucceeded](x); !ok || !x.lib.Has("smp", "SUCCESS") {
				t.Fatalf("second SMP failed:\n%s", x)
			}
		})
	}
}

// TestLibotrSMPCollision: both sides start SMP at the same time. Whatever
// each side decides, both must end idle and a following SMP must work.
func TestLibotrSMPCollision(t *testing.T) {
	l := newLink(t, defaultOurConfig(), otrtest.Options{})
	establish(t, l, ourQuery, 3)
	ours, err := l.us.call("smp " + hexs("") + " " + hexs("same"))
	if err != nil {
		t.Fatal(err)
	}
	theirs := l.lib.SMP("same")
	var x exchange
	x.addOurs(ours, nil)
	l.pump(&x, ours.Wire, theirs.Wire())
	t.Logf("after the collision:\n%s", x)
	// Settle: whoever is still waiting gets an abort.
	if l.us.conv.Info().SMP != otr.SMPIdle {
		l.do("abort")
	}
	l.libDo(l.lib.SMPAbort())
	ourSend(t, l, "between the SMPs")
	x = l.do("smp " + hexs("") + " " + hexs("again"))
	x = l.libDo(l.lib.SMPAnswer("again"))
	if _, ok := ourEvent[otr.SMPSucceeded](x); !ok || !x.lib.Has("smp", "SUCCESS") {
		t.Fatalf("SMP after a collision failed:\n%s", x)
	}
}

// TestLibotrSMPUnusualQuestion: a UTF-8 question with a line break and an
// empty secret.
func TestLibotrSMPUnusualQuestion(t *testing.T) {
	l := newLink(t, defaultOurConfig(), otrtest.Options{})
	establish(t, l, ourQuery, 3)
	q := "Wo haben wir uns\ngetroffen? 🙂"
	x := l.libDo(l.lib.SMPQuestion(q, ""))
	if a, ok := ourEvent[otr.SMPAsked](x); !ok || a.Question != q {
		t.Fatalf("question arrived as %q:\n%s", a.Question, x)
	}
	x = l.do("answer " + hexs(""))
	if _, ok := ourEvent[otr.SMPSucceeded](x); !ok || !x.lib.Has("smp", "SUCCESS") {
		t.Fatalf("empty secrets did not match:\n%s", x)
	}
	x = l.do("smp " + hexs(q) + " " + hexs("ß"))
	ask, ok := x.lib.Event("smp", "ASK_FOR_ANSWER")
	if !ok || ask.Args["question"] != hexs(q) {
		t.Fatalf("libotr got question %q:\n%s", ask.Args["question"], x)
	}
	x = l.libDo(l.lib.SMPAnswer("ß"))
	if _, ok := ourEvent[otr.SMPSucceeded](x); !ok {
		t.Fatalf("SMP with UTF-8 secret failed:\n%s", x)
	}
}
