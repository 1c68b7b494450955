package ircconn

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// These tests run in a synctest bubble: time is simulated, so pacing is
// measured exactly and a minute of backoff costs nothing.

func sendAuto(c *Conn, target string, opts SendOptions, lines ...string) chan sendResult {
	ch := make(chan sendResult, 1)
	opts.Automatic = true
	go func() {
		r, err := c.SendWith(context.Background(), target, Privmsg, lines, opts)
		ch <- sendResult{r, err}
	}()
	return ch
}

// wire reads the next n PRIVMSGs as "target text" and the time each arrived.
func wire(t *testing.T, fc *fakeConn, n int, start time.Time) ([]string, []time.Duration) {
	t.Helper()
	var got []string
	var at []time.Duration
	for len(got) < n {
		m := fc.expect(t, "PRIVMSG")
		got = append(got, m.Params[0]+" "+m.Params[1])
		at = append(at, time.Since(start))
	}
	return got, at
}

func TestPacingBurstThenRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(c *Config) { c.Flood = FloodConfig{Burst: 3, Rate: 2} })
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, time.Second, Connected)
		time.Sleep(10 * time.Second) // the bucket refills after registration
		start := time.Now()
		ch := sendAsync(c, "bob", Privmsg, "1", "2", "3", "4", "5", "6", "7")
		_, at := wire(t, fc, 7, start)
		if r := waitResult(t, ch); r.err != nil {
			t.Fatal(r.err)
		}
		// 3 at once, then one every 500ms.
		for i, want := range []time.Duration{0, 0, 0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second} {
			if d := at[i] - want; d < 0 || d > 2*time.Millisecond {
				t.Errorf("line %d at %v, want %v (all: %v)", i+1, at[i], want, at)
			}
		}
	})
}

// Lines that cannot wait (PONG) go out at once but take their token: the
// next message waits for the debt, which is capped at one burst.
func TestPacingDebtOfForcedLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(c *Config) { c.Flood = FloodConfig{Burst: 3, Rate: 2} })
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, time.Second, Connected)
		time.Sleep(10 * time.Second)
		start := time.Now()
		for range 10 {
			fc.send("PING :x")
		}
		for range 10 {
			fc.expect(t, "PONG")
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("PONGs waited %v", d)
		}
		ch := sendAsync(c, "bob", Privmsg, "after the pongs")
		_, at := wire(t, fc, 1, start)
		waitResult(t, ch)
		// 3 tokens - 10 forced = -7, capped at -3: 4 tokens at 2/s.
		if d := at[0] - 2*time.Second; d < 0 || d > 2*time.Millisecond {
			t.Errorf("message after 10 PONGs at %v, want 2s", at[0])
		}
	})
}

// The user's messages go ahead of automatic replies queued before them; a
// message that has started is finished first (its lines stay together).
func TestUserMessagesGoBeforeAutomatic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(c *Config) { c.Flood = FloodConfig{Burst: 1, Rate: 1} })
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, time.Second, Connected)
		time.Sleep(10 * time.Second)
		start := time.Now()
		a1 := sendAuto(c, "p1", SendOptions{}, "a1 part 1", "a1 part 2")
		fc.expect(t, "PRIVMSG") // a1 has started
		a2 := sendAuto(c, "p2", SendOptions{}, "a2")
		synctest.Wait()
		a3 := sendAuto(c, "p3", SendOptions{}, "a3")
		synctest.Wait()
		u := sendAsync(c, "bob", Privmsg, "user 1", "user 2")
		got, _ := wire(t, fc, 5, start)
		want := []string{"p1 a1 part 2", "bob user 1", "bob user 2", "p2 a2", "p3 a3"}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("wire order %q, want %q", got, want)
			}
		}
		for _, ch := range []chan sendResult{a1, a2, a3, u} {
			if r := waitResult(t, ch); r.err != nil {
				t.Fatal(r.err)
			}
		}
	})
}

