package otr_test

// Records wire transcripts of live sessions between our engine and libotr
// 4.1.1 into otr/testdata/*.transcript for replay_test.go, like crypto/tls
// re-records its OpenSSL transcripts with -update:
//
//	go test ./otr -run TestReplayTranscripts -update-transcripts
//
// Our side runs with a fixed seed and clock, so replaying libotr's recorded
// lines reproduces our outputs exactly. Re-record after a deliberate change
// of the engine's wire output (e.g. the order in which it draws randomness).

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

var updateTranscripts = flag.Bool("update-transcripts", false, "re-record otr/testdata/*.transcript against libotr before replaying them")

var recordings = []struct {
	name, about string
	cfg         func(*ourConfig)
	lib         otrtest.Options
	run         func(t *testing.T, l *link)
}{
	{
		name:  "v3-ake-messages",
		about: "libotr's default (multi-line HTML) query, v3 AKE, messages both ways with UTF-8 and speaker changes, libotr ends the session",
		lib:   otrtest.Options{InstanceTag: 0x1b07a11c},
		run: func(t *testing.T, l *link) {
			establish(t, l, libQuery, 3)
			ourSend(t, l, "hello from otrbridge")
			libSend(t, l, "hello from libotr")
			ourSend(t, l, "grüße ✓ 🙂")
			ourSend(t, l, "two in a row")
			libSend(t, l, "日本語 ✓")
			l.us.advance(5 * time.Second)
			libSend(t, l, "later")
			l.libDo(l.lib.End())
			l.us.call("send " + hexs("refused in FINISHED"))
		},
	},
	{
		name:  "v3-whitespace-ours",
		about: "our whitespace-tagged plaintext starts a v3 AKE at libotr; we end the session",
		lib:   otrtest.Options{InstanceTag: 0x1b07a11c},
		run: func(t *testing.T, l *link) {
			establish(t, l, ourWhitespace, 3)
			ourSend(t, l, "after the tag")
			libSend(t, l, "answer")
			l.do("end")
		},
	},
	{
		name:  "v2-ake-messages",
		about: "libotr restricted to v2: our query, v2 AKE, messages both ways",
		lib:   otrtest.Options{Policy: otrtest.PolicyAllowV2 | otrtest.PolicyWhitespaceStart | otrtest.PolicyErrorStart},
		run: func(t *testing.T, l *link) {
			establish(t, l, ourQuery, 2)
			ourSend(t, l, "v2 from otrbridge")
			libSend(t, l, "v2 from libotr ✓")
			ourSend(t, l, "again")
		},
	},
	{
		name:  "smp",
		about: "SMP with a question from libotr, SMP with a secret from us, a failing SMP and an abort",
		lib:   otrtest.Options{InstanceTag: 0x1b07a11c},
		run: func(t *testing.T, l *link) {
			establish(t, l, ourQuery, 3)
			l.libDo(l.lib.SMPQuestion("Where did we meet?", "Zürich"))
			l.do("answer " + hexs("Zürich"))
			l.do("smp " + hexs("") + " " + hexs("shared secret"))
			l.libDo(l.lib.SMPAnswer("shared secret"))
			l.do("smp " + hexs("") + " " + hexs("right"))
			l.libDo(l.lib.SMPAnswer("wrong"))
			l.libDo(l.lib.SMP("abort me"))
			l.do("abort")
			ourSend(t, l, "after smp")
		},
	},
	{
		name:  "fragments",
		about: "3,000-character and 20 KB messages fragmented at 400 bytes in both directions, then the extra symmetric key",
		lib:   otrtest.Options{InstanceTag: 0x1b07a11c},
		run: func(t *testing.T, l *link) {
			establish(t, l, ourQuery, 3)
			long := strings.Repeat("0123456789 ünï ", 200)[:3000]
			big := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 450)
			ourSend(t, l, long)
			libSend(t, l, long)
			ourSend(t, l, big)
			libSend(t, l, big)
			l.do("symkey 1 " + hexs("file"))
		},
	},
	{
		name:  "two-instances",
		about: "two libotr clients of one account (instance tags 1b07a11c, 2b07b0b2) both go private with us; replies follow the instance that spoke last",
		lib:   otrtest.Options{InstanceTag: 0x1b07a11c},
		run: func(t *testing.T, l *link) {
			b := otrtest.StartLibotr(t, otrtest.Options{InstanceTag: 0x2b07b0b2})
			runTwoInstances(t, l.us, l.lib, b)
		},
	},
	{
		name:  "heartbeat",
		about: "we send a heartbeat after 61 s of silence on receiving",
		lib:   otrtest.Options{InstanceTag: 0x1b07a11c},
		run: func(t *testing.T, l *link) {
			establish(t, l, ourQuery, 3)
			ourSend(t, l, "first")
			l.us.advance(61 * time.Second)
			libSend(t, l, "after a minute")
			ourSend(t, l, "after the heartbeat")
		},
	},
}

// recordTranscripts runs every recording live and writes its transcript.
func recordTranscripts(t *testing.T) {
	for _, r := range recordings {
		t.Run("record "+r.name, func(t *testing.T) {
			cfg := defaultOurConfig()
			cfg.Seed = "transcript " + r.name
			if r.cfg != nil {
				r.cfg(&cfg)
			}
			l := newLink(t, cfg, r.lib)
			r.run(t, l)
			if t.Failed() {
				return
			}
			// Check the recording replays before storing it.
			replay(t, cfg, l.us.log[1:])
			head := "# otrbridge OTR transcript: " + r.about + "\n" +
				"# Recorded live against libotr 4.1.1 (testpeers/libotr/otrpeer.c) by\n" +
				"# interop_record_test.go; replayed by replay_test.go. Format: see replay_test.go.\n"
			data := head + strings.Join(l.us.log, "\n") + "\n"
			if err := os.WriteFile(otrtest.Testdata(r.name+".transcript"), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}
