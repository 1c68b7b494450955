package bridge

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// storedMessage is a message as bridgev2 loads it: metadata decoded from
// the JSON stored with it ("" for none).
func storedMessage(t *testing.T, stored string) *database.Message {
	t.Helper()
	msg := &database.Message{Room: networkid.PortalKey{ID: "local.bob", Receiver: "login"}}
	if stored == "" {
		return msg
	}
	meta := &MessageMetadata{}
	if err := json.Unmarshal([]byte(stored), meta); err != nil {
		t.Fatal(err)
	}
	msg.Metadata = meta
	return msg
}

// Only a message stored as having gone in plaintext counts as public:
// one that went inside OTR, and one stored before the flag existed or
// without metadata, is private.
func TestWentInPlaintextFailsClosed(t *testing.T) {
	for stored, want := range map[string]bool{
		`{"plaintext":true}`:  true,
		`{"plaintext":false}`: false,
		`{}`:                  false,
		`null`:                false,
		``:                    false,
	} {
		if got := wentInPlaintext(storedMessage(t, stored)); got != want {
			t.Errorf("metadata %q: wentInPlaintext = %v, want %v", stored, got, want)
		}
	}
	if wentInPlaintext(nil) || wentInPlaintext(&database.Message{Metadata: map[string]any{"plaintext": true}}) {
		t.Error("an unknown message or metadata of another type counts as plaintext")
	}
	// What the bridge stores round-trips.
	b, err := json.Marshal(&MessageMetadata{Plaintext: true})
	if err != nil || !wentInPlaintext(storedMessage(t, string(b))) {
		t.Errorf("stored %s (%v) does not read back as plaintext", b, err)
	}
}

// A reply's quote goes unencrypted only if the quoted message did.
func TestWithQuote(t *testing.T) {
	body := otrsession.OutgoingText{Lines: []string{"see you there"}}
	const quote = "> <bob> the eagle lands"
	for _, tc := range []struct {
		stored    string
		plaintext []string
	}{
		{`{"plaintext":true}`, nil},
		{`{}`, []string{"see you there"}},
		{``, []string{"see you there"}},
	} {
		out := withQuote(body, quote, storedMessage(t, tc.stored))
		if want := []string{quote, "see you there"}; !reflect.DeepEqual(out.Lines, want) {
			t.Errorf("quoted %q: Lines %q, want %q", tc.stored, out.Lines, want)
		}
		if !reflect.DeepEqual(out.PlaintextLines, tc.plaintext) {
			t.Errorf("quoted %q: PlaintextLines %q, want %q", tc.stored, out.PlaintextLines, tc.plaintext)
		}
	}
}

// A reaction to a private message is bare when it goes unencrypted.
func TestReactionMessage(t *testing.T) {
	out := reactionMessage("👍", "the eagle lands", storedMessage(t, `{}`))
	if !reflect.DeepEqual(out.Lines, []string{"reacted 👍 to: the eagle lands"}) || !reflect.DeepEqual(out.PlaintextLines, []string{"reacted 👍"}) {
		t.Errorf("reaction to a private message: %q / plaintext %q", out.Lines, out.PlaintextLines)
	}
	out = reactionMessage("👍", "hello all", storedMessage(t, `{"plaintext":true}`))
	if !reflect.DeepEqual(out.Lines, []string{"reacted 👍 to: hello all"}) || out.PlaintextLines != nil {
		t.Errorf("reaction to a plaintext message: %q / plaintext %q", out.Lines, out.PlaintextLines)
	}
}

// A reply to a message of another room quotes nothing of it, not even
// the client's fallback.
func TestQuoteLineOtherRoom(t *testing.T) {
	c := &IRCClient{}
	portal := &bridgev2.Portal{Portal: &database.Portal{PortalKey: networkid.PortalKey{ID: "local.carol", Receiver: "login"}}}
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: "> <@bob:x> the eagle lands\n\nreply"}
	if got := c.quoteLine(context.Background(), portal, content, storedMessage(t, `{"plaintext":true}`), "bob"); got != "> <bob> …" {
		t.Errorf("quote of another room's message: %q", got)
	}
	portal.PortalKey.ID = "local.bob"
	if got := c.quoteLine(context.Background(), portal, content, storedMessage(t, `{"plaintext":true}`), "bob"); got != "> <bob> the eagle lands" {
		t.Errorf("quote in the same room: %q", got)
	}
}
