package otrsession

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/otrbridge/otrbridge/otr"
)

// The info log names events and public data only: the peer's error text
// and SMP question never reach it.
func TestLogEventKeepsTextsOut(t *testing.T) {
	var buf bytes.Buffer
	p := &peer{m: &Manager{log: zerolog.New(&buf)}, key: "local.bob"}
	for _, ev := range []otr.Event{
		otr.ErrorReceived{Text: "peer error zq1"},
		otr.SMPAsked{Question: "first pet zq2?", HasQuestion: true},
		otr.Malformed{Reason: "bad fragment"},
		otr.HeldSent{}, // per message: not logged
	} {
		p.logEvent(ev)
	}
	got := buf.String()
	for _, secret := range []string{"zq1", "zq2"} {
		if strings.Contains(got, secret) {
			t.Errorf("the log carries %q:\n%s", secret, got)
		}
	}
	for _, want := range []string{`"otr_event":"error_received"`, `"otr_event":"smp_asked","question":true`, `"reason":"bad fragment"`, `"peer":"local.bob"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 3 {
		t.Errorf("%d log lines, want 3 (HeldSent is not logged):\n%s", n, got)
	}
}
