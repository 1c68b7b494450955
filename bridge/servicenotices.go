package bridge

import (
	"context"
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

// serviceNotices is the service notice limit of one login.
type serviceNotices struct {
	limit *rate.Limiter

	mu     sync.Mutex
	hidden int
	flush  *time.Timer
}

func newServiceNotices() *serviceNotices {
	return &serviceNotices{limit: rate.NewLimiter(rate.Every(serviceNoticeEvery), serviceNoticeBurst)}
}

// serviceNotice shows a NOTICE from a configured service in the control
// room, labelled, within the limit.
func (c *IRCClient) serviceNotice(ctx context.Context, e ircconn.Message) {
	s := c.services
	if !s.limit.Allow() {
		s.mu.Lock()
		s.hidden++
		if s.flush == nil {
			s.flush = time.AfterFunc(serviceNoticeEvery, func() { goSafe(c.log, "service notices", func() { c.flushServiceNotices(ctx) }) })
		}
		s.mu.Unlock()
		return
	}
	c.managementNotice(ctx, serviceNoticeText(e.From.Nick, c.networkName(), e.Text))
}

// flushServiceNotices tells how many service notices were not shown.
func (c *IRCClient) flushServiceNotices(ctx context.Context) {
	s := c.services
	s.mu.Lock()
	n := s.hidden
	s.hidden, s.flush = 0, nil
	s.mu.Unlock()
	if n > 0 {
		c.managementNotice(ctx, fmt.Sprintf("[IRC] %d more notices from services on %s were not shown (at most %d at once, then one every %s).",
			n, c.networkName(), serviceNoticeBurst, serviceNoticeEvery))
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
