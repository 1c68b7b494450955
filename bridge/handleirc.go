package bridge

import (
	"context"
	"fmt"
	"html"
	"strconv"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// handleEvent receives everything the IRC connection reports. ircconn calls
// it from one goroutine per connection, in order; the connection's next
// events wait meanwhile, so nothing here waits for the homeserver.
func (c *IRCClient) handleEvent(evt ircconn.Event) {
	start := time.Now()
	defer func() { c.eventLoop.observe(c.log, evt, time.Since(start)) }()
	ctx := c.log.WithContext(c.ic.Bridge.BackgroundCtx)
	if c.handleChannelEvent(evt) {
		return
	}
	switch e := evt.(type) {
	case ircconn.StateChanged:
		c.handleState(ctx, e)
	case ircconn.Message:
		c.handleMessage(ctx, e)
	case ircconn.NickChanged:
		c.handleNick(ctx, e)
	case ircconn.Quit:
		c.watch.offline(ctx, e.Nick, "quit: "+ircfmt.Strip(e.Reason))
	case ircconn.PeerOffline:
		if e.NewNick == "" { // else NickChanged reported the rename
			c.watch.offline(ctx, e.Nick, "")
		}
	case ircconn.PeerOnline:
		c.watch.online(ctx, e.Nick)
	case ircconn.WatchFull:
		c.watch.watchFull(e)
	case ircconn.AccountChanged:
		c.watch.setAccount(e.Nick, e.Account)
	case ircconn.Joined:
		if !e.Self && e.Account != "" {
			c.watch.setAccount(e.User.Nick, e.Account)
		}
	case ircconn.NickRejected:
		if e.Registered {
			c.managementNotice(ctx, fmt.Sprintf("%s refused the nick %s (%s: %s).", c.networkName(), e.Wanted, e.Code, e.Reason))
		} else {
			c.managementNotice(ctx, fmt.Sprintf("The nick %s is not available on %s (%s: %s); trying %s.", e.Wanted, c.networkName(), e.Code, e.Reason, e.Trying))
		}
	case ircconn.PeerNotice:
		if c.peerErrorShown(e.Code, e.Nick) {
			return
		}
		c.tellPeer(ctx, e.Nick, peerNumericText(e.Code, e.Nick, e.Text))
	case ircconn.Numeric:
		if c.watch.handleNumeric(ctx, e) {
			return
		}
		c.mu.Lock()
		show := time.Now().Before(c.rawUntil)
		c.mu.Unlock()
		if show {
			c.managementNotice(ctx, fmt.Sprintf("%s %s", e.Code, ircfmt.Strip(joinParams(e.Params))))
		}
	case ircconn.CTCP:
		// VERSION/PING/TIME/CLIENTINFO are answered by ircconn; others are ignored.
	}
}

func (c *IRCClient) networkName() string {
	if c.netCfg != nil {
		return c.netCfg.DisplayName(c.meta.Network)
	}
	return c.meta.Network
}

func joinParams(params []string) string {
	out := ""
	for i, p := range params {
		if i > 0 {
			out += " "
		}
		out += p
	}
	return out
}

func (c *IRCClient) handleState(ctx context.Context, e ircconn.StateChanged) {
	if e.State != ircconn.Connecting {
		c.reportLoginResult(e)
	}
	switch e.State {
	case ircconn.Connecting:
		c.login.BridgeState.Send(status.BridgeState{StateEvent: status.StateConnecting})
	case ircconn.Connected:
		if e.Nick != "" {
			name := fmt.Sprintf("%s on %s", e.Nick, c.networkName())
			if c.login.RemoteName != name {
				c.login.RemoteName = name
				if err := c.login.Save(ctx); err != nil {
					c.log.Err(err).Msg("Failed to save login after nick update")
				}
			}
		}
		c.login.BridgeState.Send(status.BridgeState{StateEvent: status.StateConnected})
		go c.announceRestarted(ctx)
	case ircconn.TransientDisconnect:
		msg := "connection lost"
		if e.Err != nil {
			msg = e.Err.Error()
		}
		if e.RetryIn > 0 {
			msg += fmt.Sprintf("; reconnecting in %s", e.RetryIn.Round(time.Second))
		}
		c.login.BridgeState.Send(status.BridgeState{StateEvent: status.StateTransientDisconnect, Error: "irc-disconnected", Message: msg})
	case ircconn.BadCredentials:
		c.login.BridgeState.Send(status.BridgeState{StateEvent: status.StateBadCredentials, Error: "irc-bad-credentials",
			Message: errText(e.Err, "the server rejected the password") + "; use `relogin` to enter new credentials"})
	case ircconn.Fatal:
		c.login.BridgeState.Send(status.BridgeState{StateEvent: status.StateUnknownError, Error: "irc-fatal",
			Message: errText(e.Err, "the server refused the connection") + "; not retrying, use `reconnect` to try again"})
	case ircconn.Disconnected:
		if c.meta.Disconnected {
			c.sendDisconnectedByUser()
		}
	}
}

func errText(err error, fallback string) string {
	if err == nil {
		return fallback
	}
	return err.Error()
}

func (c *IRCClient) handleMessage(ctx context.Context, e ircconn.Message) {
	if !e.ToMe || e.Channel || e.From.Server || e.From.Nick == "" {
		return // a DM-only bridge: channel traffic and server notices are not bridged
	}
	if c.fold(e.From.Nick) == c.fold(c.ownNick()) {
		return // a message to ourselves has no peer
	}
	if e.Kind == ircconn.Notice && c.ic.Config.IsService(e.From.Nick) {
		c.serviceNotice(e)
		return
	}
	c.routeMessage(ctx, e)
}

// updateGhost sets the ghost's display name from its current nick.
func (c *IRCClient) updateGhost(ctx context.Context, uid networkid.UserID, nick string) {
	ghost, err := c.ic.Bridge.GetGhostByID(ctx, uid)
	if err != nil {
		c.log.Err(err).Msg("Failed to get ghost")
		return
	}
	ghost.UpdateInfo(ctx, c.userInfo(nick))
}

func (c *IRCClient) userInfo(nick string) *bridgev2.UserInfo {
	name := c.ic.Config.FormatDisplayname(c.meta.Network, nick)
	return &bridgev2.UserInfo{
		Name:        &name,
		Identifiers: []string{"irc:" + nick},
		ExtraUpdates: func(ctx context.Context, g *bridgev2.Ghost) bool {
			meta, ok := g.Metadata.(*GhostMetadata)
			if !ok || meta.Nick == nick {
				return false
			}
			meta.Nick = nick
			return true
		},
	}
}

var incomingCounter atomic.Uint64

// queueIncoming turns a message from a peer into a Matrix message from the
// peer's ghost in the DM portal.
func (c *IRCClient) queueIncoming(ctx context.Context, p *peerLink, msg otrsession.IncomingText) {
	if msg.Encrypted {
		c.ic.metrics.message(toMatrix, resultEncrypted)
	} else {
		c.ic.metrics.message(toMatrix, resultPlaintext)
	}
	msgID := msg.MsgID
	if msgID == "" {
		msgID = strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatUint(incomingCounter.Add(1), 36)
	}
	c.login.QueueRemoteEvent(&simplevent.Message[otrsession.IncomingText]{
		EventMeta: simplevent.EventMeta{
			Type:         bridgev2.RemoteEventMessage,
			PortalKey:    portalKeyFor(p.id, c.login.ID),
			Sender:       bridgev2.EventSender{Sender: p.id},
			CreatePortal: true,
			Timestamp:    msg.Time,
			PreHandleFunc: func(ctx context.Context, portal *bridgev2.Portal) {
				c.preparePortal(ctx, portal, p.nick, p.userHost)
			},
		},
		Data:               msg,
		ID:                 networkid.MessageID("irc:" + msgID),
		ConvertMessageFunc: convertIncoming,
	})
}

// preparePortal records the peer's nick in a new portal and its
// user@host (see PortalMetadata.seen: the nick a message was sent from
// never undoes a later rename). (A user who left the room is invited back
// by bridgev2 when the next message is queued, see
// HandleMatrixMembership.)
func (c *IRCClient) preparePortal(ctx context.Context, portal *bridgev2.Portal, nick, userHost string) {
	if meta, ok := portal.Metadata.(*PortalMetadata); ok && meta.seen(nick, userHost, c.fold) {
		if err := portal.Save(ctx); err != nil {
			c.log.Err(err).Msg("Failed to save portal nick")
		}
	}
}

func convertIncoming(ctx context.Context, portal *bridgev2.Portal, intent bridgev2.MatrixAPI, msg otrsession.IncomingText) (*bridgev2.ConvertedMessage, error) {
	content := &event.MessageEventContent{MsgType: event.MsgText}
	switch msg.Kind {
	case ircconn.Notice:
		content.MsgType = event.MsgNotice
	case ircconn.Action:
		content.MsgType = event.MsgEmote
	}
	plain, formatted := ircfmt.IRCToMatrix(msg.Text)
	content.Body = plain
	if formatted != "" {
		content.Format = event.FormatHTML
		content.FormattedBody = formatted
	}
	if msg.Annotation != "" {
		content.EnsureHasHTML()
		content.Body += " [" + msg.Annotation + "]"
		content.FormattedBody += " <em>[" + html.EscapeString(msg.Annotation) + "]</em>"
	}
	return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{
		ID:         "",
		Type:       event.EventMessage,
		Content:    content,
		DBMetadata: &MessageMetadata{Plaintext: !msg.Encrypted},
	}}}, nil
}

