package bridge

import (
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/event"
)

// redactSecret removes the command event that carried a secret (an SMP
// secret, a private key file) and says so visibly when the bot may not
// redact it.
func redactSecret(ce *commands.Event, what string) {
	_, err := ce.Bot.SendMessage(ce.Ctx, ce.OrigRoomID, event.EventRedaction, &event.Content{
		Parsed: &event.RedactionEventContent{Redacts: ce.EventID},
	}, nil)
	if err != nil {
		ce.Log.Warn().Err(err).Msg("Failed to redact a message with a secret")
		ce.Reply("⚠️ I could not remove your message with the %s from this room: I lack the power to redact "+
			"other people's messages here (rooms you created give me power level 0). Delete it yourself, and give %s "+
			"the Moderator role (power level 50) so that I can do it next time.", what, ce.Bot.GetMXID())
	}
}
