package bridge

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// Where a direct message from IRC goes, and how a new peer's chat is
// opened. A peer with a chat gets its lines delivered at once. For a new
// peer the gate (strangers.go) decides; an admitted one gets its room and
// ghost created off the IRC reader, which must never wait for the
// homeserver, by a goroutine that holds one of the connector's
// chatOpeners slots: however many new peers write to however many logins,
// at most chatOpeners rooms are being created at once. The peer's lines
// wait in the gate meanwhile and are delivered in order once the room is
// there.

// chatOpeners bounds the rooms being created at once, bridge-wide.
const chatOpeners = 4

// newStrangerGate builds the login's gate from network.limits.
func (c *IRCClient) newStrangerGate() *strangerGate {
	n, window := c.ic.Config.Limits.NewPeerBudget()
	return newStrangerGate(n, window, c.ic.Config.Limits.MessageRequests, c.ic.Config.Limits.RequestLifetime(), func(text string) {
		goSafe(c.log, "strangers summary", func() {
			c.managementNotice(c.log.WithContext(c.ic.Bridge.BackgroundCtx), c.onNetwork(text))
		})
	})
}

// onNetwork prefixes a control-room notice with the network when the user
// has logins on several.
func (c *IRCClient) onNetwork(text string) string {
	if len(c.login.User.GetUserLogins()) > 1 {
		return "[" + c.networkName() + "] " + text
	}
	return text
}

// routeMessage passes a direct message from a peer on, through the gate.
// A line from a declined or refused stranger is dropped before the
// database is asked who sent it: a flood of them must cost no query (on
// the IRC reader, under bridgev2's portal cache lock).
func (c *IRCClient) routeMessage(ctx context.Context, e ircconn.Message) {
	if folded := c.fold(e.From.Nick); !c.hasAlias(folded) {
		if v, drop := c.strangers.dropEarly(folded); drop {
			if v == verdictRefused {
				c.log.Debug().Msg("New peer over the budget: message dropped")
			}
			return
		}
	}
	uid, err := c.lookupPeerID(ctx, e.From.Nick, false)
	if err != nil {
		c.log.Err(err).Msg("Dropping IRC message: no portal for the sender")
		c.managementNotice(ctx, c.onNetwork(fmt.Sprintf("A message from %s could not be bridged: %v", e.From.Nick, err)))
		return
	}
	lines, v := c.strangers.route(uid, e, func() bool { return c.hasChat(ctx, uid) })
	switch v {
	case verdictDeliver:
		for _, m := range lines {
			c.receiveFromPeer(ctx, uid, m)
		}
	case verdictOpen:
		goSafe(c.log, "open chat", func() { c.openChat(uid, e.From.Nick, e.From.User+"@"+e.From.Host) })
	case verdictRequest:
		c.managementNotice(ctx, c.onNetwork(requestText(e.From.Nick, c.commandNetwork(), c.strangers.expiry)))
	case verdictRefused:
		c.log.Debug().Str("peer", string(uid)).Msg("New peer over the budget: message dropped")
	}
}

// commandNetwork is the network argument commands need when the user has
// logins on several networks ("" otherwise).
func (c *IRCClient) commandNetwork() string {
	if len(c.login.User.GetUserLogins()) > 1 {
		return c.meta.Network + " "
	}
	return ""
}

// requestText announces a message request.
func requestText(nick, network string, expiry time.Duration) string {
	return fmt.Sprintf("%s wants to message you. `accept %s%s` opens the chat and shows what they wrote; `decline %s%s` drops it; without either it is dropped in %s. (`requests` lists all.)",
		nick, network, nick, network, nick, durationText(expiry))
}

// hasChat reports whether the peer has a room with the user.
func (c *IRCClient) hasChat(ctx context.Context, uid networkid.UserID) bool {
	portal, err := c.ic.Bridge.GetExistingPortalByKey(ctx, portalKeyFor(uid, c.login.ID))
	if err != nil {
		c.log.Err(err).Msg("Failed to look up a portal")
		return false
	}
	return portal != nil && portal.MXID != ""
}

// receiveFromPeer hands one line of a peer with a chat to OTR (and from
// there to the portal).
func (c *IRCClient) receiveFromPeer(ctx context.Context, uid networkid.UserID, e ircconn.Message) {
	c.rememberPeer(e.From.Nick, uid)
	c.refreshGhost(ctx, uid, e.From.Nick)
	c.watch.seen(uid, e.From.Nick, e.From.User, e.From.Host, e.Account)
	link := c.link(uid, e.From.Nick)
	link.userHost = e.From.User + "@" + e.From.Host
	c.otr.Receive(ctx, link, otrsession.IncomingText{
		Kind:  e.Kind,
		Text:  e.Text,
		Time:  e.Time,
		MsgID: e.MsgID,
	})
}

// openChat creates the room of an admitted new peer and then delivers the
// lines that waited for it.
func (c *IRCClient) openChat(uid networkid.UserID, nick, userHost string) {
	ctx := c.log.WithContext(c.ic.Bridge.BackgroundCtx)
	var err error
	c.ic.chatOpeners <- struct{}{}
	safely(c.log, "create chat", func() { err = c.createChat(ctx, uid, nick, userHost) })
	<-c.ic.chatOpeners
	if err != nil {
		// Delivering still tries: bridgev2 creates the room with the
		// first message if it can.
		c.log.Err(err).Str("peer", string(uid)).Msg("Failed to create the room of a new peer")
	}
	for {
		m, ok := c.strangers.nextOpened(uid)
		if !ok {
			return
		}
		safely(c.log, "receive", func() { c.receiveFromPeer(ctx, uid, m) })
	}
}

// createChat creates the ghost and the DM room of a peer.
func (c *IRCClient) createChat(ctx context.Context, uid networkid.UserID, nick, userHost string) error {
	c.updateGhost(ctx, uid, nick)
	portal, err := c.ic.Bridge.GetPortalByKey(ctx, portalKeyFor(uid, c.login.ID))
	if err != nil {
		return err
	}
	if portal.MXID != "" {
		return nil
	}
	if meta, ok := portal.Metadata.(*PortalMetadata); ok && meta.peerNick() == "" {
		meta.seen(nick, userHost, c.fold)
	}
	return portal.CreateMatrixRoom(ctx, c.login, c.chatInfo(uid))
}

// refreshGhost updates the ghost's display name when the peer's nick
// changed, off the IRC reader.
func (c *IRCClient) refreshGhost(ctx context.Context, uid networkid.UserID, nick string) {
	if ghost, err := c.ic.Bridge.GetGhostByID(ctx, uid); err == nil {
		if meta, ok := ghost.Metadata.(*GhostMetadata); ok && meta.Nick == nick {
			return
		}
	}
	if !c.ghostNicks.put(uid, nick) {
		return
	}
	go func() {
		c.ic.chatOpeners <- struct{}{}
		defer func() { <-c.ic.chatOpeners }()
		for {
			nick, ok := c.ghostNicks.take(uid)
			if !ok {
				return
			}
			safely(c.log, "ghost update", func() { c.updateGhost(ctx, uid, nick) })
		}
	}()
}
