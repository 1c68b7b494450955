package bridge

import (
	"testing"

	"maunium.net/go/mautrix/bridgev2/commands"
)

// A command takes precedence over an answer in the login flow, so no
// answer may be a command's name or alias (bridgev2's or ours).
func TestLoginAnswersAreNotCommands(t *testing.T) {
	names := map[string]bool{}
	for _, name := range []string{"help", "login", "logout", "relogin", "list-logins", "start-chat", "version", "cancel", "set-management-room"} {
		names[name] = true
	}
	var all []commands.CommandHandler
	all = append(all, ircCommands()...)
	all = append(all, requestCommands()...)
	all = append(all, otrCommands()...)
	for _, h := range all {
		fh := h.(*commands.FullHandler)
		names[fh.Name] = true
		for _, a := range fh.Aliases {
			names[a] = true
		}
	}
	for _, answer := range []string{authNone, authSASL, authNickServ, authCertFP, certFPExternal, certFPPresent, "skip"} {
		if names[answer] {
			t.Errorf("the login answer %q is also a command", answer)
		}
	}
}
