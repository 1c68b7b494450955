package bridge

import (
	"context"
	"fmt"
	"html"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
)

// IRC → Matrix for channels. handleChannelEvent runs on the IRC reader
// goroutine: it reads and updates in-memory state only and hands the rest
// to the room's worker. Lines come from every member connection (the
// room's dedup keeps the first copy); joins, parts, topic and modes of
// other members only from the room's observer; a login's own JOIN, PART
// and KICK from its own connection.

// handleChannelEvent handles the channel side of an event and reports
// whether nothing else needs it. NICK, QUIT and state changes also matter
// to DMs: for those it returns false.
func (c *IRCClient) handleChannelEvent(evt ircconn.Event) bool {
	switch e := evt.(type) {
	case ircconn.StateChanged:
		c.channelsConnection(e)
		return false
	case ircconn.Message:
		if !e.Channel {
			return false
		}
		c.channelLine(e)
	case ircconn.CTCP:
		// Only ACTION is bridged (as a Message); other CTCP to a channel is
		// noise, and a DM CTCP is answered by ircconn.
		return c.isChannelName(e.Target)
	case ircconn.Joined:
		c.channelJoined(e)
	case ircconn.Names:
		c.channelNames(e)
	case ircconn.Parted:
		c.channelParted(e.Channel, e.User.Nick, e.Self, "", "")
	case ircconn.Kicked:
		c.channelParted(e.Channel, e.Nick, e.Self, e.By.Nick, e.Reason)
	case ircconn.Quit:
		for _, name := range e.Channels {
			c.channelParted(name, e.Nick, false, "", "")
		}
		return false
	case ircconn.NickChanged:
		c.channelNick(e)
		return false
	case ircconn.TopicChanged:
		if r := c.observedRoom(e.Channel); r != nil {
			r.enqueue(c, "topic", func(ctx context.Context) { r.topicChanged(ctx, c, e) })
		}
	case ircconn.ModeChanged:
		if r := c.observedRoom(e.Channel); r != nil {
			r.enqueue(c, "mode", func(ctx context.Context) { r.modesChanged(ctx, c, e) })
		}
	case ircconn.Invited:
		if e.ToMe {
			c.channelInvited(e)
		}
	case ircconn.ChannelError:
		if r := c.memberRoom(e.Channel); r != nil {
			text := fmt.Sprintf("%s: %s (%s)", r.channelName(), ircfmt.Strip(e.Text), e.Code)
			r.enqueue(c, "error", func(ctx context.Context) { r.notice(ctx, c, text) })
		}
	case ircconn.WhoList, ircconn.AwayChanged, ircconn.AccountChanged, ircconn.HostChanged, ircconn.RealnameChanged:
		// Kept in the connection's channel state; nothing to show.
	default:
		return false
	}
	return true
}

func (c *IRCClient) isChannelName(target string) bool {
	conn := c.connection()
	return conn != nil && conn.IsChannel(target)
}

// memberRoom returns the room of a channel c is a member of, or nil.
func (c *IRCClient) memberRoom(channel string) *channelRoom {
	r := c.ic.channels.existingRoom(c.meta.Network, c.fold(channel))
	if r == nil || !r.isMember(c) {
		return nil
	}
	return r
}

// observedRoom returns the room of a channel c is the observer of, or nil.
func (c *IRCClient) observedRoom(channel string) *channelRoom {
	r := c.ic.channels.existingRoom(c.meta.Network, c.fold(channel))
	if r == nil || !r.isObserver(c) {
		return nil
	}
	return r
}

// isBridged reports whether nick is a bridged user's nick on this network.
func (c *IRCClient) isBridged(nick string) bool {
	return c.ic.channels.bridgedNick(c.meta.Network, c.fold(nick)) != nil
}

// channelsConnection follows the connection: our nick while connected;
// when it drops, our connection is in no channel until the rejoin.
func (c *IRCClient) channelsConnection(e ircconn.StateChanged) {
	hub := c.ic.channels
	switch e.State {
	case ircconn.Connecting:
		return
	case ircconn.Connected:
		hub.setOwnNick(c, c.fold(e.Nick))
		go c.rejoinChannels(c.log.WithContext(c.ic.Bridge.BackgroundCtx))
		return
	}
	hub.setOwnNick(c, "")
	for _, r := range hub.roomsOf(c) {
		if obs, changed := r.setMember(c, "", false); changed && obs != nil {
			r.enqueue(obs, "resync", func(ctx context.Context) { r.resync(ctx, obs) })
		}
	}
}

