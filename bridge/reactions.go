package bridge

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// IRC has no reactions. A reaction in a DM portal goes to the peer as a
// short emote, the way IRC users write one ("* alice reacted 👍 to: see
// you at 8"), through the same path as a message: inside OTR in a private
// conversation, refused and explained like a message when it cannot go.
// The start of the message it is to goes only where that message went
// (quotes.go): unencrypted, a reaction to a private message is only
// "reacted 👍". Taking a reaction back is refused with a notice: IRC cannot
// take a line back, and the peer has read it.

var _ bridgev2.ReactionHandlingNetworkAPI = (*IRCClient)(nil)

// maxReactionKeyBytes bounds the reaction's key in the emote: usually one
// emoji, but any text is allowed.
const maxReactionKeyBytes = 32

// PreHandleMatrixReaction names each key as its own reaction (EmojiID):
// without one, bridgev2 keeps one reaction per sender and message, and a
// second key would replace the first, the bot redacting it in Matrix
// although the peer got an emote for each. The same key again is a
// duplicate that bridgev2 drops (the peer has it).
func (c *IRCClient) PreHandleMatrixReaction(ctx context.Context, msg *bridgev2.MatrixReaction) (bridgev2.MatrixReactionPreResponse, error) {
	return bridgev2.MatrixReactionPreResponse{
		SenderID: makeUserID(c.meta.Network, c.fold(c.ownNick()), 1),
		EmojiID:  networkid.EmojiID(msg.Content.RelatesTo.Key),
		Emoji:    msg.Content.RelatesTo.Key,
	}, nil
}

func (c *IRCClient) HandleMatrixReaction(ctx context.Context, msg *bridgev2.MatrixReaction) (*database.Reaction, error) {
	p, err := c.portalPeer(ctx, msg.Portal)
	if err != nil {
		return nil, c.reportFailure(ctx, msg.Portal, msg.Event, unsupported(err))
	}
	out := reactionMessage(msg.Content.RelatesTo.Key, c.messageSnippet(ctx, msg.Portal, msg.TargetMessage), msg.TargetMessage)
	if _, err := c.sendToPeer(ctx, p, out); err != nil {
		return nil, c.reportFailure(ctx, msg.Portal, msg.Event, sendFailure(err))
	}
	return &database.Reaction{}, nil
}

// errReactionStays explains why removing a reaction changes nothing on IRC.
var errReactionStays = errors.New("IRC cannot take back a reaction; the peer got it as a message, and that stays")

// HandleMatrixReactionRemove refuses visibly: bridgev2 stores only
// reactions that reached IRC, so the peer has the emote already. The notice
// replies to the message the reaction was on.
func (c *IRCClient) HandleMatrixReactionRemove(ctx context.Context, msg *bridgev2.MatrixReactionRemove) error {
	f := reactionStays()
	c.failureNotice(ctx, msg.Portal.MXID, c.reactedMessage(ctx, msg.Portal, msg.TargetReaction), msg.Event.Sender, f)
	return f.status()
}

// reactionStays is the refusal to take back a reaction.
func reactionStays() failure {
	f := unsupported(errReactionStays)
	f.what = "Taking back your reaction"
	return f
}

// reactedMessage is the Matrix event the reaction r is on; "" if unknown.
func (c *IRCClient) reactedMessage(ctx context.Context, portal *bridgev2.Portal, r *database.Reaction) id.EventID {
	if portal.MXID == "" || r == nil {
		return ""
	}
	msg, err := c.ic.Bridge.DB.Message.GetPartByID(ctx, portal.Receiver, r.MessageID, r.MessagePartID)
	if err != nil || msg == nil {
		return ""
	}
	return msg.MXID
}

// reactionMessage is the emote for a reaction with key to target, which
// begins with snippet: unencrypted without the snippet unless target went
// in plaintext itself.
func reactionMessage(key, snippet string, target *database.Message) otrsession.OutgoingText {
	// No Event: the 🔓 marker is for messages, not for reactions.
	out := otrsession.OutgoingText{Kind: ircconn.Action, Lines: []string{reactionText(key, snippet)}}
	if !wentInPlaintext(target) {
		out.PlaintextLines = []string{reactionText(key, "")}
	}
	return out
}

// reactionText is the emote for a reaction with key to the message that
// begins with snippet ("" if unknown).
func reactionText(key, snippet string) string {
	what := "reacted " + reactionKey(key)
	if snippet == "" {
		return what
	}
	return what + " to: " + snippet
}

// reactionKey shows a reaction's key on one IRC line: custom emoji (an
// image) are named, control characters dropped, long keys shortened.
func reactionKey(key string) string {
	if strings.HasPrefix(key, "mxc://") {
		return "with an image"
	}
	key = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, key)
	key = shorten(strings.TrimSpace(key), maxReactionKeyBytes)
	if key == "" {
		return "with an empty reaction"
	}
	return key
}
