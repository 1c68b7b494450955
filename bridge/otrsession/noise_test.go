package otrsession

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// A peer sending a thousand malformed OTR messages and OTR errors gets one
// notice of each kind at once and one count per kind after the interval,
// not a notice per line.
func TestNoiseIsCoalesced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "manual", keys: []string{"otrbridge.key"}, log: &logs})
		l := newLink("net", "noisy")
		ctx := context.Background()
		f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: "hi"}) // the identity key is ready after this
		synctest.Wait()
		const n = 1000
		for i := range n {
			f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: fmt.Sprintf("?OTR:AAMD%dbWFsZm9ybWVk.", i)})
			f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: "?OTR Error: nope"})
		}
		synctest.Wait()
		_, delivered, notices, _ := l.snapshot()
		if len(delivered) != 1 {
			t.Fatalf("protocol noise delivered: %+v", delivered)
		}
		if len(notices) != 2 {
			t.Fatalf("%d notices during the flood, want one per kind:\n%s", len(notices), strings.Join(notices, "\n"))
		}
		time.Sleep(noiseInterval + 2*tickInterval)
		synctest.Wait()
		_, _, notices, _ = l.snapshot()
		want := []string{
			fmt.Sprintf("%d more malformed OTR messages from noisy were ignored in the last minute.", n-1),
			fmt.Sprintf("noisy's OTR client reported %d more errors in the last minute.", n-1),
		}
		if len(notices) != 4 {
			t.Fatalf("%d notices after the interval, want 4:\n%s", len(notices), strings.Join(notices, "\n"))
		}
		for _, w := range want {
			if !l.hasNotice(w) {
				t.Errorf("no summary %q in:\n%s", w, strings.Join(notices, "\n"))
			}
		}
		if c := strings.Count(logs.String(), `"otr_event":"malformed"`); c != 1 {
			t.Errorf("%d malformed events logged, want 1 (and one count)", c)
		}
		// Quiet for an interval: the next one is shown at once again.
		time.Sleep(noiseInterval)
		f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: "?OTR Error: again"})
		synctest.Wait()
		if _, _, notices, _ = l.snapshot(); len(notices) != 5 || !strings.Contains(notices[4], "again") {
			t.Errorf("after a quiet interval: %q", notices[len(notices)-1])
		}
	})
}

// Answers to what the peer sends go out as automatic replies; what the
// user asks for does not. A reply the connection drops is explained once,
// then counted.
func TestAutomaticReplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "manual", keys: []string{"otrbridge.key"}})
		l := newLink("net", "asker")
		ctx := context.Background()
		f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: "?OTRv3?"})
		synctest.Wait()
		w, _, _, _ := l.snapshot()
		if len(w) == 0 || l.replies != len(w) {
			t.Fatalf("%d lines answered the query, %d of them as automatic replies", len(w), l.replies)
		}
		if _, err := f.Init(ctx, l); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		w2, _, _, _ := l.snapshot()
		if len(w2) == len(w) || l.replies != len(w) {
			t.Fatalf("the user's init went out as an automatic reply (%d lines, %d automatic)", len(w2), l.replies)
		}
		l.mu.Lock()
		l.replyErr = fmt.Errorf("%w: over the budget", ircconn.ErrDropped)
		l.mu.Unlock()
		for range 5 {
			f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: "?OTRv3?"})
		}
		synctest.Wait()
		_, _, notices, _ := l.snapshot()
		dropped := 0
		for _, n := range notices {
			if strings.Contains(n, "automatic OTR reply to asker was not sent") {
				dropped++
			}
		}
		if dropped != 1 {
			t.Fatalf("%d notices about dropped replies, want 1:\n%s", dropped, strings.Join(notices, "\n"))
		}
		time.Sleep(noiseInterval + 2*tickInterval)
		synctest.Wait()
		if !l.hasNotice("4 more automatic OTR replies to asker were dropped in the last minute.") {
			_, _, notices, _ = l.snapshot()
			t.Errorf("no count of dropped replies:\n%s", strings.Join(notices, "\n"))
		}
	})
}
