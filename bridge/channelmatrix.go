package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
)

// Matrix → IRC for channels: messages, membership (join, leave, invite,
// kick, ban), topic. A Matrix event in a channel room is handled by the
// sender's own login on the channel's network, on its own connection: what
// the server refuses (not in the channel, +m, banned, not an operator) is
// reported back as the event's failure.

var _ bridgev2.RoomTopicHandlingNetworkAPI = (*IRCClient)(nil)

var errNotInChannel = errors.New("you are not in this channel on IRC (parted or kicked); use `join <channel>` in the bridge bot's room")

// channelTarget is the channel of a channel room as c's connection knows it.
func (c *IRCClient) channelTarget(portal *bridgev2.Portal) (name string, r *channelRoom, err error) {
	network, folded, ok := parseChannelPortalID(portal.ID)
	if !ok || network != c.meta.Network {
		return "", nil, fmt.Errorf("this room is not a channel of your %s login", c.networkName())
	}
	r = c.ic.channels.room(network, folded)
	conn := c.connection()
	if c.meta.Disconnected {
		return "", r, errUserDisconnected
	}
	if conn == nil || conn.State() != ircconn.Connected {
		return "", r, errNotConnected
	}
	ch, in := conn.Channel(r.channelName())
	if !in {
		return "", r, errNotInChannel
	}
	return ch.Name, r, nil
}

// handleChannelMessage sends a Matrix message to the channel, formatted,
// split and paced like a DM, and returns once the server took it.
func (c *IRCClient) handleChannelMessage(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, error) {
	name, r, err := c.channelTarget(msg.Portal)
	if err != nil {
		return nil, c.reportFailure(ctx, msg.Portal, msg.Event, sendFailure(err))
	}
	out, err := c.convertOutgoing(ctx, nil, msg.Content, c.channelPills(r))
	if err != nil {
		return nil, c.reportFailure(ctx, msg.Portal, msg.Event, unsupported(err))
	}
	if msg.ReplyTo != nil {
		out.Lines = append([]string{c.channelReplyQuote(ctx, msg.Portal, msg.Content, msg.ReplyTo)}, out.Lines...)
	}
	if err := c.sendToChannel(ctx, name, out.Kind, out.Lines); err != nil {
		return nil, c.reportFailure(ctx, msg.Portal, msg.Event, sendFailure(err))
	}
	return &bridgev2.MatrixMessageResponse{DB: &database.Message{
		ID:        networkid.MessageID("mx:" + msg.Event.ID),
		SenderID:  channelGhost(c.meta.Network, c.fold(c.ownNick())),
		Timestamp: time.Now(),
	}}, nil
}

// handleChannelEdit sends an edit as a new line starting with "* ".
func (c *IRCClient) handleChannelEdit(ctx context.Context, msg *bridgev2.MatrixEdit) error {
	name, r, err := c.channelTarget(msg.Portal)
	if err != nil {
		return c.reportFailure(ctx, msg.Portal, msg.Event, sendFailure(err))
	}
	out, err := c.convertOutgoing(ctx, nil, msg.Content, c.channelPills(r))
	if err != nil {
		return c.reportFailure(ctx, msg.Portal, msg.Event, unsupported(err))
	}
	out.Lines[0] = "* " + out.Lines[0]
	if err := c.sendToChannel(ctx, name, out.Kind, out.Lines); err != nil {
		return c.reportFailure(ctx, msg.Portal, msg.Event, sendFailure(err))
	}
	return nil
}

// sendToChannel sends the lines of one message to the channel as one unit.
func (c *IRCClient) sendToChannel(ctx context.Context, name string, kind ircconn.Kind, lines []string) error {
	lines = ircfmt.SplitLines(lines, c.lineBudget(name, kind))
	if len(lines) == 0 {
		return errEmptyMessage
	}
	conn := c.connection()
	if conn == nil {
		return errNotConnected
	}
	if _, err := conn.Send(ctx, name, kind, lines); err != nil {
		c.notePeerError(err)
		return err
	}
	return nil
}