func (c *IRCClient) channelJoined(e ircconn.Joined) {
	if e.Self {
		// A member from now on; in the channel once the member list is
		// complete (Names).
		c.ic.channels.room(c.meta.Network, c.fold(e.Channel)).setMember(c, e.Channel, false)
		return
	}
	r := c.observedRoom(e.Channel)
	if r == nil || c.isBridged(e.User.Nick) {
		return
	}
	nick := e.User.Nick
	r.enqueue(c, "member join", func(ctx context.Context) { r.memberJoined(c, nick) })
}

func (c *IRCClient) channelNames(e ircconn.Names) {
	r := c.memberRoom(e.Channel)
	if r == nil {
		return
	}
	if r.inChannel(c) {
		if r.isObserver(c) {
			r.enqueue(c, "resync", func(ctx context.Context) { r.resync(ctx, c) })
		}
		return
	}
	r.setMember(c, e.Channel, true)
	r.enqueue(c, "self join", func(ctx context.Context) { r.joinedRoom(ctx, c) })
	// The channel's flags decide who may set the topic.
	go func() {
		ctx, cancel := context.WithTimeout(c.ic.Bridge.BackgroundCtx, commandTimeout)
		defer cancel()
		if conn := c.connection(); conn != nil {
			if err := conn.RefreshModes(ctx, e.Channel); err != nil {
				c.log.Debug().Err(err).Msg("Failed to get channel modes")
			}
		}
	}()
}

// channelParted handles a PART, KICK (kicker set, with its reason) or QUIT
// of nick. PART and QUIT messages are not shown: they would go into room
// state, which is never encrypted.
func (c *IRCClient) channelParted(channel, nick string, self bool, kicker, reason string) {
	reason = ircfmt.Strip(reason)
	if self {
		r := c.memberRoom(channel)
		if r == nil {
			return
		}
		obs, changed := r.removeMember(c)
		r.enqueue(c, "self part", func(ctx context.Context) {
			c.forgetChannel(ctx, r)
			r.leftRoom(ctx, c, kicker)
		})
		if changed && obs != nil {
			r.enqueue(obs, "resync", func(ctx context.Context) { r.resync(ctx, obs) })
		}
		if kicker != "" {
			name := r.channelName()
			go c.managementNotice(c.log.WithContext(c.ic.Bridge.BackgroundCtx), fmt.Sprintf(
				"%s kicked you from %s on %s (%s). Use `join %s` to go back.", kicker, name, c.networkName(), reason, name))
		}
		return
	}
	r := c.observedRoom(channel)
	if r == nil || c.isBridged(nick) {
		return
	}
	r.enqueue(c, "member part", func(ctx context.Context) { r.memberGone(ctx, c, nick, kicker, reason, "") })
}

func (c *IRCClient) channelNick(e ircconn.NickChanged) {
	if e.Self {
		c.ic.channels.setOwnNick(c, c.fold(e.New))
		return
	}
	if c.isBridged(e.Old) || c.isBridged(e.New) {
		return
	}
	for _, name := range e.Channels {
		if r := c.observedRoom(name); r != nil {
			r.enqueue(c, "member nick", func(ctx context.Context) { r.memberRenamed(ctx, c, e.Old, e.New) })
		}
	}
}

// channelLine hands a channel PRIVMSG, NOTICE or ACTION to the room.
func (c *IRCClient) channelLine(e ircconn.Message) {
	conn := c.connection()
	if conn == nil || e.From.Server || e.From.Nick == "" {
		return
	}
	name, status := splitStatusMsg(e.Target, conn.ISupport().StatusMsg)
	r := c.memberRoom(name)
	if r == nil || !r.inChannel(c) || c.isBridged(e.From.Nick) {
		return // a bridged user's line came from Matrix
	}
	if !r.fresh(c, e.MsgID, c.fold(e.From.Nick), e.Kind, e.Text) {
		return
	}
	line := channelLine{
		Kind:     e.Kind,
		Nick:     e.From.Nick,
		Text:     e.Text,
		Status:   status,
		Mentions: r.bridgedMembers(),
		Fold:     c.fold,
	}
	msgID, at := e.MsgID, e.Time
	r.enqueue(c, "line", func(ctx context.Context) { r.postLine(ctx, c, line, msgID, at) })
}