// handleNick follows a rename the server reported: a NICK from a user in a
// channel we share, so the same connection.
func (c *IRCClient) handleNick(ctx context.Context, e ircconn.NickChanged) {
	if e.Self {
		c.managementNotice(ctx, fmt.Sprintf("You are now known as %s on %s.", e.New, c.networkName()))
		return
	}
	text := fmt.Sprintf("%s is now known as %s (the server reported the change). This chat continues with %s.", e.Old, e.New, e.New)
	if account := c.watch.accountOf(e.Old); account != "" {
		text += fmt.Sprintf(" %s is identified to the network's services as %q.", e.New, account)
	}
	c.renamePeer(ctx, e.Old, e.New, text, true)
}

// renamePeer moves the DM portal of oldNick to newNick: the same room, the
// same ghost (with a new display name) and the same OTR session, with
// notice saying why (with coalesce, renames.go's limit applies: the
// server reports renames as fast as a peer makes them). Only the server's
// report of a rename or the user's `follow` may call it.
func (c *IRCClient) renamePeer(ctx context.Context, oldNick, newNick, notice string, coalesce bool) {
	portal, uid := c.existingPortal(ctx, oldNick)
	if portal == nil {
		c.forgetNick(oldNick)
		return
	}
	c.peerRenamed(oldNick, newNick, uid)
	c.watch.renamed(uid, oldNick, newNick)
	c.setPortalNick(uid, portal, newNick)
	c.refreshGhost(ctx, uid, newNick)
	if coalesce && !c.renames.admit(uid, newNick) {
		notice = "" // counted for the summary
	}
	c.otr.PeerRenamed(ctx, c.link(uid, newNick), notice)
}

