package bridge

import (
	"sync"

	"golang.org/x/time/rate"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// channelHub knows every channel room of the bridge and, per network, which
// nick each login's own connection has: a channel member with such a nick
// is that bridged user, shown as their own Matrix user and never as a
// ghost. Both come from what the server reports to our own connections.
type channelHub struct {
	ic *IRCConnector

	mu    sync.Mutex
	rooms map[networkid.PortalID]*channelRoom
	// own maps network → casemapped nick → the login whose connection has
	// that nick now.
	own map[string]map[string]*IRCClient
	// budgets are the per-network ghost budgets (ChannelsConfig).
	budgets map[string]*rate.Limiter
	invites inviteLimiter
	joins   channelReservations
	keys    channelKeys
	// queueRemote hands a room's event to bridgev2 as the login from
	// (tests record the events instead).
	queueRemote func(from *IRCClient, evt bridgev2.RemoteEvent) bridgev2.EventHandlingResult
}

func newChannelHub(ic *IRCConnector) *channelHub {
	return &channelHub{
		ic:      ic,
		rooms:   make(map[networkid.PortalID]*channelRoom),
		own:     make(map[string]map[string]*IRCClient),
		budgets: make(map[string]*rate.Limiter),
		queueRemote: func(from *IRCClient, evt bridgev2.RemoteEvent) bridgev2.EventHandlingResult {
			return from.login.QueueRemoteEvent(evt)
		},
	}
}

// room returns the room of a channel, creating its in-memory state.
func (h *channelHub) room(network, folded string) *channelRoom {
	key := channelPortalKey(network, folded)
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[key.ID]
	if r == nil {
		r = newChannelRoom(h, key, network, folded)
		h.rooms[key.ID] = r
	}
	return r
}

// existingRoom returns the room of a channel if any login is or was in it
// since the start.
func (h *channelHub) existingRoom(network, folded string) *channelRoom {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rooms[channelPortalKey(network, folded).ID]
}

// roomsOf returns the rooms c is a member of.
func (h *channelHub) roomsOf(c *IRCClient) []*channelRoom {
	h.mu.Lock()
	all := make([]*channelRoom, 0, len(h.rooms))
	for _, r := range h.rooms {
		if r.network == c.meta.Network {
			all = append(all, r)
		}
	}
	h.mu.Unlock()
	var out []*channelRoom
	for _, r := range all {
		if r.isMember(c) {
			out = append(out, r)
		}
	}
	return out
}

// setOwnNick records the nick c's connection has now ("" when it has none:
// disconnected). The old entry goes only if it is still c's.
func (h *channelHub) setOwnNick(c *IRCClient, folded string) {
	network := c.meta.Network
	h.mu.Lock()
	defer h.mu.Unlock()
	nicks := h.own[network]
	if nicks == nil {
		nicks = make(map[string]*IRCClient)
		h.own[network] = nicks
	}
	for k, owner := range nicks {
		if owner == c && k != folded {
			delete(nicks, k)
		}
	}
	if folded != "" {
		nicks[folded] = c
	}
}

// bridgedNick returns the login whose connection has the casemapped nick
// on network, or nil.
func (h *channelHub) bridgedNick(network, folded string) *IRCClient {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.own[network][folded]
}

// budget is the ghost budget of a network.
func (h *channelHub) budget(network string) *rate.Limiter {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.budgets[network]
	if l == nil {
		cc := h.ic.Config.Channels
		l = rate.NewLimiter(rate.Limit(cc.GhostsPerSecond), cc.GhostBurst)
		h.budgets[network] = l
	}
	return l
}
