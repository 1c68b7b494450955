package fragment

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// cutEvery cuts line into lines of max bytes, as an IRC client cuts a
// text without spaces that is too long for one PRIVMSG.
func cutEvery(line string, max int) []string {
	var out []string
	for len(line) > max {
		out = append(out, line[:max])
		line = line[max:]
	}
	return append(out, line)
}

func TestRawSplitJoined(t *testing.T) {
	now := time.Now()
	msg := encoded(1200)
	r := NewReassembler(Limits{})
	lines := []string{msg[:450], msg[450:900], msg[900:]}
	got, err := feed(t, r, now, lines)
	if err != nil || got != msg {
		t.Fatalf("raw split message not joined: %v", err)
	}
	// The "." alone on the last line.
	lines = []string{msg[:len(msg)-1], "."}
	r = NewReassembler(Limits{})
	if msg2, done, _ := r.Add(now, lines[0]); done || msg2 != "" {
		t.Fatal("start of split message delivered")
	}
	if msg2, done, err := r.Add(now, lines[1]); !done || err != nil || msg2 != msg || r.Pending() != 0 {
		t.Errorf("split before the final dot: done %v, %v, %d pending", done, err, r.Pending())
	}
	// A lone "." with nothing buffered is just text.
	if msg2, done, _ := r.Add(now, "."); !done || msg2 != "." {
		t.Errorf("lone dot: %q %v", msg2, done)
	}
}

func TestRawSplitExpires(t *testing.T) {
	t0 := time.Unix(1000, 0)
	msg := encoded(1000)
	r := NewReassembler(Limits{})
	r.Add(t0, msg[:500])
	// The stale start is gone; the tail alone is a plain line.
	if got, done, err := r.Add(t0.Add(31*time.Second), msg[500:]); !done || err != nil || got != msg[500:] {
		t.Errorf("continuation after 31 s: %v %v, joined %v", done, err, got == msg)
	}
	if r.Pending() != 0 {
		t.Errorf("%d pending", r.Pending())
	}
}

func TestRawSplitInterrupted(t *testing.T) {
	now := time.Now()
	msg := encoded(1000)
	r := NewReassembler(Limits{})
	r.Add(now, msg[:500])
	got, done, err := r.Add(now, "hello, world")
	if err != nil || !done || got != "hello, world" || r.Pending() != 0 {
		t.Errorf("plain line after a raw start: %q %v %v, %d pending", got, done, err, r.Pending())
	}
}

func TestRawSplitCap(t *testing.T) {
	now := time.Now()
	r := NewReassembler(Limits{MaxBytes: 1000})
	r.Add(now, "?OTR:AAM"+strings.Repeat("A", 600))
	if _, _, err := r.Add(now, strings.Repeat("B", 600)); !errors.Is(err, ErrLimit) {
		t.Errorf("%v, want ErrLimit", err)
	}
	if r.Pending() != 0 {
		t.Errorf("oversized raw message kept")
	}
}

func TestCutFragmentJoined(t *testing.T) {
	now := time.Now()
	msg := encoded(700)
	for _, c := range []struct {
		name  string
		frags []string
		max   int
	}{
		// potr's unpadded v2 header, as weechat-otr sends it: a 403-byte
		// line cut at 387 (the room WeeChat leaves after the longest
		// nick!user@host prefix and "PRIVMSG nick :").
		{"v2", []string{"?OTR,1,2," + msg[:394] + ",", "?OTR,2,2," + msg[394:] + ","}, 387},
		{"v3", mustSplit(t, msg, 400, 3), 380},
		// Cut just before the closing comma: the rest is "," alone.
		{"comma alone", []string{"?OTR,1,2," + msg[:394] + ",", "?OTR,2,2," + msg[394:] + ","}, 403},
		// Cut inside the "?OTR:" that starts the first piece.
		{"inside ?OTR:", []string{"?OTR,1,2," + msg[:394] + ",", "?OTR,2,2," + msg[394:] + ","}, len("?OTR,1,2,?OT")},
	} {
		r := NewReassembler(Limits{OwnInstance: 0x200})
		var lines []string
		for _, f := range c.frags {
			lines = append(lines, cutEvery(f, c.max)...)
		}
		if len(lines) <= len(c.frags) {
			t.Fatalf("%s: nothing was cut", c.name)
		}
		got, err := feed(t, r, now, lines)
		if err != nil || got != msg {
			t.Errorf("%s: cut fragments not joined: %v", c.name, err)
		}
		if r.Pending() != 0 || r.total != 0 || r.TakeDropped() != 0 {
			t.Errorf("%s: left %d pending, %d bytes", c.name, r.Pending(), r.total)
		}
	}
}

func mustSplit(t *testing.T, msg string, max, version int) []string {
	t.Helper()
	frags, err := Split(msg, max, version, 0x100, 0x200)
	if err != nil {
		t.Fatal(err)
	}
	return frags
}

// A tail that does not follow is never shown as text later, and a line
// that does not continue the cut one stands on its own.
func TestCutFragmentNotContinued(t *testing.T) {
	now := time.Now()
	msg := encoded(700)
	line := "?OTR,1,2," + msg[:394] + ","
	for _, next := range []string{"hello, world", "?OTR,1,2,abc,", "?OTRv23?", "no comma", "AAAA,BBBB,"} {
		r := NewReassembler(Limits{})
		if got, done, err := r.Add(now, line[:300]); done || err != nil || got != "" {
			t.Fatalf("cut start: %q %v %v", got, done, err)
		}
		got, done, err := r.Add(now, next)
		if next == "?OTR,1,2,abc," {
			if done || err != nil || r.Pending() != 1 {
				t.Errorf("new fragment after a cut start: %q %v %v, %d pending", got, done, err, r.Pending())
			}
		} else if !done || err != nil || got != next {
			t.Errorf("%q after a cut start: %q %v %v", next, got, done, err)
		}
		if n := r.TakeDropped(); n != 1 {
			t.Errorf("%q: %d dropped, want the cut start", next, n)
		}
	}
}

func TestCutFragmentExpires(t *testing.T) {
	t0 := time.Unix(1000, 0)
	line := "?OTR,1,1," + encoded(500) + ","
	r := NewReassembler(Limits{})
	r.Add(t0, line[:300])
	// The rest comes too late: it is not glued to the stale start, and
	// as a line of its own it is plain text (the peer's client would
	// show it the same way).
	if got, done, err := r.Add(t0.Add(31*time.Second), line[300:]); !done || err != nil || got != line[300:] {
		t.Errorf("rest after 31 s: %q %v %v", got, done, err)
	}
	if r.Pending() != 0 || r.total != 0 || r.TakeDropped() != 1 {
		t.Errorf("stale start kept: %d pending, %d bytes", r.Pending(), r.total)
	}
}

func TestCutFragmentCap(t *testing.T) {
	now := time.Now()
	r := NewReassembler(Limits{MaxBytes: 2000})
	r.Add(now, "?OTR,1,2,"+strings.Repeat("A", 500))
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, _, err = r.Add(now, strings.Repeat("B", 500))
	}
	if !errors.Is(err, ErrLimit) || r.Pending() != 0 || r.total != 0 {
		t.Errorf("endless cut line: %v, %d pending, %d bytes", err, r.Pending(), r.total)
	}
}
