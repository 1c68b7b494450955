package bridge

import (
	"context"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2/commands"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
)

// HelpSectionIRC groups the IRC commands in `help`.
var HelpSectionIRC = commands.HelpSection{Name: "IRC", Order: 25}

// commandTimeout bounds commands that wait for the IRC server.
const commandTimeout = 30 * time.Second

// rawReplyWindow is how long numerics are shown after `raw`.
const rawReplyWindow = 10 * time.Second

func ircCommands() []commands.CommandHandler {
	return []commands.CommandHandler{
		&commands.FullHandler{
			Func: fnNick, Name: "nick",
			Help:          commands.HelpMeta{Section: HelpSectionIRC, Description: "Change your IRC nick (and the nick used on reconnect).", Args: "[_network_] <_new nick_>"},
			RequiresLogin: true, RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func: fnReconnect, Name: "reconnect",
			Help:          commands.HelpMeta{Section: HelpSectionIRC, Description: "Reconnect to IRC now (also after `disconnect`, a ban or rejected credentials).", Args: "[_network_]"},
			RequiresLogin: true, RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func: fnDisconnect, Name: "disconnect",
			Help:          commands.HelpMeta{Section: HelpSectionIRC, Description: "Disconnect from IRC and stay offline (also across bridge restarts) until `reconnect`. In a DM, `!otr disconnect` ends the private conversation instead, as in bitlbee.", Args: "[_network_]"},
			RequiresLogin: true, RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func: fnWhois, Name: "whois",
			Help:          commands.HelpMeta{Section: HelpSectionIRC, Description: "Show WHOIS information about a nick.", Args: "[_network_] <_nick_>"},
			RequiresLogin: true, RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func: fnFollow, Name: "follow",
			Help: commands.HelpMeta{Section: HelpSectionIRC, Description: "Move a chat to the peer's new nick, when you know the peer changed nick where the bridge cannot see it " +
				"(in the chat: `follow <new nick>`; in the control room: `follow <old nick> <new nick>`).", Args: "[_network_] [_old nick_] <_new nick_>"},
			RequiresLogin: true, RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func: fnRaw, Name: "raw",
			Help:          commands.HelpMeta{Section: HelpSectionIRC, Description: "Send a raw IRC line; replies are shown for a few seconds (bridge admins only).", Args: "[_network_] <_line_>"},
			RequiresAdmin: true, RequiresLogin: true,
		},
		certificateCommand,
		&commands.FullHandler{
			Func: fnStatus, Name: "status",
			Help:          commands.HelpMeta{Section: HelpSectionIRC, Description: "Show your IRC connections: network, nick and state."},
			RequiresLogin: true,
		},
	}
}

// inControlRoom reports whether a command about the IRC connection runs in
// the control room, and otherwise says where it belongs: in a DM portal
// such a command would act on the whole network, not on the chat.
func inControlRoom(ce *commands.Event) bool {
	if ce.Portal == nil {
		return true
	}
	ce.Reply("`%s` is about your IRC connection: use it in the control room (your chat with the bot), without the prefix.", ce.Command)
	return false
}

// noExtraArgs reports whether args has at most max words, and otherwise
// shows the usage: an argument a command does not take is an error, never
// ignored.
func noExtraArgs(ce *commands.Event, args []string, max int, usage string) bool {
	if len(args) <= max {
		return true
	}
	ce.Reply("Unexpected %q. Usage: `%s`", strings.Join(args[max:], " "), usage)
	return false
}

// commandClient picks the login a command applies to: the portal's login in
// a DM portal; else a leading network key if the command has more than
// minArgs arguments; else the only login.
func commandClient(ce *commands.Event, minArgs int) (*IRCClient, []string) {
	args := ce.Args
	if ce.Portal != nil && ce.Portal.Receiver != "" {
		if login := ce.Bridge.GetCachedUserLoginByID(ce.Portal.Receiver); login != nil && login.UserMXID == ce.User.MXID {
			if c, ok := login.Client.(*IRCClient); ok {
				return c, args
			}
		}
	}
	logins := ce.User.GetUserLogins()
	if len(args) > minArgs {
		for _, login := range logins {
			if c, ok := login.Client.(*IRCClient); ok && c.meta.Network == strings.ToLower(args[0]) {
				return c, args[1:]
			}
		}
	}
	var clients []*IRCClient
	for _, login := range logins {
		if c, ok := login.Client.(*IRCClient); ok {
			clients = append(clients, c)
		}
	}
	switch len(clients) {
	case 0:
		ce.Reply("You are not logged in to any IRC network. Use `login` first.")
		return nil, nil
	case 1:
		return clients[0], args
	}
	var names []string
	for _, c := range clients {
		names = append(names, "`"+c.meta.Network+"`")
	}
	ce.Reply("You are logged in to several networks (%s): put the network first, e.g. `%s %s ...`.", strings.Join(names, ", "), ce.Command, clients[0].meta.Network)
	return nil, nil
}

