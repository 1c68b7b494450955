package bridge

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
)

// NOTICEs from network services (NickServ telling the user they are
// identified, ChanServ, ...) are shown in the control room. That is also
// where the bot asks for passwords, so a notice must never pass for the
// bridge's own words: only the nicks on the configured services list
// (Config.IsService) count as services, every notice is labelled as IRC
// text from that nick, and a login shows at most serviceNoticeBurst of
// them at once, then one per serviceNoticeEvery; the others are counted
// in one notice. A NOTICE from anyone else is a message from a peer, like
// a PRIVMSG.

const (
	serviceNoticeBurst = 5
	serviceNoticeEvery = 10 * time.Second
	// serviceNoticeMax bounds the text shown of one notice.
	serviceNoticeMax = 400
)

// serviceNotices is the service notice limit of one login. The clock is
// the real one (tests use testing/synctest).
type serviceNotices struct {
	limit   *rate.Limiter
	network string
	// show puts a text in the control room; it is called on the IRC
	// event goroutine and on a timer's, and must not wait.
	show func(text string)

	mu     sync.Mutex
	hidden int
	flush  *time.Timer
}

func newServiceNotices(network string, show func(text string)) *serviceNotices {
	return &serviceNotices{limit: rate.NewLimiter(rate.Every(serviceNoticeEvery), serviceNoticeBurst), network: network, show: show}
}

// serviceNotice shows a NOTICE from a configured service in the control
// room, labelled, within the limit.
func (c *IRCClient) serviceNotice(e ircconn.Message) {
	c.services.offer(e.From.Nick, e.Text)
}

// offer shows a service's notice if the limit allows, else counts it for
// the next summary (at most one per serviceNoticeEvery).
func (s *serviceNotices) offer(nick, text string) {
	if !s.limit.Allow() {
		s.mu.Lock()
		s.hidden++
		if s.flush == nil {
			s.flush = time.AfterFunc(serviceNoticeEvery, s.flushHidden)
		}
		s.mu.Unlock()
		return
	}
	s.show(serviceNoticeText(nick, s.network, text))
}

// flushHidden tells how many service notices were not shown.
func (s *serviceNotices) flushHidden() {
	s.mu.Lock()
	n := s.hidden
	s.hidden, s.flush = 0, nil
	s.mu.Unlock()
	if n > 0 {
		s.show(fmt.Sprintf("[IRC] %d more notices from services on %s were not shown (at most %d at once, then one every %s).",
			n, s.network, serviceNoticeBurst, serviceNoticeEvery))
	}
}

// stop cancels a pending count (the login is going away).
func (s *serviceNotices) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flush != nil {
		s.flush.Stop()
		s.flush = nil
	}
}

// serviceNoticeText labels a service's notice as IRC text: the bridge
// never writes "[IRC notice from ...]" itself.
func serviceNoticeText(nick, network, text string) string {
	return fmt.Sprintf("[IRC notice from %s on %s] %s", nick, network, shorten(ircfmt.Strip(text), serviceNoticeMax))
}
