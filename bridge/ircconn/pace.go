package ircconn

import (
	"time"

	"golang.org/x/time/rate"
)

// pacer paces the lines of one session with a token bucket
// (golang.org/x/time/rate). Lines the protocol cannot delay (PONG,
// registration, CTCP replies, QUIT) take a token even when none is left,
// driving the bucket into debt, so that the server's own flood accounting
// (which counts every line) is never exceeded by the lines that follow.
type pacer struct {
	lim   *rate.Limiter
	burst float64
}

func newPacer(f FloodConfig) *pacer {
	return &pacer{lim: rate.NewLimiter(rate.Limit(f.Rate), f.Burst), burst: float64(f.Burst)}
}

// delay returns how long until a token is available; 0 means now.
func (p *pacer) delay(now time.Time) time.Duration {
	missing := 1 - p.lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	d := time.Duration(missing / float64(p.lim.Limit()) * float64(time.Second))
	// Float rounding could otherwise leave a sub-token short after the wait.
	return max(d, time.Millisecond)
}

// take takes a token if one is available.
func (p *pacer) take(now time.Time) bool { return p.lim.AllowN(now, 1) }

// force takes a token, going into debt if needed (a reservation whose delay
// is ignored). The debt is capped at one burst, so that a storm of forced
// lines cannot stall messages for longer than 2×burst/rate.
func (p *pacer) force(now time.Time) {
	if p.lim.TokensAt(now) > -p.burst {
		p.lim.ReserveN(now, 1)
	}
}