// peerNumericText explains an IRC numeric about a peer.
func peerNumericText(code, nick, text string) string {
	text = ircfmt.Strip(text)
	switch code {
	case "301":
		return fmt.Sprintf("%s is away: %s", nick, text)
	case "401":
		return fmt.Sprintf("%s is not on IRC right now (401 no such nick).", nick)
	case "404":
		return fmt.Sprintf("The server did not let the message through to %s (404: %s).", nick, text)
	case "477", "486":
		return fmt.Sprintf("%s only accepts messages from users logged in to an account (%s: %s).", nick, code, text)
	case "531", "716":
		return fmt.Sprintf("%s blocks private messages (%s: %s).", nick, code, text)
	case "717":
		return fmt.Sprintf("The server told %s that you tried to message them; they have to accept you (/ACCEPT) first.", nick)
	case "718":
		return fmt.Sprintf("%s tried to message you, but your user mode +g blocks them (718).", nick)
	}
	return fmt.Sprintf("%s: %s %s", nick, code, text)
}

// tellPeer shows a notice about nick in its DM portal, if it has one (see
// peerNotice).
func (c *IRCClient) tellPeer(ctx context.Context, nick, text string) {
	if portal, uid := c.existingPortal(ctx, nick); portal != nil {
		c.peerNotice(ctx, uid, text)
	}
}

// sendNotice posts a bridge notice into a portal room now. Where its place
// among the portal's messages matters, call it from the portal's event loop
// (queuePortalNotice).
func (c *IRCClient) sendNotice(ctx context.Context, portal *bridgev2.Portal, text string) {
	if portal == nil || portal.MXID == "" {
		return
	}
	_, err := c.ic.Bridge.Bot.SendMessage(ctx, portal.MXID, event.EventMessage, &event.Content{
		Parsed: &event.MessageEventContent{MsgType: event.MsgNotice, Body: text},
	}, nil)
	if err != nil {
		c.log.Err(err).Msg("Failed to send notice to portal")
	}
}

// portalNotice posts a notice into a peer's DM portal, creating the room if
// it does not exist yet. It runs on the peer's effect queue (PeerLink.Notice)
// and hands the notice to the portal's event queue, so that it stays in
// order with the peer's messages and the topic, which go there too.
func (c *IRCClient) portalNotice(ctx context.Context, p *peerLink, text string) {
	portal, err := c.ic.Bridge.GetPortalByKey(ctx, portalKeyFor(p.id, c.login.ID))
	if err != nil {
		c.log.Err(err).Msg("Failed to get portal for notice")
		return
	}
	if portal.MXID == "" {
		c.updateGhost(ctx, p.id, p.nick)
		if err := portal.CreateMatrixRoom(ctx, c.login, c.chatInfo(p.id)); err != nil {
			c.log.Err(err).Msg("Failed to create portal room for notice")
			c.managementNotice(ctx, fmt.Sprintf("[%s] %s", p.nick, text))
			return
		}
	}
	c.queuePortalNotice(portal.PortalKey, text)
}

// queuePortalNotice queues a bridge notice on the portal's event queue.
func (c *IRCClient) queuePortalNotice(key networkid.PortalKey, text string) {
	c.login.QueueRemoteEvent(&simplevent.EventMeta{
		Type:      bridgev2.RemoteEventUnknown,
		PortalKey: key,
		PreHandleWithResultFunc: func(ctx context.Context, portal *bridgev2.Portal) *bridgev2.EventHandlingResult {
			c.sendNotice(ctx, portal, text)
			res := bridgev2.EventHandlingResultSuccess
			return &res
		},
	})
}
