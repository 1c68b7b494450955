package bridge

import (
	"context"
	"fmt"
	"sync"

	"maunium.net/go/mautrix/event"
)

// The control-room notices of a login go out in order from a goroutine
// that runs while some are waiting: most come from the IRC event loop,
// which never waits for the homeserver. At most maxControlNotices wait;
// beyond that they are counted, and once the queue drained one notice
// says how many were not shown.

// maxControlNotices bounds the control-room notices waiting for the
// homeserver (a few KiB each at most).
const maxControlNotices = 256

// controlNotices is the login's queue of control-room notices.
type controlNotices struct {
	mu      sync.Mutex
	queue   []string
	running bool
	dropped int
}

// managementNotice posts a notice into the user's control room, after the
// ones queued before it, without waiting for it.
func (c *IRCClient) managementNotice(_ context.Context, text string) {
	q := &c.control
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) >= maxControlNotices {
		if q.dropped == 0 {
			c.log.Warn().Msg("The homeserver does not keep up with control-room notices: dropping them until the queue drains")
		}
		q.dropped++
		return
	}
	q.queue = append(q.queue, text)
	if !q.running {
		q.running = true
		go c.runControlNotices()
	}
}

func (c *IRCClient) runControlNotices() {
	ctx := c.log.WithContext(c.ic.Bridge.BackgroundCtx)
	q := &c.control
	for {
		q.mu.Lock()
		if len(q.queue) == 0 && q.dropped > 0 {
			q.queue = append(q.queue, fmt.Sprintf("⚠️ %d notices for this room were NOT shown: they came faster than the homeserver accepted them.", q.dropped))
			q.dropped = 0
		}
		if len(q.queue) == 0 {
			q.queue = nil
			q.running = false
			q.mu.Unlock()
			return
		}
		text := q.queue[0]
		q.queue = q.queue[1:]
		q.mu.Unlock()
		c.sendManagementNotice(ctx, text)
	}
}

// sendManagementNotice posts a notice into the user's control room now.
func (c *IRCClient) sendManagementNotice(ctx context.Context, text string) {
	room, err := c.login.User.GetManagementRoom(ctx)
	if err != nil {
		c.log.Err(err).Msg("Failed to get management room")
		return
	}
	_, err = c.ic.Bridge.Bot.SendMessage(ctx, room, event.EventMessage, &event.Content{
		Parsed: &event.MessageEventContent{MsgType: event.MsgNotice, Body: text},
	}, nil)
	if err != nil {
		c.log.Err(err).Msg("Failed to send notice to management room")
	}
}
