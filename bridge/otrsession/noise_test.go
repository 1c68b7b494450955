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