// splitStatusMsg takes a STATUSMSG prefix ("@#chan": to the operators
// only) off a message target.
func splitStatusMsg(target, statusMsg string) (channel, status string) {
	i := 0
	for i < len(target) && strings.IndexByte(statusMsg, target[i]) >= 0 {
		i++
	}
	return target[i:], target[:i]
}

// channelLine is one line of a channel on its way to the room.
type channelLine struct {
	Kind ircconn.Kind
	Nick string
	Text string
	// Status is the STATUSMSG prefix the line was sent to ("@": the
	// operators), empty for the whole channel.
	Status string
	// Relay is set when the line is posted by the bot, with the nick in
	// front (no ghost for the sender: budget or member cap).
	Relay bool
	// Mentions are the bridged members' nicks (casemapped with Fold).
	Mentions map[string]id.UserID
	Fold     func(string) string
}

// channelLineCounter makes the IDs of lines without msgid unique.
var channelLineCounter atomic.Uint64

func nextLineID() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatUint(channelLineCounter.Add(1), 36)
}

// postLine posts a line from the sender's ghost, or from the bot when the
// sender may not have one now.
func (r *channelRoom) postLine(ctx context.Context, c *IRCClient, line channelLine, msgID string, at time.Time) {
	uid, ok := r.speaker(ctx, c, line.Nick)
	line.Relay = !ok
	if msgID == "" {
		msgID = "c" + nextLineID()
	}
	r.queueRemote(c, &simplevent.Message[channelLine]{
		EventMeta: simplevent.EventMeta{
			Type:      bridgev2.RemoteEventMessage,
			PortalKey: r.key,
			Sender:    bridgev2.EventSender{Sender: uid},
			Timestamp: at,
		},
		Data:               line,
		ID:                 networkid.MessageID("irc:" + msgID),
		ConvertMessageFunc: convertChannelLine,
	})
}

func convertChannelLine(ctx context.Context, portal *bridgev2.Portal, intent bridgev2.MatrixAPI, line channelLine) (*bridgev2.ConvertedMessage, error) {
	content := &event.MessageEventContent{MsgType: event.MsgText}
	switch line.Kind {
	case ircconn.Notice:
		content.MsgType = event.MsgNotice
	case ircconn.Action:
		content.MsgType = event.MsgEmote
	}
	plain, formatted := ircfmt.IRCToMatrix(line.Text)
	formatted, users := addMentionPills(plain, formatted, line.Fold, line.Mentions)
	if len(users) > 0 {
		content.Mentions = &event.Mentions{UserIDs: users}
	}
	var prefix, htmlPrefix string
	if line.Status != "" {
		prefix = "[to " + line.Status + "] "
		htmlPrefix = "<em>" + html.EscapeString(prefix) + "</em>"
	}
	if line.Relay {
		who := "<" + line.Nick + "> "
		if line.Kind == ircconn.Action {
			who = "* " + line.Nick + " "
			content.MsgType = event.MsgText
		}
		prefix += who
		htmlPrefix += "<strong>" + html.EscapeString(who) + "</strong>"
	}
	content.Body = prefix + plain
	if formatted != "" || htmlPrefix != "" {
		if formatted == "" {
			formatted = html.EscapeString(plain)
		}
		content.Format = event.FormatHTML
		content.FormattedBody = htmlPrefix + formatted
	}
	return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{Type: event.EventMessage, Content: content}}}, nil
}

