package otrsession

import (
	"context"
	"time"

	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// OutgoingText is one Matrix message converted to IRC text.
type OutgoingText struct {
	Kind ircconn.Kind
	// Lines are the logical lines of the message (IRC formatting codes, no
	// CR/LF, none empty). They are not yet split to the line budget.
	Lines []string
	// Event is the Matrix event being sent; empty for messages that have
	// no event.
	Event id.EventID
	// OutsideOTR names what the message only links to, such as "the file
	// report.pdf": content fetched from the link, outside OTR. In a
	// private conversation such a message is sent only after the user was
	// told and sent it again; under policy always never.
	OutsideOTR string
	// PlaintextLines, when not nil, are sent instead of Lines if the
	// message goes out unencrypted: Lines then quote an earlier message
	// that went inside the private conversation (a reply's quote, the
	// message a reaction is to), and that text must not leave it.
	PlaintextLines []string
}

// unencrypted is msg as it goes out unencrypted.
func (msg OutgoingText) unencrypted() OutgoingText {
	if msg.PlaintextLines != nil {
		msg.Lines, msg.PlaintextLines = msg.PlaintextLines, nil
	}
	return msg
}

// IncomingText is one message received from the peer.
type IncomingText struct {
	Kind ircconn.Kind
	// Text is IRC text (may contain formatting codes): as received, or
	// decrypted, with a peer's HTML reduced to IRC formatting.
	Text  string
	Time  time.Time
	MsgID string
	// Annotation, when set, is a bridge remark shown with the message
	// (e.g. "unencrypted"), visibly apart from the text.
	Annotation string
	// Encrypted: the message came inside the private conversation.
	Encrypted bool
}

// PeerLink is what the session manager can do with one peer: the IRC side
// (SendLines, SendReply) and the Matrix side (Deliver, Notice, ShowState). The
// manager calls the Matrix side from the peer's effect queue, one call at a
// time and in order for each peer; those calls may take as long as the
// homeserver does, nothing on the IRC side waits for them.
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
	// SendReply sends an automatic OTR reply (to the peer's key exchange,
	// query, error or SMP message) as one PRIVMSG unit, like SendLines but
	// as an automatic message: after the user's own messages, within the
	// connection's budget for automatic messages, and dropped with an error
	// wrapping ircconn.ErrDropped when it cannot go out in time.
	SendReply(ctx context.Context, lines []string) error
	// Deliver shows a message from the peer in the DM portal (creating the
	// portal if needed).
	Deliver(ctx context.Context, msg IncomingText)
	// Notice shows a bridge notice in the DM portal (creating it if needed).
	Notice(ctx context.Context, text string)
	// Unconfirmed marks messages (Matrix events sent with OutgoingText.Event)
	// that the peer may not have read: its client lost the private
	// conversation they were encrypted for.
	Unconfirmed(ctx context.Context, events []id.EventID)
	// MarkUnencrypted marks the Matrix message evt as sent to the peer in
	// plaintext (after it went out).
	MarkUnencrypted(ctx context.Context, evt id.EventID)
	// ShowState shows the state of the conversation at a glance (the DM
	// portal's topic); it is called at every change (not for the
	// plaintext state of a new peer: no topic says just that).
	ShowState(ctx context.Context, s State)
}
