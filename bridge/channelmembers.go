package bridge

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/ptr"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// Members of a channel room. Bridged users are themselves: their login's
// Matrix user is invited when their connection joins and removed when it
// parts. IRC members are ghosts, added lazily: a new room starts with the
// operators and voiced members (at most ChannelsConfig.InitialMembers), the
// others wait in pending and are added in the background at the network's
// ghost rate, up to ChannelsConfig.MaxRoomMembers. Someone who speaks gets
// a ghost at once if the budget and the cap allow, else the line is posted
// by the bot and the speaker waits ahead of the silent members of its
// status. Everything here runs on the room's worker.

// roomState is the worker's view of the room.
type roomState struct {
	// loaded is set once ghosts holds the room's ghost members.
	loaded bool
	// ghosts maps the casemapped nick of each ghost in the room to its ID.
	ghosts map[string]networkid.UserID
	// pending are the members waiting for a ghost.
	pending map[string]pendingMember
	seq     int
	// fill fires when the filler should run again; nil when idle.
	fill *time.Timer
	// capNoticed: the room was told it reached max_room_members.
	capNoticed bool
	// createQueued: this worker asked bridgev2 to create the room.
	createQueued bool
}

type pendingMember struct {
	nick  string
	level int
	seq   int
	// spoke: a line of theirs was posted by the bot while they waited.
	spoke bool
}

func newRoomState() roomState {
	return roomState{ghosts: make(map[string]networkid.UserID), pending: make(map[string]pendingMember)}
}

func (st *roomState) hasPending() bool { return len(st.pending) > 0 }

// fillC is the channel the filler waits on (nil: never fires).
func (st *roomState) fillC() <-chan time.Time {
	if st.fill == nil {
		return nil
	}
	return st.fill.C
}

// scheduleFill makes the filler run after d (replacing an earlier plan).
func (st *roomState) scheduleFill(d time.Duration) {
	if st.fill != nil {
		st.fill.Stop()
	}
	st.fill = time.NewTimer(d)
}

func (st *roomState) addPending(folded, nick string, level int) {
	if _, in := st.ghosts[folded]; in {
		return
	}
	st.seq++
	p, ok := st.pending[folded]
	if !ok {
		p.seq = st.seq
	}
	p.nick, p.level = nick, level
	st.pending[folded] = p
}

// spoke moves a waiting member whose line the bot posted ahead of the
// silent members of its level. Someone not waiting (a message from outside
// the channel) is not added: only members get ghosts.
func (st *roomState) spoke(folded string) {
	if p, ok := st.pending[folded]; ok {
		p.spoke = true
		st.pending[folded] = p
	}
}

// popPending takes the waiting member with the highest level; among equals
// one who spoke, then the earliest.
func (st *roomState) popPending() (string, pendingMember, bool) {
	var bestKey string
	var best pendingMember
	found := false
	for k, p := range st.pending {
		if !found || p.before(best) {
			bestKey, best, found = k, p, true
		}
	}
	if found {
		delete(st.pending, bestKey)
	}
	return bestKey, best, found
}

func (p pendingMember) before(q pendingMember) bool {
	if p.level != q.level {
		return p.level > q.level
	}
	if p.spoke != q.spoke {
		return p.spoke
	}
	return p.seq < q.seq
}

// ensureLoaded reads the room's ghost members once (a restart keeps the
// room and its members).
func (r *channelRoom) ensureLoaded(ctx context.Context) {
	if r.st.loaded {
		return
	}
	br := r.hub.ic.Bridge
	portal, err := br.GetExistingPortalByKey(ctx, r.key)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to look up the channel portal")
		return
	}
	if portal == nil || portal.MXID == "" {
		r.st.loaded = true
		return
	}
	members, err := br.Matrix.GetMembers(ctx, portal.MXID)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to get the channel room's members")
		return
	}
	for mxid, m := range members {
		if m.Membership != event.MembershipJoin && m.Membership != event.MembershipInvite {
			continue
		}
		uid, ok := br.Matrix.ParseGhostMXID(mxid)
		if !ok {
			continue
		}
		if network, folded, ok := parseUserID(uid); ok && network == r.network {
			r.st.ghosts[folded] = uid
		}
	}
	r.st.loaded = true
}

