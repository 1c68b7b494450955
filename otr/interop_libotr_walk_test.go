package otr_test

// Seeded random walks through a conversation with libotr (and potr).

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// TestLibotrRandomWalk drives a conversation through a random sequence of
// everything users do — messages of random length and script from either
// side, refreshes, SMP with right and wrong secrets, a minute of silence,
// simultaneous refreshes, ending and restarting — checking after every
// step that both sides agree and every message arrives once, encrypted.
// The walk is seeded, so a failure names the seed and step to reproduce.
//
// OTRBRIDGE_WALK_SEEDS=n walks n seeds instead of 2 (for longer hunts).
func TestLibotrRandomWalk(t *testing.T) {
	seeds := uint64(2)
	if n, err := strconv.ParseUint(os.Getenv("OTRBRIDGE_WALK_SEEDS"), 10, 32); err == nil && n > 0 {
		seeds = n
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			cfg := defaultOurConfig()
			cfg.Seed = fmt.Sprintf("walk %d", seed)
			// even seeds talk v2 (libotr restricted to it)
			version, opts := 3, otrtest.Options{}
			if seed%2 == 0 {
				version, opts.Policy = 2, otrtest.PolicyAllowV2|otrtest.PolicyWhitespaceStart|otrtest.PolicyErrorStart
			}
			l := newLink(t, cfg, opts)
			randomWalk(t, l, seed, 50, version, true)
		})
	}
}

// randomWalk runs steps random user actions on an unestablished link.
// withHeavy adds SMP and simultaneous refreshes.
func randomWalk(t *testing.T, l *link, seed uint64, steps, version int, withHeavy bool) {
	rng := rand.New(rand.NewPCG(seed, 0x6f7472))
	establish(t, l, ourQuery, version)
	alphabet := []string{"a", "b", " ", "é", "ß", "日", "🙂", "?", "\t", "0"}
	text := func() string {
		var b strings.Builder
		for n := 1 + rng.IntN(1500); b.Len() < n; {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for step := range steps {
		k := rng.IntN(100)
		if !withHeavy && k >= 82 && k < 92 {
			k = 0
		}
		switch {
		case k < 35:
			ourSend(t, l, text())
		case k < 70:
			libSend(t, l, text())
		case k < 76:
			l.us.advance(61 * time.Second)
			libSend(t, l, text())
		case k < 82:
			var x exchange
			if rng.IntN(2) == 0 {
				x = l.do("start")
			} else {
				x = l.libDo(l.lib.QueryBare())
			}
			checkSecure(t, l, x, version)
		case k < 88:
			secret, answer := "same", "same"
			if rng.IntN(3) == 0 {
				answer = "other"
			}
			var x exchange
			if rng.IntN(2) == 0 {
				l.do("smp " + hexs("") + " " + hexs(secret))
				x = l.libDo(l.lib.SMPAnswer(answer))
			} else {
				l.libDo(l.lib.SMP(secret))
				x = l.do("answer " + hexs(answer))
			}
			_, ok := ourEvent[otr.SMPSucceeded](x)
			if ok != (secret == answer) || x.lib.Has("smp", "SUCCESS") != (secret == answer) {
				t.Fatalf("step %d: SMP (match %v): ours %v\n%s", step, secret == answer, ok, x)
			}
		case k < 92:
			// both refresh at the same moment: a commit collision
			ours, err := l.us.call("start")
			if err != nil {
				t.Fatalf("step %d: start: %v", step, err)
			}
			theirs := l.lib.QueryBare()
			var x exchange
			x.addOurs(ours, nil)
			x.lib.Lines = append(x.lib.Lines, theirs.Lines...)
			l.pump(&x, ours.Wire, theirs.Wire())
			checkSecure(t, l, x, version)
		default:
			// one side ends; the other is FINISHED; both return to
			// plaintext and start again
			if rng.IntN(2) == 0 {
				l.libDo(l.lib.End())
				if st := l.us.conv.Info().State; st != otr.Finished {
					t.Fatalf("step %d: after the peer's end we are %v", step, st)
				}
				l.do("end")
			} else {
				l.do("end")
				if st := l.lib.Info().State; st != "finished" {
					t.Fatalf("step %d: after our end the peer is %s", step, st)
				}
				l.lib.End()
			}
			establish(t, l, []string{ourQuery, libQueryBare}[rng.IntN(2)], version)
		}
		if t.Failed() {
			t.Fatalf("failed at step %d", step)
		}
	}
}
