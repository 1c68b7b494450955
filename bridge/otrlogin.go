package bridge

import (
	"context"

	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// newOTRManager builds the OTR session manager of a login.
func newOTRManager(c *IRCClient) (*otrsession.Manager, error) {
	maxFragment := 0
	if c.netCfg != nil {
		maxFragment = c.netCfg.MaxFragmentSize
	}
	return otrsession.New(otrsession.Config{
		DB:              c.ic.DB,
		Seal:            c.ic.otrKey,
		User:            c.login.UserMXID,
		Network:         c.meta.Network,
		DefaultPolicy:   c.ic.Config.Policy(c.meta.Network),
		HoldTimeout:     c.ic.Config.OTR.Hold(),
		IsService:       c.ic.Config.IsService,
		MaxFragmentSize: maxFragment,
		Resolve:         c.peerByNick,
		Account:         c.login.RemoteName,
		Log:             c.login.Log.With().Str("component", "otr").Logger(),
		OnEvent:         c.ic.metrics.otrEvent,
	})
}

// peerByNick returns the peer that currently has nick (for control-room
// commands such as `init bob`). It does not create a portal.
func (c *IRCClient) peerByNick(ctx context.Context, nick string) (otrsession.PeerLink, error) {
	if err := validateNick(nick); err != nil {
		return nil, err
	}
	uid, err := c.peerID(ctx, nick)
	if err != nil {
		return nil, err
	}
	return c.link(uid, nick), nil
}

// announceRestarted tells the portals whose private conversation a bridge
// restart cut off, right after the login connected, instead of at the
// peer's next message.
func (c *IRCClient) announceRestarted(ctx context.Context) {
	for _, uid := range c.otr.RestartedPeers() {
		portal, err := c.ic.Bridge.GetExistingPortalByKey(ctx, portalKeyFor(uid, c.login.ID))
		if err != nil || portal == nil || portal.MXID == "" {
			continue
		}
		_, nick, ok := parseUserID(uid)
		if !ok {
			continue
		}
		if current := portalNick(portal); current != "" {
			nick = current
		}
		c.otr.Announce(ctx, c.link(uid, nick))
	}
}
