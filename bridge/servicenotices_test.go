package bridge

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A flood of service notices: serviceNoticeBurst are shown at once, then
// one per serviceNoticeEvery; the others are counted in one notice per
// interval, which says how many were not shown.
func TestServiceNoticeLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got summaries
		s := newServiceNotices("Libera", got.add)
		defer s.stop()
		for i := range 50 {
			s.offer("NickServ", fmt.Sprintf("notice %d", i))
		}
		shown := got.all()
		if len(shown) != serviceNoticeBurst {
			t.Fatalf("%d notices shown at once, want %d: %q", len(shown), serviceNoticeBurst, shown)
		}
		for i, text := range shown {
			if want := fmt.Sprintf("[IRC notice from NickServ on Libera] notice %d", i); text != want {
				t.Errorf("notice %d: %q, want %q", i, text, want)
			}
		}
		time.Sleep(serviceNoticeEvery + time.Second)
		synctest.Wait()
		shown = got.all()
		if len(shown) != serviceNoticeBurst+1 ||
			shown[serviceNoticeBurst] != "[IRC] 45 more notices from services on Libera were not shown (at most 5 at once, then one every 10s)." {
			t.Fatalf("after the flood: %q", shown[serviceNoticeBurst:])
		}
		// The bucket refilled by one: the next notice is shown, the one
		// after it counted again.
		s.offer("ChanServ", "one more")
		s.offer("ChanServ", "and another")
		shown = got.all()
		if len(shown) != serviceNoticeBurst+2 || shown[serviceNoticeBurst+1] != "[IRC notice from ChanServ on Libera] one more" {
			t.Fatalf("after one interval: %q", shown[serviceNoticeBurst+1:])
		}
		time.Sleep(serviceNoticeEvery + time.Second)
		synctest.Wait()
		shown = got.all()
		if len(shown) != serviceNoticeBurst+3 || !strings.HasPrefix(shown[serviceNoticeBurst+2], "[IRC] 1 more notices") {
			t.Fatalf("second count: %q", shown[serviceNoticeBurst+2:])
		}
		// Quiet for a while: a full burst again, nothing counted.
		time.Sleep(serviceNoticeBurst * serviceNoticeEvery)
		for i := range serviceNoticeBurst {
			s.offer("NickServ", fmt.Sprintf("later %d", i))
		}
		time.Sleep(2 * serviceNoticeEvery)
		synctest.Wait()
		if n := len(got.all()); n != 2*serviceNoticeBurst+3 {
			t.Fatalf("%d notices after a quiet burst, want %d: %q", n, 2*serviceNoticeBurst+3, got.all()[serviceNoticeBurst+3:])
		}
		// A long notice is shortened.
		time.Sleep(serviceNoticeEvery)
		s.offer("NickServ", strings.Repeat("x", 2*serviceNoticeMax))
		if last := got.all()[len(got.all())-1]; len(last) > serviceNoticeMax+len("[IRC notice from NickServ on Libera] ")+8 {
			t.Errorf("a long notice was shown at %d bytes", len(last))
		}
	})
}