// channelPills names the Matrix users a pill can mention in a channel: a
// member's ghost is their current nick, a bridged member their IRC nick.
func (c *IRCClient) channelPills(r *channelRoom) func(user string) (string, bool) {
	br := c.ic.Bridge
	ch, _, _ := r.snapshot(c)
	return func(user string) (string, bool) {
		if uid, ok := br.Matrix.ParseGhostMXID(id.UserID(user)); ok {
			network, folded, ok := parseUserID(uid)
			if !ok || network != c.meta.Network {
				return "", false
			}
			if m, ok := memberOf(ch, c.fold, folded); ok {
				return m.Nick, true
			}
			return folded, true
		}
		for _, m := range r.memberClients() {
			if m.login.UserMXID == id.UserID(user) {
				return m.ownNick(), true
			}
		}
		return "", false
	}
}

// channelReplyQuote renders "> <nick> first words" for a reply in a channel.
func (c *IRCClient) channelReplyQuote(ctx context.Context, portal *bridgev2.Portal, content *event.MessageEventContent, replyTo *database.Message) string {
	who := c.ownNick()
	if _, folded, ok := parseUserID(replyTo.SenderID); ok && replyTo.SenderMXID != c.login.UserMXID {
		who = folded
		if ghost, err := c.ic.Bridge.GetExistingGhostByID(ctx, replyTo.SenderID); err == nil && ghost != nil {
			if meta, ok := ghost.Metadata.(*GhostMetadata); ok && meta.Nick != "" {
				who = meta.Nick
			}
		}
	}
	return c.quoteLine(ctx, portal, content, replyTo, who)
}

// channelClientFor returns the login of a Matrix user on network: the one
// that acts for them in a channel room there (bridgev2 may hand a
// membership event of a user not yet in the room to another of their
// logins).
func (c *IRCClient) channelClientFor(ctx context.Context, user id.UserID, network string) *IRCClient {
	if c.login.UserMXID == user && c.meta.Network == network {
		return c
	}
	u, err := c.ic.Bridge.GetExistingUserByMXID(ctx, user)
	if err != nil || u == nil {
		return nil
	}
	for _, login := range u.GetUserLogins() {
		if oc, ok := login.Client.(*IRCClient); ok && oc.meta.Network == network {
			return oc
		}
	}
	return nil
}

