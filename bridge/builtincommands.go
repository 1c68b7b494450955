package bridge

import (
	"maunium.net/go/mautrix/bridgev2/commands"
)

// builtinCommand is a command of bridgev2 or mxmain that otrbridge keeps,
// with the rules our own commands follow: where it may run and how many
// arguments it takes. bridgev2's handlers ignore words they do not use and
// run in any room.
type builtinCommand struct {
	handler *commands.FullHandler
	// connection: it acts on the IRC connection (a login), so it belongs
	// in the control room; in a DM portal it would look like it acts on
	// the chat.
	connection bool
	maxArgs    int
	usage      string
}

// builtinCommands lists the built-in commands with their rules; version is
// the reply of `version`.
func builtinCommands(version string) []builtinCommand {
	return []builtinCommand{
		{handler: commands.CommandHelp, usage: "help"},
		{handler: versionCommand(version), usage: "version"},
		// A flow's answers are not commands: they reach the flow through
		// bridgev2's command state, so `cancel` works in any room.
		{handler: commands.CommandCancel, usage: "cancel"},
		{handler: commands.CommandListLogins, usage: "list-logins"},
		// bridgev2 takes the first step's answers (network, nick) after
		// the flow ID and counts them itself.
		{handler: commands.CommandLogin, connection: true, maxArgs: 3, usage: "login [irc <network> <nick>]"},
		{handler: commands.CommandRelogin, connection: true, maxArgs: 4, usage: "relogin <login ID> [irc <network> <nick>]"},
		{handler: commands.CommandLogout, connection: true, maxArgs: 1, usage: "logout <login ID>"},
	}
}

// versionCommand replaces mxmain's `version`, whose reply leaves out the
// commit of a release build.
func versionCommand(version string) *commands.FullHandler {
	return &commands.FullHandler{
		Func: func(ce *commands.Event) { ce.Reply("%s", version) },
		Name: "version",
		Help: commands.HelpMeta{Section: commands.HelpSectionGeneral, Description: "Show the bridge's version and commit."},
	}
}

// GuardBuiltinCommands registers the built-in commands again, each behind
// its rules; version is the reply of `version`. It runs after mxmain's Init
// (which registers `version` after the connector's Init) and before the
// bridge starts (the processor's table is not safe for concurrent use):
// in mxmain's PostInit.
func (ic *IRCConnector) GuardBuiltinCommands(version string) {
	proc, ok := ic.Bridge.Commands.(*commands.Processor)
	if !ok {
		ic.Bridge.Log.Warn().Msg("bridgev2's built-in commands run without otrbridge's rules of room and arguments: unknown command processor")
		return
	}
	for _, b := range builtinCommands(version) {
		proc.AddHandler(b.guarded())
	}
}

// guarded returns a copy of the handler that checks the room and the
// arguments before running the built-in one; bridgev2's own checks
// (permissions, login) stay in front.
func (b builtinCommand) guarded() *commands.FullHandler {
	h := *b.handler
	run := b.handler.Func
	h.Func = func(ce *commands.Event) {
		if b.connection && !inControlRoom(ce) {
			return
		}
		if !noExtraArgs(ce, ce.Args, b.maxArgs, b.usage) {
			return
		}
		run(ce)
	}
	return &h
}