// channelGhost is the ghost of a channel member: the ghost of the nick.
func channelGhost(network, folded string) networkid.UserID {
	return makeUserID(network, folded, 1)
}

// memberPower is the power level of a member with the status symbols
// prefixes ("@+").
func memberPower(prefixes string, is ircconn.ISupport) int {
	modes := make([]rune, 0, len(prefixes))
	for _, s := range prefixes {
		if i := indexRune(is.PrefixSymbols, s); i >= 0 && i < len(is.PrefixModes) {
			modes = append(modes, rune(is.PrefixModes[i]))
		}
	}
	return prefixPower(string(modes), is.PrefixModes)
}

func indexRune(s string, r rune) int {
	for i, c := range s {
		if c == r {
			return i
		}
	}
	return -1
}

// powerOverrides are the room's power levels for a channel: who may set the
// topic (+t), kick and ban, and the levels of the given users.
func powerOverrides(ch ircconn.Channel, levels map[id.UserID]int) *bridgev2.PowerLevelOverrides {
	topic := powerTopic
	if ch.ModesKnown {
		if _, t := ch.Modes['t']; !t {
			topic = 0
		}
	}
	return &bridgev2.PowerLevelOverrides{
		Events: map[event.Type]int{event.StateTopic: topic},
		Kick:   ptr.Ptr(powerHalfop),
		Ban:    ptr.Ptr(powerHalfop),
		Invite: ptr.Ptr(0),
		Custom: func(pl *event.PowerLevelsEventContent) bool {
			changed := false
			for user, level := range levels {
				changed = pl.EnsureUserLevel(user, level) || changed
			}
			return changed
		},
	}
}

// snapshot is the channel as c's connection sees it.
func (r *channelRoom) snapshot(c *IRCClient) (ircconn.Channel, ircconn.ISupport, bool) {
	conn := c.connection()
	if conn == nil {
		return ircconn.Channel{}, ircconn.ISupport{}, false
	}
	ch, ok := conn.Channel(r.channelName())
	return ch, conn.ISupport(), ok
}

// joinedRoom brings c's user into the room after c's connection joined
// (and got the member list), creating the room the first time.
func (r *channelRoom) joinedRoom(ctx context.Context, c *IRCClient) {
	br := r.hub.ic.Bridge
	ch, is, ok := r.snapshot(c)
	if !ok {
		return // parted or disconnected again meanwhile
	}
	portal, err := br.GetPortalByKey(ctx, r.key)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to get the channel portal")
		return
	}
	// bridgev2 marks a login in a portal once per process; after a part
	// and a new join the row must come back.
	if _, err := br.DB.UserPortal.GetOrCreate(ctx, c.login.UserLogin, r.key); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to mark the login in the channel portal")
	}
	me := bridgev2.ChatMember{EventSender: bridgev2.EventSender{IsFromMe: true, SenderLogin: c.login.ID}, Membership: event.MembershipJoin}
	levels := map[id.UserID]int{}
	if m, ok := memberOf(ch, c.fold, c.ownNick()); ok {
		levels[c.login.UserMXID] = memberPower(m.Prefixes, is)
	}
	members := bridgev2.ChatMemberMap{}
	members.Set(me)
	info := &bridgev2.ChatInfo{Members: &bridgev2.ChatMemberList{MemberMap: members, PowerLevels: powerOverrides(ch, levels)}}
	create := portal.MXID == "" && !r.st.createQueued
	if create {
		r.st.createQueued = true
		r.initialMembers(ctx, c, ch, is, info.Members, levels)
		info.Name = ptr.Ptr(ch.Name)
		info.Topic = ptr.Ptr(ch.Topic)
		info.Type = ptr.Ptr(database.RoomTypeDefault)
		info.CanBackfill = false
	}
	r.queueRemote(c, &simplevent.ChatResync{
		EventMeta: simplevent.EventMeta{
			Type:         bridgev2.RemoteEventChatResync,
			PortalKey:    r.key,
			CreatePortal: true,
			PostHandleFunc: func(ctx context.Context, portal *bridgev2.Portal) {
				if create && portal.MXID != "" {
					r.postPlaintextNotice(ctx, portal)
				}
			},
		},
		ChatInfo: info,
	})
	if r.isObserver(c) {
		r.resync(ctx, c)
	}
}

