package bridge

import (
	"context"
	"errors"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
)

// Taking back a reaction is refused with a notice and a failed status
// (Dendrite 0.13.8 never passes redactions to appservices, so this is
// not tested end to end).
func TestReactionRemoveRefused(t *testing.T) {
	c := &IRCClient{}
	portal := &bridgev2.Portal{Portal: &database.Portal{PortalKey: networkid.PortalKey{ID: "local.bob", Receiver: "login"}}}
	err := c.HandleMatrixReactionRemove(context.Background(), &bridgev2.MatrixReactionRemove{
		MatrixEventBase: bridgev2.MatrixEventBase[*event.RedactionEventContent]{Event: &event.Event{ID: "$redaction", Sender: "@alice:x"}, Portal: portal},
		TargetReaction:  &database.Reaction{MessageID: "irc:1", Emoji: "👍"},
	})
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !errors.Is(err, errReactionStays) {
		t.Fatalf("HandleMatrixReactionRemove = %v, want a failed status", err)
	}
	if body := reactionStays().notice("").Body; !strings.Contains(body, "Taking back your reaction was not bridged: IRC cannot take back a reaction") {
		t.Errorf("notice %q", body)
	}
}

// Each key is its own reaction, so a second one does not replace the first.
func TestReactionKeysAreDistinct(t *testing.T) {
	c := testClient("local/@a:x", "@a:x")
	for _, key := range []string{"👍", "🎉"} {
		pre, err := c.PreHandleMatrixReaction(context.Background(), &bridgev2.MatrixReaction{
			MatrixEventBase: bridgev2.MatrixEventBase[*event.ReactionEventContent]{Content: &event.ReactionEventContent{RelatesTo: event.RelatesTo{Type: event.RelAnnotation, EventID: "$m", Key: key}}},
		})
		if err != nil || pre.EmojiID != networkid.EmojiID(key) || pre.Emoji != key {
			t.Errorf("reaction %s: %+v, %v; want its own EmojiID", key, pre, err)
		}
	}
}
