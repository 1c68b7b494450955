package bridge

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// channelRoom is the bridge's side of one channel room: which logins are
// in the channel, which of them reports the channel's state (the
// observer), the dedup of the lines they all receive, and the queue of
// work for the room.
//
// The IRC reader goroutines only look at this in-memory state and enqueue;
// one worker per room does everything that touches the database or the
// homeserver, in order. When the queue is full the reader does not wait:
// the item is counted and the room is told and resynchronised once the
// worker catches up.
type channelRoom struct {
	hub     *channelHub
	key     networkid.PortalKey
	network string
	folded  string
	log     zerolog.Logger

	mu sync.Mutex
	// name is the channel as the server spells it.
	name    string
	members map[networkid.UserLoginID]*roomMember
	// observer reports the channel's state: the member with the lowest
	// login ID whose connection is in the channel now.
	observer *IRCClient
	dedup    *lineDedup
	queue    chan roomItem
	// dropped counts items the full queue refused since the worker last
	// looked.
	dropped int
	working bool

	// st is owned by the worker goroutine.
	st roomState
}

// roomMember is a login in the channel. inChannel is true while its
// connection is in the channel (from our JOIN and the member list to a
// PART, KICK or disconnect); a member whose connection is down stays a
// member and rejoins after the reconnect.
type roomMember struct {
	c         *IRCClient
	inChannel bool
}

type roomItem struct {
	from *IRCClient
	what string // for the log, never text
	run  func(ctx context.Context)
}

// roomQueueSize bounds the work waiting for one room.
const roomQueueSize = 1024

// roomIdle is how long a worker without work waits before it ends.
const roomIdle = time.Minute

func newChannelRoom(h *channelHub, key networkid.PortalKey, network, folded string) *channelRoom {
	return &channelRoom{
		hub:     h,
		key:     key,
		network: network,
		folded:  folded,
		name:    folded,
		log:     h.ic.Bridge.Log.With().Str("component", "channel").Str("portal_id", string(key.ID)).Logger(),
		members: make(map[networkid.UserLoginID]*roomMember),
		dedup:   newLineDedup(),
		queue:   make(chan roomItem, roomQueueSize),
		st:      newRoomState(),
	}
}

// channelName returns the channel as the server spells it.
func (r *channelRoom) channelName() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.name
}

func (r *channelRoom) isMember(c *IRCClient) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members[c.login.ID] != nil
}

// inChannel reports whether c's connection is in the channel now.
func (r *channelRoom) inChannel(c *IRCClient) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[c.login.ID]
	return m != nil && m.inChannel
}

func (r *channelRoom) isObserver(c *IRCClient) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.observer == c
}

// memberClients returns the member logins, in login ID order.
func (r *channelRoom) memberClients() []*IRCClient {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*IRCClient, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, m.c)
	}
	slices.SortFunc(out, func(a, b *IRCClient) int { return strings.Compare(string(a.login.ID), string(b.login.ID)) })
	return out
}

// setMember records that c is (inChannel) or is not (!inChannel, but still
// a member) in the channel now, and returns the observer if it changed.
func (r *channelRoom) setMember(c *IRCClient, name string, inChannel bool) (newObserver *IRCClient, changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name != "" {
		r.name = name
	}
	m := r.members[c.login.ID]
	if m == nil {
		m = &roomMember{c: c}
		r.members[c.login.ID] = m
	}
	if m.inChannel != inChannel {
		// Its copies of lines start again from nothing.
		r.dedup.forget(c.login.ID)
	}
	m.inChannel = inChannel
	return r.electLocked()
}

// removeMember forgets c (it parted or was kicked) and returns the observer
// if it changed.
func (r *channelRoom) removeMember(c *IRCClient) (newObserver *IRCClient, changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.members, c.login.ID)
	r.dedup.forget(c.login.ID)
	return r.electLocked()
}

