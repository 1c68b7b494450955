package bridge

import (
	"context"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/bridgev2/commands"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// HelpSectionChannels groups the channel commands in `help`.
var HelpSectionChannels = commands.HelpSection{Name: "IRC channels", Order: 26}

func channelCommands() []commands.CommandHandler {
	return []commands.CommandHandler{
		&commands.FullHandler{
			Func: fnJoin, Name: "join",
			Help: commands.HelpMeta{Section: HelpSectionChannels, Args: "[_network_] <_#channel_> [_key_]",
				Description: "Join an IRC channel; its room is shared with the other bridged users in it. Messages there are plaintext on IRC."},
			RequiresLogin: true, RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func: fnPart, Name: "part",
			Help: commands.HelpMeta{Section: HelpSectionChannels, Args: "[_network_] <_#channel_> [_reason_] (in a channel room: [_reason_])",
				Description: "Leave an IRC channel (leaving its room does the same)."},
			RequiresLogin: true, RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func: fnChannels, Name: "channels",
			Help:          commands.HelpMeta{Section: HelpSectionChannels, Args: "[_network_]", Description: "List your IRC channels."},
			RequiresLogin: true,
		},
	}
}

// channelRoomClient is the user's login for the channel room a command was
// sent in, or nil when the command was not sent in a channel room.
func channelRoomClient(ce *commands.Event) *IRCClient {
	if ce.Portal == nil || !isChannelPortal(ce.Portal.PortalKey) {
		return nil
	}
	network, _, _ := parseChannelPortalID(ce.Portal.ID)
	for _, login := range ce.User.GetUserLogins() {
		if c, ok := login.Client.(*IRCClient); ok && c.meta.Network == network {
			return c
		}
	}
	return nil
}

func fnJoin(ce *commands.Event) {
	c, args := commandClient(ce, 1)
	if c == nil {
		return
	}
	if len(args) < 1 || len(args) > 2 {
		ce.Reply("Usage: `join [network] <#channel> [key]`")
		return
	}
	key := ""
	if len(args) == 2 {
		key = args[1]
	}
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	if err := c.joinChannel(ctx, args[0], key); err != nil {
		ce.Reply("Not joined: %s", channelErrorText(err))
		return
	}
	ce.Reply("Joined %s on %s; its room follows. Messages there are plaintext on IRC.", args[0], c.networkName())
}

func fnPart(ce *commands.Event) {
	c := channelRoomClient(ce)
	args := ce.Args
	var name string
	if c != nil {
		_, folded, _ := parseChannelPortalID(ce.Portal.ID)
		name = c.ic.channels.room(c.meta.Network, folded).channelName()
	} else {
		c, args = commandClient(ce, 1)
		if c == nil {
			return
		}
		if len(args) < 1 {
			ce.Reply("Usage: `part [network] <#channel> [reason]`")
			return
		}
		name, args = args[0], args[1:]
	}
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	if err := c.partChannel(ctx, name, strings.Join(args, " ")); err != nil {
		ce.Reply("Not parted: %s", channelErrorText(err))
		return
	}
	ce.Reply("Left %s on %s.", name, c.networkName())
}

func fnChannels(ce *commands.Event) {
	c, _ := commandClient(ce, 0)
	if c == nil {
		return
	}
	stored, err := c.ic.DB.Channels.List(ce.Ctx, c.login.UserMXID, c.meta.Network)
	if err != nil {
		ce.Reply("Failed to read your channels: %v", err)
		return
	}
	if len(stored) == 0 {
		ce.Reply("You are in no channel on %s. `join <#channel>` joins one.", c.networkName())
		return
	}
	conn := c.connection()
	var b strings.Builder
	fmt.Fprintf(&b, "Your channels on %s (%d of at most %d):\n", c.networkName(), len(stored), c.ic.Config.Channels.MaxPerUser)
	for _, ch := range stored {
		state := "not joined now (rejoined when connected)"
		if conn != nil && conn.State() == ircconn.Connected {
			if info, in := conn.Channel(ch.Name); in {
				state = fmt.Sprintf("%d members", info.Count)
			} else {
				state = "not joined (the server refused the rejoin, see above)"
			}
		}
		fmt.Fprintf(&b, "* %s: %s\n", ch.Name, state)
	}
	ce.Reply("%s", strings.TrimSuffix(b.String(), "\n"))
}
