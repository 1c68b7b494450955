package bridge

import (
	"context"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// unencryptedMark is the reaction on Matrix messages that went to IRC in
// plaintext although OTR is enabled for the peer.
const unencryptedMark = "🔓 sent unencrypted"

// markUnencrypted reacts to the Matrix message evt in the peer's DM
// portal with unencryptedMark.
func (c *IRCClient) markUnencrypted(ctx context.Context, p *peerLink, evt id.EventID) {
	br := c.ic.Bridge
	portal, err := br.GetExistingPortalByKey(ctx, portalKeyFor(p.id, c.login.ID))
	if err != nil || portal == nil || portal.MXID == "" {
		return
	}
	_, err = br.Bot.SendMessage(ctx, portal.MXID, event.EventReaction, &event.Content{
		Parsed: &event.ReactionEventContent{RelatesTo: event.RelatesTo{Type: event.RelAnnotation, EventID: evt, Key: unencryptedMark}},
	}, nil)
	if err != nil {
		c.login.Log.Warn().Err(err).Msg("Failed to mark a message as sent unencrypted")
	}
}
