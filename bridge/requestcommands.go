package bridge

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2/commands"
)

// Commands about message requests (network.limits.message_requests): new
// people's messages wait in the control room until the user decides.

func requestCommands() []commands.CommandHandler {
	return []commands.CommandHandler{
		&commands.FullHandler{
			Func: fnAccept, Name: "accept",
			Help:          commands.HelpMeta{Section: HelpSectionIRC, Description: "Accept a message request: open the chat and show what they wrote.", Args: "[_network_] <_nick_>"},
			RequiresLogin: true, RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func: fnDecline, Name: "decline",
			Help:          commands.HelpMeta{Section: HelpSectionIRC, Description: "Decline a message request: drop it and what they send later (until `pm <nick>` or a bridge restart).", Args: "[_network_] <_nick_>"},
			RequiresLogin: true, RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func: fnRequests, Name: "requests",
			Help:          commands.HelpMeta{Section: HelpSectionIRC, Description: "List the open message requests."},
			RequiresLogin: true,
		},
	}
}

func fnAccept(ce *commands.Event) {
	c, args := commandClient(ce, 1)
	if c == nil {
		return
	}
	if len(args) != 1 {
		ce.Reply("Usage: `accept [network] <nick>`")
		return
	}
	uid, err := c.lookupPeerID(ce.Ctx, args[0], false)
	if err != nil {
		ce.Reply("Cannot accept %s: %v", args[0], err)
		return
	}
	from, ok := c.strangers.accept(uid)
	if !ok {
		ce.Reply("There is no message request from %s. `pm %s` opens a chat anyway.", args[0], args[0])
		return
	}
	goSafe(c.log, "open chat", func() { c.openChat(uid, from.Nick, from.User+"@"+from.Host) })
	ce.Reply("Opening the chat with %s.", from.Nick)
}

func fnDecline(ce *commands.Event) {
	c, args := commandClient(ce, 1)
	if c == nil {
		return
	}
	if len(args) != 1 {
		ce.Reply("Usage: `decline [network] <nick>`")
		return
	}
	uid, err := c.lookupPeerID(ce.Ctx, args[0], false)
	if err != nil {
		ce.Reply("Cannot decline %s: %v", args[0], err)
		return
	}
	if !c.strangers.decline(uid) {
		ce.Reply("There was no message request from %s; what they send from now on is dropped anyway (until `pm %s`).", args[0], args[0])
		return
	}
	ce.Reply("Declined %s: their messages are dropped until you `pm %s` or the bridge restarts.", args[0], args[0])
}

func fnRequests(ce *commands.Event) {
	var b strings.Builder
	for _, login := range ce.User.GetUserLogins() {
		c, ok := login.Client.(*IRCClient)
		if !ok {
			continue
		}
		reqs := c.strangers.listRequests()
		slices.SortFunc(reqs, func(a, b request) int { return a.since.Compare(b.since) })
		for _, r := range reqs {
			fmt.Fprintf(&b, "* %s on %s: %d message(s), since %s ago\n", r.nick, c.networkName(), r.lines, time.Since(r.since).Round(time.Second))
		}
	}
	if b.Len() == 0 {
		ce.Reply("No open message requests.")
		return
	}
	ce.Reply("%s`accept <nick>` or `decline <nick>`.", b.String())
}