func fnNick(ce *commands.Event) {
	if !inControlRoom(ce) {
		return
	}
	c, args := commandClient(ce, 1)
	if c == nil {
		return
	}
	if len(args) != 1 {
		ce.Reply("Usage: `nick [network] <new nick>`")
		return
	}
	if err := validateNick(args[0]); err != nil {
		ce.Reply("Invalid nick: %v", err)
		return
	}
	conn, err := c.getConn()
	if err != nil {
		ce.Reply("Cannot change nick: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	if err := conn.SetNick(ctx, args[0]); err != nil {
		ce.Reply("The nick was not changed: %v", err)
		return
	}
	c.meta.Nick = args[0]
	c.login.RemoteName = fmt.Sprintf("%s on %s", args[0], c.networkName())
	if err := c.login.Save(ce.Ctx); err != nil {
		ce.Log.Err(err).Msg("Failed to save login after nick change")
	}
	ce.Reply("Your nick on %s is now %s.", c.networkName(), args[0])
}

func fnReconnect(ce *commands.Event) {
	if !inControlRoom(ce) {
		return
	}
	c, args := commandClient(ce, 0)
	if c == nil || !noExtraArgs(ce, args, 0, "reconnect [network]") {
		return
	}
	if c.meta.Disconnected {
		c.meta.Disconnected = false
		if err := c.login.Save(ce.Ctx); err != nil {
			ce.Reply("Failed to save the login: %v", err)
			return
		}
	}
	conn, err := c.getConn()
	if err != nil {
		ce.Reply("Cannot connect: %v", err)
		return
	}
	conn.Reconnect()
	ce.Reply("Reconnecting to %s.", c.networkName())
}

func fnDisconnect(ce *commands.Event) {
	if ce.Portal != nil {
		// bitlbee's `otr disconnect`: a DM user means the conversation,
		// never the whole network.
		otrFinish.Func(ce)
		return
	}
	c, args := commandClient(ce, 0)
	if c == nil || !noExtraArgs(ce, args, 0, "disconnect [network]") {
		return
	}
	c.meta.Disconnected = true
	if err := c.login.Save(ce.Ctx); err != nil {
		ce.Reply("Failed to save the login: %v", err)
		return
	}
	if conn, err := c.getConn(); err == nil {
		conn.Disconnect("Disconnected from Matrix")
	}
	ce.Reply("Disconnected from %s. You stay offline there until you use `reconnect`.", c.networkName())
}

func fnWhois(ce *commands.Event) {
	c, args := commandClient(ce, 1)
	if c == nil {
		return
	}
	if len(args) != 1 {
		ce.Reply("Usage: `whois [network] <nick>`")
		return
	}
	conn, err := c.getConn()
	if err != nil {
		ce.Reply("WHOIS failed: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	info, err := conn.Whois(ctx, args[0])
	if err != nil {
		ce.Reply("WHOIS %s failed: %v", args[0], err)
		return
	}
	ce.Reply("%s", formatWhois(info))
}

// formatWhois renders a WHOIS reply as Markdown lines.
func formatWhois(w ircconn.WhoisInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** (%s@%s): %s\n", w.Nick, w.User, w.Host, ircfmt.Strip(w.Realname))
	if w.Account != "" {
		fmt.Fprintf(&b, "* logged in as %s\n", w.Account)
	}
	if w.Server != "" {
		fmt.Fprintf(&b, "* server: %s (%s)\n", w.Server, ircfmt.Strip(w.ServerInfo))
	}
	if w.Away != "" {
		fmt.Fprintf(&b, "* away: %s\n", ircfmt.Strip(w.Away))
	}
	if w.Secure {
		b.WriteString("* uses a secure connection\n")
	}
	if w.Operator {
		b.WriteString("* is an IRC operator\n")
	}
	if w.Idle > 0 {
		fmt.Fprintf(&b, "* idle %s, signed on %s\n", w.Idle.Round(time.Second), w.SignOn.UTC().Format(time.RFC1123))
	}
	if len(w.Channels) > 0 {
		fmt.Fprintf(&b, "* channels: %s\n", strings.Join(w.Channels, " "))
	}
	for _, o := range w.Other {
		fmt.Fprintf(&b, "* %s\n", ircfmt.Strip(o))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func fnRaw(ce *commands.Event) {
	if !inControlRoom(ce) {
		return
	}
	c, args := commandClient(ce, 1)
	if c == nil {
		return
	}
	line := strings.Join(args, " ")
	if strings.TrimSpace(line) == "" || strings.ContainsAny(line, "\r\n\x00") {
		ce.Reply("Usage: `raw [network] <IRC line>` (one line)")
		return
	}
	conn, err := c.getConn()
	if err != nil {
		ce.Reply("Not sent: %v", err)
		return
	}
	c.mu.Lock()
	c.rawUntil = time.Now().Add(rawReplyWindow)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	if err := conn.Raw(ctx, line); err != nil {
		ce.Reply("Not sent: %v", err)
		return
	}
	ce.Reply("Sent to %s; replies follow for %s.", c.networkName(), rawReplyWindow)
}

func fnStatus(ce *commands.Event) {
	if !noExtraArgs(ce, ce.Args, 0, "status") {
		return
	}
	var b strings.Builder
	for _, login := range ce.User.GetUserLogins() {
		c, ok := login.Client.(*IRCClient)
		if !ok {
			continue
		}
		conn := c.connection()
		state := "not started"
		if conn != nil {
			state = conn.State().String()
		}
		if c.meta.Disconnected {
			state = "disconnected by you (use `reconnect`)"
		}
		fmt.Fprintf(&b, "* `%s` (%s): nick %s, %s", c.meta.Network, c.networkName(), c.ownNick(), state)
		if conn != nil && conn.State() == ircconn.Connected {
			var caps []string
			for _, name := range []string{"sasl", "echo-message", "labeled-response", "server-time", "message-tags"} {
				if conn.HasCap(name) {
					caps = append(caps, name)
				}
			}
			if len(caps) > 0 {
				fmt.Fprintf(&b, " (%s)", strings.Join(caps, ", "))
			}
		}
		fmt.Fprintf(&b, ", login ID `%s`\n", login.ID)
	}
	if b.Len() == 0 {
		ce.Reply("You are not logged in to any IRC network. Use `login` first.")
		return
	}
	ce.Reply("%s", strings.TrimSuffix(b.String(), "\n"))
}