// handleChannelMembership bridges a membership change in a channel room.
// What IRC refuses is told to the user in an encrypted notice; the status
// bridgev2 sends (unencrypted) carries only a fixed text.
func (c *IRCClient) handleChannelMembership(ctx context.Context, msg *bridgev2.MatrixMembershipChange) (*bridgev2.MatrixMembershipResult, error) {
	network, folded, _ := parseChannelPortalID(msg.Portal.ID)
	actor := c.channelClientFor(ctx, msg.Event.Sender, network)
	if actor == nil {
		return nil, c.reportFailure(ctx, msg.Portal, msg.Event, channelRefusal("Your membership change",
			fmt.Errorf("you have no login on %s", network)))
	}
	r := c.ic.channels.room(network, folded)
	name := r.channelName()
	reason := msg.Content.Reason
	opCtx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if msg.Type.IsSelf {
		switch msg.Type.To {
		case event.MembershipJoin:
			if err := actor.joinChannel(opCtx, name, ""); err != nil {
				return nil, actor.reportFailure(ctx, msg.Portal, msg.Event, channelRefusal("Your join of "+name, err))
			}
		case event.MembershipLeave:
			if reason == "" {
				reason = "left the Matrix room"
			}
			if err := actor.partChannel(opCtx, name, reason); err != nil {
				// The user has left the room: they read the control room.
				f := channelRefusal("Your part of "+name, err)
				actor.managementNotice(ctx, f.notice("").Body)
				return nil, f.status()
			}
		}
		return nil, nil
	}
	nick, ghost := actor.membershipTargetNick(ctx, msg.Target, r)
	if nick == "" {
		return nil, nil // a Matrix user without an IRC side: Matrix only
	}
	conn := actor.connection()
	if conn == nil || conn.State() != ircconn.Connected {
		return nil, actor.reportFailure(ctx, msg.Portal, msg.Event, channelRefusal("Your membership change of "+nick, errNotConnected))
	}
	target := id.UserID(msg.Event.GetStateKey())
	meta, _ := msg.Portal.Metadata.(*PortalMetadata)
	if meta == nil {
		meta = &PortalMetadata{}
		msg.Portal.Metadata = meta
	}
	_, inChannel := conn.Member(name, nick)
	var action string
	var err error
	// restore is the room membership that matches IRC again when IRC
	// refuses a change for a ghost that is not in the channel.
	var restore event.Membership
	switch msg.Type.To {
	case event.MembershipInvite:
		if !ghost {
			return nil, nil // a bridged user joins by accepting
		}
		action, restore = "Your invite of "+nick, event.MembershipLeave
		err = conn.Invite(opCtx, nick, name)
	case event.MembershipLeave:
		// Dendrite does not always send the previous membership (bridgev2
		// then says leave): a leave is an unban when the previous
		// membership was a ban, or may have been one and the bridge set a
		// ban for this user.
		mask, ours := meta.BanMasks[target]
		unban := msg.Type.From == event.MembershipBan || (msg.Type.From == event.MembershipLeave && ours && !inChannel)
		switch {
		case unban && ours:
			action, restore = "Your unban of "+nick, event.MembershipBan
			if err = conn.Mode(opCtx, name, ircconn.ModeChange{Add: false, Mode: 'b', Param: mask}); err == nil {
				meta.BanMasks = withBanMask(meta.BanMasks, target, "")
				actor.saveBanMasks(ctx, msg.Portal)
			}
		case unban:
			action = "Your unban of " + nick
			err = errBanMaskUnknown
		case inChannel:
			action = "Your kick of " + nick
			err = conn.Kick(opCtx, name, nick, reason)
		default:
			return nil, nil // neither in the channel nor banned by the bridge: nothing on IRC
		}
	case event.MembershipBan:
		action, restore = "Your ban of "+nick, event.MembershipLeave
		mask := actor.banMask(name, nick)
		if err = conn.Mode(opCtx, name, ircconn.ModeChange{Add: true, Mode: 'b', Param: mask}); err == nil {
			meta.BanMasks = withBanMask(meta.BanMasks, target, mask)
			actor.saveBanMasks(ctx, msg.Portal)
			if inChannel {
				err = conn.Kick(opCtx, name, nick, reason)
			}
		}
	default:
		return nil, nil
	}
	if err != nil {
		switch {
		case ghost && inChannel && msg.Type.To != event.MembershipInvite:
			// The member is still in the channel: back into the room.
			f := actor.fold(nick)
			r.enqueue(actor, "member back", func(ctx context.Context) {
				delete(r.st.ghosts, f)
				r.memberJoined(actor, nick)
			})
		case ghost && restore != "" && !errors.Is(err, errBanMaskUnknown):
			actor.restoreMembership(ctx, msg.Portal, target, restore)
		}
		return nil, actor.reportFailure(ctx, msg.Portal, msg.Event, channelRefusal(action, err))
	}
	return nil, nil
}

// errBanMaskUnknown: a Matrix unban of a ban the bridge did not set.
var errBanMaskUnknown = errors.New("the bridge did not set this ban on IRC and does not know its mask; lift it there (MODE <channel> -b <mask>)")

// channelRefusal explains a membership change or topic that IRC refused
// or may not have received; action is its subject ("Your kick of dave").
func channelRefusal(action string, err error) failure {
	f := failure{what: action, text: channelErrorText(err) + ".", certain: true, reason: event.MessageStatusNetworkError, cause: err}
	var pe *ircconn.PeerError
	switch {
	case errors.As(err, &pe) && pe.Code == "482":
		f.reason = event.MessageStatusNoPermission
	case errors.As(err, &pe), errors.Is(err, errBanMaskUnknown):
		f.reason = event.MessageStatusGenericError
	case errors.Is(err, ircconn.ErrConnectionLost):
		f.text, f.certain = "the IRC connection dropped before the server answered.", false
	case errors.Is(err, ircconn.ErrUnconfirmed), errors.Is(err, context.DeadlineExceeded):
		f.text, f.certain = "the IRC server did not answer in time.", false
	}
	return f
}

// withBanMask returns a copy of masks with user's mask set ("" removes
// it). The metadata is copied, not changed in place: bridgev2 may marshal
// it from another goroutine (its bridge-info resends at start).
func withBanMask(masks map[id.UserID]string, user id.UserID, mask string) map[id.UserID]string {
	out := maps.Clone(masks)
	if out == nil {
		out = map[id.UserID]string{}
	}
	if mask == "" {
		delete(out, user)
	} else {
		out[user] = mask
	}
	return out
}