// memberOf finds nick among a channel's tracked members.
func memberOf(ch ircconn.Channel, fold func(string) string, nick string) (ircconn.Member, bool) {
	f := fold(nick)
	for _, m := range ch.Members {
		if fold(m.Nick) == f {
			return m, true
		}
	}
	return ircconn.Member{}, false
}

// initialMembers puts the first ghosts of a new room into its member list
// (highest status first, within the budget) and the rest into pending.
func (r *channelRoom) initialMembers(ctx context.Context, c *IRCClient, ch ircconn.Channel, is ircconn.ISupport, list *bridgev2.ChatMemberList, levels map[id.UserID]int) {
	for _, m := range ch.Members {
		f := c.fold(m.Nick)
		if owner := r.hub.bridgedNick(r.network, f); owner != nil {
			levels[owner.login.UserMXID] = memberPower(m.Prefixes, is)
			continue
		}
		r.st.addPending(f, m.Nick, memberPower(m.Prefixes, is))
	}
	cc := r.hub.ic.Config.Channels
	budget := r.hub.budget(r.network)
	for len(r.st.ghosts) < cc.InitialMembers && r.st.hasPending() && budget.Allow() {
		f, p, _ := r.st.popPending()
		uid := channelGhost(r.network, f)
		list.MemberMap.Set(bridgev2.ChatMember{
			EventSender: bridgev2.EventSender{Sender: uid},
			Membership:  event.MembershipJoin,
			UserInfo:    c.userInfo(p.nick),
			PowerLevel:  ptr.Ptr(p.level),
		})
		r.st.ghosts[f] = uid
	}
	if r.st.hasPending() {
		r.st.scheduleFill(0)
	}
}

// leftRoom takes c's user out of the room after c's connection left the
// channel. kicker is empty for a PART. The member event (room state, never
// encrypted) names the kicker only; the control room's notice has the
// reason.
func (r *channelRoom) leftRoom(ctx context.Context, c *IRCClient, kicker string) {
	br := r.hub.ic.Bridge
	if up, err := br.DB.UserPortal.Get(ctx, c.login.UserLogin, r.key); err == nil && up != nil {
		if err := br.DB.UserPortal.Delete(ctx, up); err != nil {
			zerolog.Ctx(ctx).Err(err).Msg("Failed to unmark the login in the channel portal")
		}
	}
	portal, err := br.GetExistingPortalByKey(ctx, r.key)
	if err != nil || portal == nil || portal.MXID == "" {
		return
	}
	member, err := br.Matrix.GetMemberInfo(ctx, portal.MXID, c.login.UserMXID)
	if err != nil || member == nil || (member.Membership != event.MembershipJoin && member.Membership != event.MembershipInvite) {
		return // the user left the room first (that is what parted the channel)
	}
	text := "You left the channel on IRC"
	if kicker != "" {
		text = fmt.Sprintf("Kicked from the channel on IRC by %s", kicker)
	}
	_, err = br.Bot.SendState(ctx, portal.MXID, event.StateMember, c.login.UserMXID.String(), &event.Content{
		Parsed: &event.MemberEventContent{Membership: event.MembershipLeave, Reason: text},
	}, time.Now())
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to remove the user from the channel room")
	}
}

