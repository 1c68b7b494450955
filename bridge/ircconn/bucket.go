package ircconn

import "time"

// bucket is the token bucket that paces outgoing lines. Lines the protocol
// cannot delay (PONG, registration, CTCP replies) take a token even when none
// is left, driving the bucket into debt, so that the server's own flood
// accounting (which counts every line) is never exceeded by the lines that
// follow.
type bucket struct {
	burst, rate float64
	tokens      float64
	last        time.Time
}

func newBucket(f FloodConfig, now time.Time) *bucket {
	return &bucket{burst: float64(f.Burst), rate: f.Rate, tokens: float64(f.Burst), last: now}
}

func (b *bucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
}

// take takes a token if one is available and returns 0, or returns how long
// to wait until one will be.
func (b *bucket) take(now time.Time) time.Duration {
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	d := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return d
}

// force takes a token, going into debt if needed. The debt is capped so a
// storm of forced lines cannot stall messages for longer than 2×burst/rate.
func (b *bucket) force(now time.Time) {
	b.refill(now)
	b.tokens--
	if b.tokens < -b.burst {
		b.tokens = -b.burst
	}
}
