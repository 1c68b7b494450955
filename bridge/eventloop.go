package bridge

import (
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// The IRC connection hands its events to one goroutine (handleEvent); while
// that is busy, the connection's next events wait, and a reader that waits
// long enough misses the server's PING. Nothing there may wait for the
// homeserver, so a slow event means the bridge is overloaded or a wait
// slipped in: the watch below measures every event and logs the slow ones.

// slowEventThreshold is how long handling one IRC event may take before it
// counts as holding the connection up.
const slowEventThreshold = 10 * time.Millisecond

// slowEventLogInterval spaces the log lines about slow events of one
// connection; each line carries the totals so far.
const slowEventLogInterval = 10 * time.Second

// eventLoopWatch measures the IRC event handler of one connection.
type eventLoopWatch struct {
	mu        sync.Mutex
	slow      int           // events slower than slowEventThreshold
	max       time.Duration // the slowest event
	maxEvent  string        // its type
	loggedAt  time.Time
	unlogged  bool // slow events since the last log line
	lastEvent string
	last      time.Duration
}

// observe records how long ev took and logs it if it was slow (at most one
// line per slowEventLogInterval).
func (w *eventLoopWatch) observe(log zerolog.Logger, ev ircconn.Event, took time.Duration) {
	if took < slowEventThreshold {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	kind := fmt.Sprintf("%T", ev)
	w.slow++
	w.unlogged = true
	w.lastEvent, w.last = kind, took
	if took > w.max {
		w.max, w.maxEvent = took, kind
	}
	if now := time.Now(); now.Sub(w.loggedAt) >= slowEventLogInterval {
		w.loggedAt = now
		w.logLocked(log)
	}
}

// flush logs the totals if slow events came after the last line.
func (w *eventLoopWatch) flush(log zerolog.Logger) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unlogged {
		w.logLocked(log)
	}
}

func (w *eventLoopWatch) logLocked(log zerolog.Logger) {
	w.unlogged = false
	log.Warn().
		Str("event", w.lastEvent).Float64("took_ms", ms(w.last)).
		Int("slow_events_total", w.slow).Float64("slowest_ms", ms(w.max)).Str("slowest_event", w.maxEvent).
		Msg("IRC event loop held up: handling an event took longer than 10 ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
