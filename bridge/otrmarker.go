package bridge

import (
	"context"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Marks on the user's own Matrix messages, as reactions of the bot.
// Matrix does not encrypt reactions: the homeserver sees the mark (not the
// message).
const (
	// unencryptedMark: the message went to IRC in plaintext.
	unencryptedMark = "🔓 sent unencrypted"
	// unreadMark: the message was encrypted for a private conversation
	// the peer's client has lost; the peer may not have read it.
	unreadMark = "⚠️ may not have been read"
)

// markUnencrypted marks the Matrix message evt as sent unencrypted.
func (c *IRCClient) markUnencrypted(ctx context.Context, p *peerLink, evt id.EventID) {
	c.markMessages(ctx, p, unencryptedMark, evt)
}

// markMessages reacts with key to the Matrix messages evts in the peer's
// DM portal.
func (c *IRCClient) markMessages(ctx context.Context, p *peerLink, key string, evts ...id.EventID) {
	br := c.ic.Bridge
	portal, err := br.GetExistingPortalByKey(ctx, portalKeyFor(p.id, c.login.ID))
	if err != nil || portal == nil || portal.MXID == "" {
		return
	}
	for _, evt := range evts {
		_, err = br.Bot.SendMessage(ctx, portal.MXID, event.EventReaction, &event.Content{
			Parsed: &event.ReactionEventContent{RelatesTo: event.RelatesTo{Type: event.RelAnnotation, EventID: evt, Key: key}},
		}, nil)
		if err != nil {
			c.login.Log.Warn().Err(err).Str("mark", key).Msg("Failed to mark a message")
		}
	}
}
