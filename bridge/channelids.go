package bridge

import (
	"strings"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

// A channel's portal is shared by every bridged user in the channel: its key
// has an empty receiver and the ID "<network>/<casemapped channel>". Network
// keys and DM portal IDs ("<network>.<nick>[.<n>]") contain no "/", so a
// channel ID never parses as a peer and the part before the first "/" is
// always the network.

func channelPortalKey(network, foldedChannel string) networkid.PortalKey {
	return networkid.PortalKey{ID: networkid.PortalID(network + "/" + foldedChannel)}
}

// parseChannelPortalID splits a channel portal ID into network and
// casemapped channel.
func parseChannelPortalID(pid networkid.PortalID) (network, foldedChannel string, ok bool) {
	network, foldedChannel, ok = strings.Cut(string(pid), "/")
	if !ok || !networkKeyRegex.MatchString(network) || foldedChannel == "" {
		return "", "", false
	}
	return network, foldedChannel, true
}

// isChannelPortal reports whether a portal is a channel portal.
func isChannelPortal(key networkid.PortalKey) bool {
	_, _, ok := parseChannelPortalID(key.ID)
	return ok && key.Receiver == ""
}