// resync makes the room's ghosts and power levels match the channel as the
// observer c sees it: after c became the observer, after a rejoin, after
// the queue overflowed.
func (r *channelRoom) resync(ctx context.Context, c *IRCClient) {
	ch, is, ok := r.snapshot(c)
	if !ok {
		return
	}
	br := r.hub.ic.Bridge
	portal, err := br.GetExistingPortalByKey(ctx, r.key)
	if err != nil || portal == nil || portal.MXID == "" {
		return // the room is being created from the same list
	}
	desired := make(map[string]ircconn.Member, len(ch.Members))
	levels := map[id.UserID]int{}
	for _, m := range ch.Members {
		f := c.fold(m.Nick)
		if owner := r.hub.bridgedNick(r.network, f); owner != nil {
			levels[owner.login.UserMXID] = memberPower(m.Prefixes, is)
			continue
		}
		desired[f] = m
	}
	changes := bridgev2.ChatMemberMap{}
	for f, uid := range r.st.ghosts {
		if _, still := desired[f]; !still && !ch.Truncated {
			changes.Set(bridgev2.ChatMember{EventSender: bridgev2.EventSender{Sender: uid}, Membership: event.MembershipLeave})
			delete(r.st.ghosts, f)
		}
	}
	for f := range r.st.pending {
		if _, still := desired[f]; !still {
			delete(r.st.pending, f)
		}
	}
	for f, m := range desired {
		level := memberPower(m.Prefixes, is)
		if uid, in := r.st.ghosts[f]; in {
			levels[br.Matrix.FormatGhostMXID(uid)] = level
		} else {
			r.st.addPending(f, m.Nick, level)
		}
	}
	r.queueRemote(c, &simplevent.ChatInfoChange{
		EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventChatInfoChange, PortalKey: r.key},
		ChatInfoChange: &bridgev2.ChatInfoChange{
			ChatInfo: &bridgev2.ChatInfo{Topic: ptr.Ptr(ch.Topic)},
			MemberChanges: &bridgev2.ChatMemberList{
				MemberMap:                  changes,
				PowerLevels:                powerOverrides(ch, levels),
				ExcludeChangesFromTimeline: true,
			},
		},
	})
	if r.st.hasPending() {
		r.st.scheduleFill(0)
	}
}

// fillBatch is the most ghosts one background step adds.
const fillBatch = 50

// fillMembers adds waiting members as ghosts within the budget and the cap.
func (r *channelRoom) fillMembers(ctx context.Context) {
	r.st.fill = nil
	r.mu.Lock()
	obs := r.observer
	r.mu.Unlock()
	if obs == nil {
		// Nobody is in the channel now: the next observer's resync
		// lists the members again.
		clear(r.st.pending)
		return
	}
	if !r.st.hasPending() {
		return
	}
	ch, is, ok := r.snapshot(obs)
	if !ok {
		return
	}
	cc := r.hub.ic.Config.Channels
	budget := r.hub.budget(r.network)
	batch := bridgev2.ChatMemberMap{}
	for len(batch) < fillBatch && r.st.hasPending() {
		if len(r.st.ghosts) >= cc.MaxRoomMembers {
			if !r.st.capNoticed {
				r.st.capNoticed = true
				r.notice(ctx, obs, fmt.Sprintf("This channel has more members than this bridge shows (%d); the lines of the others are posted by the bridge with their nick in front.", cc.MaxRoomMembers))
			}
			break
		}
		if res := budget.Reserve(); res.Delay() > 0 {
			res.Cancel()
			r.st.scheduleFill(max(res.Delay(), 50*time.Millisecond))
			break
		}
		f, p, _ := r.st.popPending()
		uid := channelGhost(r.network, f)
		level := p.level
		if m, ok := memberOf(ch, obs.fold, p.nick); ok {
			level = memberPower(m.Prefixes, is)
		}
		batch.Set(bridgev2.ChatMember{
			EventSender: bridgev2.EventSender{Sender: uid},
			Membership:  event.MembershipJoin,
			UserInfo:    obs.userInfo(p.nick),
			PowerLevel:  ptr.Ptr(level),
		})
		r.st.ghosts[f] = uid
	}
	if len(batch) > 0 {
		r.queueRemote(obs, &simplevent.ChatInfoChange{
			EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventChatInfoChange, PortalKey: r.key},
			ChatInfoChange: &bridgev2.ChatInfoChange{MemberChanges: &bridgev2.ChatMemberList{
				MemberMap:                  batch,
				ExcludeChangesFromTimeline: true,
			}},
		})
	}
	if r.st.fill == nil && r.st.hasPending() && len(r.st.ghosts) < cc.MaxRoomMembers {
		r.st.scheduleFill(0)
	}
}