// topicChanged sets the room topic from the channel's.
func (r *channelRoom) topicChanged(ctx context.Context, c *IRCClient, e ircconn.TopicChanged) {
	sender := bridgev2.EventSender{}
	if uid, in := r.st.ghosts[c.fold(e.By.Nick)]; in && !e.Current {
		sender.Sender = uid
	}
	topic := ircfmt.Strip(e.Topic)
	r.queueRemote(c, &simplevent.ChatInfoChange{
		EventMeta:      simplevent.EventMeta{Type: bridgev2.RemoteEventChatInfoChange, PortalKey: r.key, Sender: sender},
		ChatInfoChange: &bridgev2.ChatInfoChange{ChatInfo: &bridgev2.ChatInfo{Topic: &topic}},
	})
}

// modeDescriptions explain the channel modes people notice.
var modeDescriptions = map[rune]string{
	'm': "moderated: only voiced members and operators can speak",
	'i': "invite only",
	'k': "a key is needed to join",
	'l': "a member limit",
	'n': "no messages from outside the channel",
	't': "only operators set the topic",
	's': "secret",
	'R': "only registered users can join",
	'M': "only registered users can speak",
}

// modesChanged applies membership modes as power levels and +t to the
// topic's level, keeps a new key for the rejoin, and tells the room about
// the rest.
func (r *channelRoom) modesChanged(ctx context.Context, c *IRCClient, e ircconn.ModeChanged) {
	ch, is, ok := r.snapshot(c)
	if !ok {
		return
	}
	br := r.hub.ic.Bridge
	levels := map[id.UserID]int{}
	var said []string
	for _, mc := range e.Changes {
		switch {
		case mc.Kind == ircconn.ModePrefix:
			m, ok := memberOf(ch, c.fold, mc.Param)
			if !ok {
				continue
			}
			level := memberPower(m.Prefixes, is)
			f := c.fold(mc.Param)
			if owner := r.hub.bridgedNick(r.network, f); owner != nil {
				levels[owner.login.UserMXID] = level
			} else if uid, in := r.st.ghosts[f]; in {
				levels[br.Matrix.FormatGhostMXID(uid)] = level
			} else if p, waiting := r.st.pending[f]; waiting {
				p.level = level
				r.st.pending[f] = p
			}
		case mc.Mode == 'k' && mc.Kind == ircconn.ModeParam:
			key := ""
			if mc.Add && mc.Param != "*" {
				key = mc.Param
			}
			if mc.Add && key == "" {
				break // the key is hidden from us: keep the one we joined with
			}
			for _, m := range r.memberClients() {
				m.storeChannelKey(ctx, r, key)
			}
			if !e.Current {
				said = append(said, modeText(mc))
			}
		case e.Current:
		case mc.Kind == ircconn.ModeList && mc.Mode == 'b':
			said = append(said, fmt.Sprintf("%s %s", map[bool]string{true: "bans", false: "unbans"}[mc.Add], mc.Param))
		default:
			said = append(said, modeText(mc))
		}
	}
	r.queueRemote(c, &simplevent.ChatInfoChange{
		EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventChatInfoChange, PortalKey: r.key},
		ChatInfoChange: &bridgev2.ChatInfoChange{MemberChanges: &bridgev2.ChatMemberList{
			MemberMap:   bridgev2.ChatMemberMap{},
			PowerLevels: powerOverrides(ch, levels),
		}},
	})
	if len(said) > 0 {
		by := e.By.Nick
		if by == "" {
			by = "the server"
		}
		r.notice(ctx, c, fmt.Sprintf("%s sets %s on %s.", by, strings.Join(said, ", "), ch.Name))
	}
}

func modeText(mc ircconn.ModeChange) string {
	s := mc.String()
	if mc.Mode == 'k' && mc.Add {
		s = "+k" // the key itself is not for the room
	}
	if d, ok := modeDescriptions[mc.Mode]; ok {
		if mc.Add {
			return s + " (" + d + ")"
		}
		return s + " (no longer " + d + ")"
	}
	return s
}

// inviteNoticeEvery spaces out notices about IRC invites to channels
// without a room: anyone can send INVITEs.
const inviteNoticeEvery = 10 * time.Second

