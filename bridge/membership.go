package bridge

import (
	"context"

	"maunium.net/go/mautrix/bridgev2"
)

var _ bridgev2.MembershipHandlingNetworkAPI = (*IRCClient)(nil)

// HandleMatrixMembership: in a channel room membership is the channel's
// (channelmatrix.go). Membership in a DM portal has no IRC side (the peer
// is on IRC whatever happens in the room), so joining, leaving and
// inviting there are accepted as they are. Without this bridgev2 reports
// the user's own join to every new chat as failed ("does not support
// changing group membership"). With it, bridgev2 acts on the user leaving
// a DM portal: it forgets that the user is in the portal, and queueing the
// peer's next message (UserLogin.MarkInPortal) invites them back, with no
// membership lookup per message.
func (c *IRCClient) HandleMatrixMembership(ctx context.Context, msg *bridgev2.MatrixMembershipChange) (*bridgev2.MatrixMembershipResult, error) {
	if isChannelPortal(msg.Portal.PortalKey) {
		return c.handleChannelMembership(ctx, msg)
	}
	return nil, nil
}
