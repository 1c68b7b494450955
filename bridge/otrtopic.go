package bridge

import (
	"context"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/simplevent"

	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// otrTopic is the DM portal's topic for an OTR state.
func otrTopic(s otrsession.State) string {
	return "OTR: " + s.String()
}

// showOTRState shows the state of the conversation with a peer in its DM
// portal's topic (an existing portal only). It goes through the portal's
// event queue as a chat info change, set by the bridge bot: bridgev2 saves
// it with the portal and orders it with the peer's messages.
func (c *IRCClient) showOTRState(_ context.Context, p *peerLink, s otrsession.State) {
	topic := otrTopic(s)
	c.login.QueueRemoteEvent(&simplevent.ChatInfoChange{
		EventMeta: simplevent.EventMeta{
			Type:      bridgev2.RemoteEventChatInfoChange,
			PortalKey: portalKeyFor(p.id, c.login.ID),
		},
		ChatInfoChange: &bridgev2.ChatInfoChange{ChatInfo: &bridgev2.ChatInfo{Topic: &topic}},
	})
}
