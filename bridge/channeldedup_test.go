package bridge

import (
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

func TestLineDedup(t *testing.T) {
	d := newLineDedup()
	now := time.Unix(1_760_000_000, 0)
	const a, b networkid.UserLoginID = "libera/@a:x", "libera/@b:x"
	fresh := func(login networkid.UserLoginID, msgID, text string) bool {
		return d.fresh(login, msgID, "carol", "privmsg", text, now)
	}
	// Two connections see the same three identical lines: three are new.
	got := 0
	for i := 0; i < 3; i++ {
		if fresh(a, "", "lol") {
			got++
		}
		now = now.Add(10 * time.Millisecond)
	}
	for i := 0; i < 3; i++ {
		if fresh(b, "", "lol") {
			got++
		}
	}
	if got != 3 {
		t.Fatalf("3 lines seen by 2 connections gave %d new, want 3", got)
	}
	// Interleaved, with b ahead of a for a moment.
	if !fresh(b, "", "hi") || fresh(a, "", "hi") || !fresh(a, "", "hi") || fresh(b, "", "hi") {
		t.Fatal("interleaved copies misjudged")
	}
	// Other sender, kind or text: another line.
	if !d.fresh(a, "", "dave", "privmsg", "lol", now) || !d.fresh(a, "", "carol", "action", "lol", now) {
		t.Fatal("a different sender or kind was taken for a copy")
	}
	// After the window the same text is a new line again.
	now = now.Add(dedupWindow + time.Second)
	if !fresh(a, "", "lol") || fresh(b, "", "lol") {
		t.Fatal("a repeat after the window misjudged")
	}
	// With msgid: the server's ID decides, whatever the text.
	if !fresh(a, "m1", "x") || fresh(b, "m1", "x") || !fresh(b, "m2", "x") || fresh(a, "m2", "x") {
		t.Fatal("msgid copies misjudged")
	}
	// A connection that reconnected counts afresh and does not repeat
	// lines the others delivered.
	d.forget(a)
	if fresh(a, "m2", "x") {
		t.Fatal("a forgotten connection's copy was taken for new")
	}
}

func TestLineDedupBounded(t *testing.T) {
	d := newLineDedup()
	now := time.Unix(1_760_000_000, 0)
	for i := 0; i < maxDedupRuns+100; i++ {
		if !d.fresh("l", string(rune(i)), "s", "privmsg", "t", now) {
			t.Fatalf("line %d taken for a copy", i)
		}
	}
	if len(d.runs) > maxDedupRuns {
		t.Fatalf("%d runs kept, cap %d", len(d.runs), maxDedupRuns)
	}
	// Past the window everything old is swept.
	now = now.Add(dedupWindow + time.Second)
	d.fresh("l", "new", "s", "privmsg", "t", now)
	if len(d.runs) != 1 {
		t.Fatalf("%d runs after the sweep, want 1", len(d.runs))
	}
}