func (r *channelRoom) electLocked() (*IRCClient, bool) {
	var best *IRCClient
	for _, m := range r.members {
		if m.inChannel && (best == nil || m.c.login.ID < best.login.ID) {
			best = m.c
		}
	}
	if best == r.observer {
		return best, false
	}
	r.observer = best
	return best, true
}

// fresh reports whether a line c's connection received is the first copy.
func (r *channelRoom) fresh(c *IRCClient, msgID, sender string, kind ircconn.Kind, text string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dedup.fresh(c.login.ID, msgID, sender, kind.String(), text, time.Now())
}

// bridgedMembers maps the casemapped nick of each member whose connection
// is in the channel to its Matrix user: the nicks whose mention highlights
// someone here.
func (r *channelRoom) bridgedMembers() map[string]id.UserID {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]id.UserID, len(r.members))
	for _, m := range r.members {
		if m.inChannel {
			out[m.c.fold(m.c.ownNick())] = m.c.login.UserMXID
		}
	}
	return out
}

// enqueue hands work to the room's worker without waiting.
func (r *channelRoom) enqueue(from *IRCClient, what string, run func(ctx context.Context)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.working {
		r.working = true
		go r.work()
	}
	select {
	case r.queue <- roomItem{from: from, what: what, run: run}:
	default:
		r.dropped++
	}
}

func (r *channelRoom) work() {
	ctx := r.log.WithContext(r.hub.ic.Bridge.BackgroundCtx)
	idle := time.NewTimer(roomIdle)
	defer idle.Stop()
	for {
		select {
		case it := <-r.queue:
			r.runItem(ctx, it)
			r.caughtUp(ctx)
		case <-r.st.fillC():
			r.safely(ctx, "fill members", func() { r.fillMembers(ctx) })
		case <-idle.C:
			r.mu.Lock()
			if len(r.queue) == 0 && r.dropped == 0 && !r.st.hasPending() {
				r.working = false
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
		case <-ctx.Done():
			return
		}
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(roomIdle)
	}
}

func (r *channelRoom) runItem(ctx context.Context, it roomItem) {
	if it.from != nil {
		ctx = it.from.log.WithContext(ctx)
	}
	r.safely(ctx, it.what, func() {
		r.ensureLoaded(ctx)
		it.run(ctx)
	})
}

// safely runs one piece of work; a panic is logged (its type and stack,
// never its value, which may hold message text) and the worker goes on.
func (r *channelRoom) safely(ctx context.Context, what string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			zerolog.Ctx(ctx).Error().Str("work", what).Str("panic_type", fmt.Sprintf("%T", p)).
				Bytes("stack", debug.Stack()).Msg("Channel room work panicked")
		}
	}()
	f()
}

// caughtUp tells the room about lines the full queue refused, once the
// queue has room again, and resynchronises its members.
func (r *channelRoom) caughtUp(ctx context.Context) {
	r.mu.Lock()
	n := r.dropped
	if n == 0 || len(r.queue) > roomQueueSize/2 {
		r.mu.Unlock()
		return
	}
	r.dropped = 0
	obs := r.observer
	r.mu.Unlock()
	zerolog.Ctx(ctx).Warn().Int("items", n).Msg("Channel room queue overflowed")
	r.notice(ctx, obs, fmt.Sprintf("The bridge fell behind: %d events from IRC (messages, joins, parts) were not bridged to this room.", n))
	if obs != nil {
		r.safely(ctx, "resync", func() { r.resync(ctx, obs) })
	}
}

// queueRemote hands a remote event to bridgev2 as login from. It may wait
// for the portal's own queue (this is the worker, never the IRC reader).
func (r *channelRoom) queueRemote(from *IRCClient, evt bridgev2.RemoteEvent) {
	res := r.hub.queueRemote(from, evt)
	if !res.Success && res.Error != nil {
		r.log.Err(res.Error).Msg("Failed to queue a channel event")
	}
}
