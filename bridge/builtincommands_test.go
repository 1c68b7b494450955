package bridge

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// replyRecorder is the bot as far as a command's reply needs it.
type replyRecorder struct {
	bridgev2.MatrixAPI
	replies []string
}

func (r *replyRecorder) SendMessage(_ context.Context, _ id.RoomID, _ event.Type, content *event.Content, _ *bridgev2.MatrixSendExtra) (*mautrix.RespSendEvent, error) {
	r.replies = append(r.replies, content.Parsed.(*event.MessageEventContent).Body)
	return &mautrix.RespSendEvent{}, nil
}

// runGuarded runs the built-in command name, its own handler replaced by
// one that only records that it ran, in a DM portal or the control room.
func runGuarded(t *testing.T, name string, inPortal bool, args ...string) (ran bool, reply string) {
	t.Helper()
	for _, b := range builtinCommands("otrbridge v1.2.3") {
		if b.handler.Name != name {
			continue
		}
		stub := *b.handler
		stub.Func = func(*commands.Event) { ran = true }
		b.handler = &stub
		bot := &replyRecorder{}
		log := zerolog.Nop()
		ce := &commands.Event{
			Bot: bot, Bridge: &bridgev2.Bridge{Config: &bridgeconfig.BridgeConfig{CommandPrefix: "!otr"}},
			User:    &bridgev2.User{Permissions: bridgeconfig.Permissions{Login: true}},
			Command: name, Args: args, Ctx: context.Background(), Log: &log,
		}
		if inPortal {
			ce.Portal = &bridgev2.Portal{}
		}
		b.guarded().Run(ce)
		return ran, strings.Join(bot.replies, "\n")
	}
	t.Fatalf("%q is not a guarded built-in command", name)
	return false, ""
}

// bridgev2's commands follow otrbridge's rules: a login command belongs
// in the control room, and a word a command does not take is an error.
func TestBuiltinCommandRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inPortal bool
		args     []string
		want     string // the refusal; "" when the command runs
	}{
		{"logout", true, []string{"x"}, "use it in the control room"},
		{"login", true, nil, "use it in the control room"},
		{"relogin", true, []string{"x"}, "use it in the control room"},
		{"list-logins", false, []string{"extra"}, `Unexpected "extra". Usage: ` + "`list-logins`"},
		{"version", false, []string{"please"}, "Unexpected"},
		{"help", true, []string{"login"}, "Unexpected"},
		{"cancel", false, []string{"now"}, "Unexpected"},
		{"logout", false, []string{"x", "y"}, `Unexpected "y"`},
		{"login", false, []string{"irc", "libera", "nick", "extra"}, `Unexpected "extra"`},

		{"logout", false, []string{"x"}, ""},
		{"login", false, nil, ""},
		{"login", false, []string{"irc", "libera", "nick"}, ""},
		{"relogin", false, []string{"x", "irc", "libera", "nick"}, ""},
		{"list-logins", true, nil, ""},
		{"version", true, nil, ""},
		{"help", false, nil, ""},
		// A login flow is the user's, not the room's.
		{"cancel", true, nil, ""},
	} {
		ran, reply := runGuarded(t, tc.name, tc.inPortal, tc.args...)
		switch {
		case tc.want == "" && (!ran || reply != ""):
			t.Errorf("%s %q (portal %v): ran %v, replied %q; want it run", tc.name, tc.args, tc.inPortal, ran, reply)
		case tc.want != "" && (ran || !strings.Contains(reply, tc.want)):
			t.Errorf("%s %q (portal %v): ran %v, replied %q; want the refusal %q", tc.name, tc.args, tc.inPortal, ran, reply, tc.want)
		}
	}
}

// `version` names the release and the commit.
func TestVersionCommand(t *testing.T) {
	bot := &replyRecorder{}
	ce := &commands.Event{Bot: bot, Bridge: &bridgev2.Bridge{Config: &bridgeconfig.BridgeConfig{}}, Ctx: context.Background()}
	versionCommand("otrbridge v1.2.3 (commit 0123456789abcdef)").Func(ce)
	if len(bot.replies) != 1 || bot.replies[0] != "otrbridge v1.2.3 (commit 0123456789abcdef)" {
		t.Errorf("version replied %q", bot.replies)
	}
}