// channelInvited handles an IRC INVITE to c: a Matrix invite to the
// channel's room when it exists, else a notice in the control room. The
// bridge joins nothing on a stranger's word.
func (c *IRCClient) channelInvited(e ircconn.Invited) {
	by, channel := e.By.Nick, e.Channel
	if r := c.memberRoom(channel); r != nil && r.inChannel(c) {
		return
	}
	ok, missed := c.ic.channels.inviteNotice(c)
	if !ok {
		return
	}
	more := ""
	if missed > 0 {
		more = fmt.Sprintf(" (%d more invites came too fast to be shown.)", missed)
	}
	r := c.ic.channels.existingRoom(c.meta.Network, c.fold(channel))
	text := fmt.Sprintf("%s invites you to %s on %s: use `join %s` to join.%s", by, channel, c.networkName(), channel, more)
	if r == nil {
		go c.managementNotice(c.log.WithContext(c.ic.Bridge.BackgroundCtx), text)
		return
	}
	r.enqueue(c, "invite", func(ctx context.Context) {
		portal, err := c.ic.Bridge.GetExistingPortalByKey(ctx, r.key)
		if err == nil && portal != nil && portal.MXID != "" {
			// bridgev2 passes on a membership change only for a user it
			// knows in the portal: the accepted invite must reach us.
			if _, err := c.ic.Bridge.DB.UserPortal.GetOrCreate(ctx, c.login.UserLogin, r.key); err != nil {
				zerolog.Ctx(ctx).Err(err).Msg("Failed to mark the login in the channel portal")
			}
			if err := c.ic.Bridge.Bot.EnsureInvited(ctx, portal.MXID, c.login.UserMXID); err == nil {
				text = fmt.Sprintf("%s invites you to %s on %s: accept the invite to its room to join.%s", by, channel, c.networkName(), more)
			} else {
				zerolog.Ctx(ctx).Err(err).Msg("Failed to invite the user to the channel room")
			}
		}
		c.managementNotice(ctx, text)
	})
}

// notice posts a bridge notice into the room, in order with its messages
// (through bridgev2, which encrypts in encrypted rooms). from is a member
// login to post as; without one the bot posts directly.
func (r *channelRoom) notice(ctx context.Context, from *IRCClient, text string) {
	if from == nil {
		portal, err := r.hub.ic.Bridge.GetExistingPortalByKey(ctx, r.key)
		if err == nil && portal != nil && portal.MXID != "" {
			_, err = r.hub.ic.Bridge.Bot.SendMessage(ctx, portal.MXID, event.EventMessage, &event.Content{
				Parsed: &event.MessageEventContent{MsgType: event.MsgNotice, Body: text},
			}, nil)
		}
		if err != nil {
			zerolog.Ctx(ctx).Err(err).Msg("Failed to send a notice to the channel room")
		}
		return
	}
	r.queueRemote(from, &simplevent.Message[string]{
		EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventMessage, PortalKey: r.key},
		Data:      text,
		ID:        networkid.MessageID("notice:" + nextLineID()),
		ConvertMessageFunc: func(ctx context.Context, portal *bridgev2.Portal, intent bridgev2.MatrixAPI, text string) (*bridgev2.ConvertedMessage, error) {
			return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{
				Type:    event.EventMessage,
				Content: &event.MessageEventContent{MsgType: event.MsgNotice, Body: text},
			}}}, nil
		},
	})
}

// plaintextNotice is pinned in every channel room: OTR protects direct
// chats only.
const plaintextNotice = "🔓 IRC channel: messages here are plaintext on IRC. Everyone in the channel and the IRC servers " +
	"can read them; OTR does not exist for channels. For an off-the-record conversation, open a direct chat with a " +
	"member (click them and send a message, or `pm <nick>` in the bridge bot's room)."

// postPlaintextNotice posts and pins the plaintext notice in a new room.
func (r *channelRoom) postPlaintextNotice(ctx context.Context, portal *bridgev2.Portal) {
	bot := r.hub.ic.Bridge.Bot
	resp, err := bot.SendMessage(ctx, portal.MXID, event.EventMessage, &event.Content{
		Parsed: &event.MessageEventContent{MsgType: event.MsgNotice, Body: plaintextNotice},
	}, nil)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to post the plaintext notice")
		return
	}
	_, err = bot.SendState(ctx, portal.MXID, event.StatePinnedEvents, "", &event.Content{
		Parsed: &event.PinnedEventsEventContent{Pinned: []id.EventID{resp.EventID}},
	}, time.Now())
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to pin the plaintext notice")
	}
}
