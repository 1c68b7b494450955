package bridge

import (
	"context"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// The OTR seam. Every message between a DM portal and the IRC connection
// passes through the login's MessageFilter: Matrix → Send → PeerLink.SendLines
// → IRC, and IRC → Receive → PeerLink.Deliver → Matrix. The bridge itself
// knows nothing about OTR; issue 4 sets IRCConnector.NewFilter to a filter
// that owns one OTR session per peer (keyed by PeerLink.PeerID, which stays
// the same when the peer changes nick). Until then passThrough is used.

// OutgoingText is one Matrix message converted to IRC text.
type OutgoingText struct {
	Kind ircconn.Kind
	// Lines are the logical lines of the message (IRC formatting codes, no
	// CR/LF, none empty). They are not yet split to the line budget.
	Lines []string
	// Event is the Matrix event being sent (to mark it, e.g. as sent
	// unencrypted); empty for messages that have no event.
	Event id.EventID
}

// IncomingText is one message received from the peer.
type IncomingText struct {
	Kind ircconn.Kind
	// Text is the IRC text as received (may contain formatting codes).
	Text string
	// HTML, when set by a filter, is Matrix HTML to show instead of Text
	// (for example sanitised HTML from an OTR peer such as pidgin).
	HTML  string
	Time  time.Time
	MsgID string
	// Annotation, when set by a filter, is a bridge remark shown with the
	// message (e.g. "received unencrypted"), visibly apart from the text.
	Annotation string
}

// PeerLink is what a filter can do with one peer.
type PeerLink interface {
	// PeerID is the stable ID of the peer (ghost and portal ID); it does not
	// change when the peer changes nick.
	PeerID() networkid.UserID
	// Nick is the peer's current nick.
	Nick() string
	// LineBudget is how many bytes of text fit into one line to the peer.
	LineBudget(kind ircconn.Kind) int
	// SendLines sends lines to the peer as one unit (paced, never
	// interleaved with another message) and waits for the server's
	// confirmation where the server offers it. Each line must fit LineBudget.
	SendLines(ctx context.Context, kind ircconn.Kind, lines []string) error
	// Deliver shows a message from the peer in the DM portal (creating the
	// portal if needed).
	Deliver(ctx context.Context, msg IncomingText)
	// Notice shows a bridge notice in the DM portal (creating it if needed).
	Notice(ctx context.Context, text string)
}

// MessageFilter transforms the traffic with all peers of one login.
type MessageFilter interface {
	// Send delivers one Matrix message to the peer. It returns nil once the
	// message is on its way (confirmed where possible) and an error when it
	// was not sent; the error is shown to the Matrix user. It must never drop
	// a message silently.
	Send(ctx context.Context, peer PeerLink, msg OutgoingText) error
	// Receive handles one message from the peer.
	Receive(ctx context.Context, peer PeerLink, msg IncomingText)
	// PeerRenamed is called after the peer changed nick (the PeerLink keeps
	// its PeerID and reports the new Nick).
	PeerRenamed(ctx context.Context, peer PeerLink, oldNick string)
	// Disconnected is called when the IRC connection is lost or closed.
	Disconnected(ctx context.Context)
}

// passThrough sends and shows messages unchanged.
type passThrough struct{}

func (passThrough) Send(ctx context.Context, peer PeerLink, msg OutgoingText) error {
	lines := splitLines(msg.Lines, peer.LineBudget(msg.Kind))
	if len(lines) == 0 {
		return errEmptyMessage
	}
	return peer.SendLines(ctx, msg.Kind, lines)
}

func (passThrough) Receive(ctx context.Context, peer PeerLink, msg IncomingText) {
	peer.Deliver(ctx, msg)
}

func (passThrough) PeerRenamed(context.Context, PeerLink, string) {}
func (passThrough) Disconnected(context.Context)                  {}

// Filter returns the login's message filter.
func (c *IRCClient) Filter() MessageFilter { return c.filter }

// PeerForPortal returns the peer of a DM portal of this login (for portal
// commands such as `!otr init`).
func (c *IRCClient) PeerForPortal(ctx context.Context, portal *bridgev2.Portal) (PeerLink, error) {
	return c.portalPeer(ctx, portal)
}

// PeerByNick returns the peer that currently has nick (for control-room
// commands such as `init bob`). It does not create a portal.
func (c *IRCClient) PeerByNick(ctx context.Context, nick string) (PeerLink, error) {
	if err := validateNick(nick); err != nil {
		return nil, err
	}
	uid, err := c.peerID(ctx, nick)
	if err != nil {
		return nil, err
	}
	return c.link(uid, nick), nil
}

// Connector returns the network connector (config, database, bridge).
func (c *IRCClient) Connector() *IRCConnector { return c.ic }

// NetworkConfig returns the configuration of this login's network.
func (c *IRCClient) NetworkConfig() *NetworkConfig { return c.netCfg }

// PortalKey returns the key of a peer's DM portal.
func (c *IRCClient) PortalKey(peer PeerLink) networkid.PortalKey {
	return portalKeyFor(peer.PeerID(), c.login.ID)
}

// ClientForCommand picks the login a command applies to, like the IRC
// commands do: the portal's login in a DM portal; else a leading network
// key when there are more than minArgs arguments; else the only login. It
// replies to the user and returns nil when that is ambiguous.
func ClientForCommand(ce *commands.Event, minArgs int) (*IRCClient, []string) {
	return commandClient(ce, minArgs)
}

// Optional filter extensions, found by type assertion so that bridge does
// not depend on the OTR package.
type (
	// filterCloser is told when the login's client goes away for good.
	filterCloser interface{ Close() }
	// restartAnnouncer tells portals whose private conversation a restart
	// cut off, right after the login connects.
	restartAnnouncer interface {
		RestartedPeers() []networkid.UserID
		Announce(ctx context.Context, link PeerLink)
	}
)

// announceRestarted gives restart notices for peers the filter lists.
func (c *IRCClient) announceRestarted(ctx context.Context) {
	ra, ok := c.filter.(restartAnnouncer)
	if !ok {
		return
	}
	for _, uid := range ra.RestartedPeers() {
		portal, err := c.ic.Bridge.GetExistingPortalByKey(ctx, portalKeyFor(uid, c.login.ID))
		if err != nil || portal == nil || portal.MXID == "" {
			continue
		}
		_, nick, ok := parseUserID(uid)
		if !ok {
			continue
		}
		if meta, ok := portal.Metadata.(*PortalMetadata); ok && meta.Nick != "" {
			nick = meta.Nick
		}
		ra.Announce(ctx, c.link(uid, nick))
	}
}