// speaker makes sure the sender of a line has a ghost in the room before
// the line is posted; false means the budget or the cap does not allow it
// now: the line is posted by the bot with the nick in front, and the
// speaker is the next of its status to get a ghost.
func (r *channelRoom) speaker(ctx context.Context, c *IRCClient, nick string) (networkid.UserID, bool) {
	f := c.fold(nick)
	if uid, in := r.st.ghosts[f]; in {
		return uid, true
	}
	if len(r.st.ghosts) >= r.hub.ic.Config.Channels.MaxRoomMembers || !r.hub.budget(r.network).Allow() {
		r.st.spoke(f)
		return "", false
	}
	delete(r.st.pending, f)
	uid := channelGhost(r.network, f)
	level := 0
	if ch, is, ok := r.snapshot(c); ok {
		if m, ok := memberOf(ch, c.fold, nick); ok {
			level = memberPower(m.Prefixes, is)
		}
	}
	members := bridgev2.ChatMemberMap{}
	members.Set(bridgev2.ChatMember{
		EventSender: bridgev2.EventSender{Sender: uid},
		Membership:  event.MembershipJoin,
		UserInfo:    c.userInfo(nick),
		PowerLevel:  ptr.Ptr(level),
	})
	r.queueRemote(c, &simplevent.ChatInfoChange{
		EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventChatInfoChange, PortalKey: r.key},
		ChatInfoChange: &bridgev2.ChatInfoChange{MemberChanges: &bridgev2.ChatMemberList{
			MemberMap:                  members,
			ExcludeChangesFromTimeline: true,
		}},
	})
	r.st.ghosts[f] = uid
	return uid, true
}

// memberJoined queues a member who joined for a ghost.
func (r *channelRoom) memberJoined(c *IRCClient, nick string) {
	r.st.addPending(c.fold(nick), nick, 0)
	if r.st.fill == nil {
		r.st.scheduleFill(0)
	}
}

// memberGone removes a member who parted, quit, changed nick (why: "now
// known as ...") or was kicked (kicker set, with the kick's reason) from the
// room. Membership events are room state, which Matrix never encrypts, so
// they carry no text from IRC beyond nicks: a kick's reason goes into a
// notice, encrypted where the room is. A member leaving frees room for a
// waiting one.
func (r *channelRoom) memberGone(ctx context.Context, c *IRCClient, nick, kicker, reason, why string) {
	f := c.fold(nick)
	delete(r.st.pending, f)
	uid, in := r.st.ghosts[f]
	if !in {
		return
	}
	delete(r.st.ghosts, f)
	// A PART or QUIT is the ghost leaving; a KICK is done by the kicker's
	// ghost when it is in the room (else by the bot).
	sender := bridgev2.EventSender{Sender: uid}
	if kicker != "" {
		sender = bridgev2.EventSender{}
		if kuid, ok := r.st.ghosts[c.fold(kicker)]; ok {
			sender.Sender = kuid
		}
		why = "kicked by " + kicker
		if reason != "" {
			r.notice(ctx, c, fmt.Sprintf("%s kicked %s from %s (%s).", kicker, nick, r.channelName(), reason))
		}
	}
	member := bridgev2.ChatMember{EventSender: bridgev2.EventSender{Sender: uid}, Membership: event.MembershipLeave}
	if why != "" {
		member.MemberEventExtra = map[string]any{"reason": why}
	}
	members := bridgev2.ChatMemberMap{}
	members.Set(member)
	r.queueRemote(c, &simplevent.ChatInfoChange{
		EventMeta:      simplevent.EventMeta{Type: bridgev2.RemoteEventChatInfoChange, PortalKey: r.key, Sender: sender},
		ChatInfoChange: &bridgev2.ChatInfoChange{MemberChanges: &bridgev2.ChatMemberList{MemberMap: members}},
	})
	if r.st.hasPending() && r.st.fill == nil {
		r.st.scheduleFill(0)
	}
}

// memberRenamed follows a NICK: the old nick's ghost leaves saying so and
// the new nick gets a ghost like anyone who joins (within the budget).
func (r *channelRoom) memberRenamed(ctx context.Context, c *IRCClient, oldNick, newNick string) {
	fo, fn := c.fold(oldNick), c.fold(newNick)
	if p, ok := r.st.pending[fo]; ok {
		delete(r.st.pending, fo)
		r.st.addPending(fn, newNick, p.level)
		return
	}
	if _, in := r.st.ghosts[fo]; !in {
		return
	}
	r.memberGone(ctx, c, oldNick, "", "", "now known as "+newNick)
	if _, ok := r.speaker(ctx, c, newNick); !ok {
		r.memberJoined(c, newNick)
	}
}
