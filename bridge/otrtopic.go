package bridge

import (
	"context"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// otrTopic is the DM portal's topic for an OTR state.
func otrTopic(s otrsession.State) string {
	return "OTR: " + s.String()
}

// showOTRState shows the state of the conversation with a peer in its DM
// portal's topic (an existing portal only).
func (c *IRCClient) showOTRState(ctx context.Context, p *peerLink, s otrsession.State) {
	br := c.ic.Bridge
	portal, err := br.GetExistingPortalByKey(ctx, portalKeyFor(p.id, c.login.ID))
	if err != nil || portal == nil || portal.MXID == "" {
		return
	}
	topic := otrTopic(s)
	if portal.Topic == topic {
		return
	}
	_, err = br.Bot.SendState(ctx, portal.MXID, event.StateTopic, "", &event.Content{
		Parsed: &event.TopicEventContent{Topic: topic},
	}, time.Time{})
	if err != nil {
		c.login.Log.Warn().Err(err).Msg("Failed to show the OTR state in the portal topic")
		return
	}
	portal.Topic = topic
}
