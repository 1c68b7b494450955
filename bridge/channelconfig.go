package bridge

import (
	"fmt"

	up "go.mau.fi/util/configupgrade"
)

// ChannelsConfig is `network.channels`: the limits of channel portals.
// Everything a stranger in a channel can make the bridge create is bounded
// here.
type ChannelsConfig struct {
	// MaxPerUser is the most channels one login may be in; default 20.
	MaxPerUser int `yaml:"max_per_user"`
	// MaxRoomMembers is the most IRC members a channel room shows as
	// ghosts; default 500. The lines of the others are posted by the
	// bridge bot with the nick in front.
	MaxRoomMembers int `yaml:"max_room_members"`
	// InitialMembers is how many ghosts a new channel room starts with
	// (operators and voiced users first); the rest follow in the
	// background. Default 20.
	InitialMembers int `yaml:"initial_members"`
	// GhostsPerSecond and GhostBurst are the per-network budget for adding
	// ghosts to channel rooms; defaults 5 and 20.
	GhostsPerSecond float64 `yaml:"ghosts_per_second"`
	GhostBurst      int     `yaml:"ghost_burst"`
}

// Defaults of ChannelsConfig.
const (
	defaultChannelsPerUser  = 20
	defaultMaxRoomMembers   = 500
	defaultInitialMembers   = 20
	defaultGhostsPerSecond  = 5
	defaultGhostBurst       = 20
	maxChannelsPerUserLimit = 500
)

// validate fills in the defaults and refuses nonsense.
func (cc *ChannelsConfig) validate() error {
	if cc.MaxPerUser < 0 || cc.MaxRoomMembers < 0 || cc.InitialMembers < 0 || cc.GhostsPerSecond < 0 || cc.GhostBurst < 0 {
		return fmt.Errorf("network.channels: limits must not be negative")
	}
	if cc.MaxPerUser == 0 {
		cc.MaxPerUser = defaultChannelsPerUser
	}
	if cc.MaxPerUser > maxChannelsPerUserLimit {
		return fmt.Errorf("network.channels.max_per_user: at most %d", maxChannelsPerUserLimit)
	}
	if cc.MaxRoomMembers == 0 {
		cc.MaxRoomMembers = defaultMaxRoomMembers
	}
	if cc.InitialMembers == 0 {
		cc.InitialMembers = defaultInitialMembers
	}
	if cc.InitialMembers > cc.MaxRoomMembers {
		cc.InitialMembers = cc.MaxRoomMembers
	}
	if cc.GhostsPerSecond == 0 {
		cc.GhostsPerSecond = defaultGhostsPerSecond
	}
	if cc.GhostBurst == 0 {
		cc.GhostBurst = defaultGhostBurst
	}
	return nil
}

// upgradeChannels copies the user's `channels:` over the example.
func upgradeChannels(helper up.Helper) {
	helper.Copy(up.Int, "channels", "max_per_user")
	helper.Copy(up.Int, "channels", "max_room_members")
	helper.Copy(up.Int, "channels", "initial_members")
	helper.Copy(up.Float, "channels", "ghosts_per_second")
	helper.Copy(up.Int, "channels", "ghost_burst")
}

// exampleChannels is the `channels:` part of ExampleConfig.
const exampleChannels = `
# IRC channels (join, part): one room per channel, shared by the bridged users in it.
# Messages in channels are plaintext on IRC; OTR is for direct chats.
channels:
    # The most channels one user may be in per network.
    max_per_user: 20
    # The most IRC members a channel room shows; the lines of the others are posted
    # by the bridge bot with the nick in front.
    max_room_members: 500
    # Members a new channel room starts with (operators first); the rest join in the background.
    initial_members: 20
    # Budget per network for adding IRC members to channel rooms (anyone can join a channel).
    ghosts_per_second: 5
    ghost_burst: 20`
