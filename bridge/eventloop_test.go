package bridge

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

func TestEventLoopWatchLogsSlowEvents(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	var w eventLoopWatch
	w.observe(log, ircconn.Message{}, 2*time.Millisecond)
	if buf.Len() != 0 {
		t.Fatalf("a fast event was logged: %s", buf.String())
	}
	w.observe(log, ircconn.Message{}, 30*time.Millisecond) // logged at once
	w.observe(log, ircconn.Quit{}, 80*time.Millisecond)    // within the interval: counted only
	w.observe(log, ircconn.Message{}, 12*time.Millisecond)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line within the interval, got %q", lines)
	}
	w.flush(log)
	w.flush(log) // nothing new: no line
	lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the totals flushed once, got %q", lines)
	}
	var last struct {
		Slow     int     `json:"slow_events_total"`
		Slowest  float64 `json:"slowest_ms"`
		SlowKind string  `json:"slowest_event"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Slow != 3 || last.Slowest != 80 || last.SlowKind != "ircconn.Quit" {
		t.Fatalf("totals %+v", last)
	}
}