// saveBanMasks stores the portal's ban masks.
func (c *IRCClient) saveBanMasks(ctx context.Context, portal *bridgev2.Portal) {
	if err := portal.Save(ctx); err != nil {
		c.log.Err(err).Msg("Failed to store the channel room's ban masks")
	}
}

// restoreMembership puts a ghost's room membership back to what IRC
// still has after IRC refused a change: the bot revokes a refused invite,
// lifts a refused ban, bans again after a refused unban.
func (c *IRCClient) restoreMembership(ctx context.Context, portal *bridgev2.Portal, target id.UserID, membership event.Membership) {
	_, err := c.ic.Bridge.Bot.SendState(ctx, portal.MXID, event.StateMember, target.String(), &event.Content{
		Parsed: &event.MemberEventContent{Membership: membership, Reason: "refused on IRC"},
	}, time.Now())
	if err != nil {
		c.log.Err(err).Str("membership", string(membership)).Msg("Failed to put a ghost's membership back after IRC refused the change")
	}
}

// membershipTargetNick is the IRC nick a membership change is about, and
// whether it is a ghost (not a bridged user).
func (c *IRCClient) membershipTargetNick(ctx context.Context, target bridgev2.GhostOrUserLogin, r *channelRoom) (string, bool) {
	switch t := target.(type) {
	case *bridgev2.Ghost:
		network, folded, ok := parseUserID(t.ID)
		if !ok || network != c.meta.Network {
			return "", false
		}
		ch, _, _ := r.snapshot(c)
		if m, ok := memberOf(ch, c.fold, folded); ok {
			return m.Nick, true
		}
		if meta, ok := t.Metadata.(*GhostMetadata); ok && meta.Nick != "" {
			return meta.Nick, true
		}
		return folded, true
	case *bridgev2.UserLogin:
		if oc, ok := t.Client.(*IRCClient); ok && oc.meta.Network == c.meta.Network {
			return oc.ownNick(), false
		}
	}
	return "", false
}

// banMask bans the member's host when the channel state knows it, else the
// nick.
func (c *IRCClient) banMask(channel, nick string) string {
	if conn := c.connection(); conn != nil {
		if m, ok := conn.Member(channel, nick); ok && m.Host != "" {
			return "*!*@" + m.Host
		}
	}
	return nick + "!*@*"
}

// HandleMatrixRoomTopic sets a channel's topic from its room. The server's
// refusal (482 without the privilege under +t) puts the IRC topic back and
// is told in an encrypted notice.
func (c *IRCClient) HandleMatrixRoomTopic(ctx context.Context, msg *bridgev2.MatrixRoomTopic) (bool, error) {
	if !isChannelPortal(msg.Portal.PortalKey) {
		return false, errors.New("the topic of a direct chat is not sent to IRC")
	}
	name, _, err := c.channelTarget(msg.Portal)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, commandTimeout)
		err = c.connection().Topic(ctx, name, msg.Content.Topic)
		cancel()
	}
	if err != nil {
		_, serr := c.ic.Bridge.Bot.SendState(ctx, msg.Portal.MXID, event.StateTopic, "", &event.Content{
			Parsed: &event.TopicEventContent{Topic: msg.Portal.Topic},
		}, time.Now())
		if serr != nil {
			zerolog.Ctx(ctx).Err(serr).Msg("Failed to restore the channel topic")
		}
		return false, c.reportFailure(ctx, msg.Portal, msg.Event, channelRefusal("Your topic change", err))
	}
	msg.Portal.Topic = msg.Content.Topic
	msg.Portal.TopicSet = true
	return true, nil
}

// channelChatInfo describes a channel room as c's connection sees it.
func (c *IRCClient) channelChatInfo(portal *bridgev2.Portal) (*bridgev2.ChatInfo, error) {
	network, folded, ok := parseChannelPortalID(portal.ID)
	if !ok || network != c.meta.Network {
		return nil, errNotDMPortal
	}
	r := c.ic.channels.room(network, folded)
	name := r.channelName()
	info := &bridgev2.ChatInfo{Name: &name, Type: new(database.RoomTypeDefault)}
	if ch, _, ok := r.snapshot(c); ok {
		info.Name, info.Topic = &ch.Name, &ch.Topic
	}
	return info, nil
}