// Automatic messages have a per-connection budget; beyond it they fail at
// once with ErrDropped while user messages go on.
func TestAutomaticBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(c *Config) { c.AutoReplies = AutoReplyConfig{Burst: 3, Rate: 0.1} })
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, time.Second, Connected)
		var queued []chan sendResult
		for i := range 3 {
			queued = append(queued, sendAuto(c, "peer", SendOptions{}, "auto "+strconv.Itoa(i)))
			synctest.Wait()
		}
		wire(t, fc, 3, time.Now())
		for _, ch := range queued {
			if r := waitResult(t, ch); r.err != nil {
				t.Fatal(r.err)
			}
		}
		if r := waitResult(t, sendAuto(c, "peer", SendOptions{}, "over budget")); !errors.Is(r.err, ErrDropped) {
			t.Fatalf("automatic message over the budget: %v, want ErrDropped", r.err)
		}
		u := sendAsync(c, "bob", Privmsg, "user message")
		if got, _ := wire(t, fc, 1, time.Now()); got[0] != "bob user message" {
			t.Fatalf("wire %q", got)
		}
		if r := waitResult(t, u); r.err != nil {
			t.Fatalf("user message: %v", r.err)
		}
		time.Sleep(10 * time.Second) // one more at 0.1/s
		a := sendAuto(c, "peer", SendOptions{}, "budget back")
		if got, _ := wire(t, fc, 1, time.Now()); got[0] != "peer budget back" {
			t.Fatalf("wire %q", got)
		}
		if r := waitResult(t, a); r.err != nil {
			t.Fatal(r.err)
		}
		fc.nothing(t, 30*time.Second) // the dropped one never went out
	})
}

// An automatic message that cannot start before its deadline is dropped and
// reported; a user message is never dropped however long it waits.
func TestStaleAutomaticDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(c *Config) {
			c.Flood = FloodConfig{Burst: 1, Rate: 1}
			c.AutoReplies.StaleAfter = 3 * time.Second
		})
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, time.Second, Connected)
		time.Sleep(10 * time.Second)
		start := time.Now()
		var long []string
		for i := range 10 {
			long = append(long, "user "+strconv.Itoa(i))
		}
		u := sendAsync(c, "bob", Privmsg, long...)
		fc.expect(t, "PRIVMSG")
		stale := sendAuto(c, "p1", SendOptions{}, "too late")
		synctest.Wait()
		patient := sendAuto(c, "p2", SendOptions{StaleAfter: time.Minute}, "may wait")
		r := waitResult(t, stale)
		if !errors.Is(r.err, ErrDropped) {
			t.Fatalf("stale automatic message: %v, want ErrDropped", r.err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("dropped after %v, want 3s", d)
		}
		got, _ := wire(t, fc, 10, start)
		if got[8] != "bob user 9" || got[9] != "p2 may wait" {
			t.Fatalf("wire %q", got)
		}
		if r := waitResult(t, u); r.err != nil {
			t.Fatalf("user message that waited 9s: %v", r.err)
		}
		if r := waitResult(t, patient); r.err != nil {
			t.Fatalf("automatic message with a longer deadline: %v", r.err)
		}
		fc.nothing(t, 30*time.Second)
	})
}

func TestPacer(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newPacer(FloodConfig{Burst: 2, Rate: 4})
	for i := range 2 {
		if !p.take(now) {
			t.Fatalf("token %d of the burst not available", i+1)
		}
	}
	if p.take(now) {
		t.Fatal("third token at once")
	}
	if d := p.delay(now); d != 250*time.Millisecond {
		t.Fatalf("wait %v, want 250ms", d)
	}
	now = now.Add(250 * time.Millisecond)
	if !p.take(now) {
		t.Fatal("token not refilled")
	}
	p.force(now)
	p.force(now)
	p.force(now) // capped at -burst
	if d := p.delay(now); d != 750*time.Millisecond {
		t.Fatalf("after debt wait %v, want 750ms", d)
	}
	now = now.Add(time.Hour)
	got := []bool{p.take(now), p.take(now), p.take(now)}
	if !got[0] || !got[1] || got[2] {
		t.Fatalf("after a long idle, tokens taken %v: want one burst (2), not more", got)
	}
}
