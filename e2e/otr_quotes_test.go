package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// testOTRQuotesStayPrivate: a reaction and a reply repeat the start of an
// earlier message. In a private conversation they reach libotr decrypted,
// with that text, and the wire carries only OTR. After `!otr finish` the
// conversation is plaintext (policy manual): a reaction and replies to the
// messages that went inside OTR go out bare, without their text, and are
// marked as sent unencrypted.
func testOTRQuotesStayPrivate(t *testing.T, e *env) {
	u, p, room := e.privateWith(t)
	nick := p.irc.Nick()
	mine := e.text("my private plan")
	mineID := u.sendPortal(t, room, mine)
	p.received(t, mine)
	theirs := e.text("their private answer")
	p.Send(theirs)
	theirsID := u.fromGhost(t, room, nick).EventID

	react := func(key string) string {
		t.Helper()
		id, err := u.mx.SendEvent(room, "m.reaction", map[string]any{
			"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": theirsID, "key": key},
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// reply answers to with body; fallback, if set, is the quoted text a
	// client puts in front of the body (the older reply format).
	reply := func(to, body, fallback string) string {
		t.Helper()
		u.e.remember(body)
		content := map[string]any{"msgtype": "m.text", "body": body,
			"m.relates_to": map[string]any{"m.in_reply_to": map[string]any{"event_id": to}}}
		if fallback != "" {
			content["body"] = "> <" + e.ghost(u.network, nick) + "> " + fallback + "\n\n" + body
		}
		id, err := u.mx.SendEvent(room, "m.room.message", content)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	// Inside the private conversation the text goes along, encrypted.
	thumbs := react("👍")
	p.received(t, "/me reacted 👍 to: "+theirs)
	inside := e.text("a private reply")
	reply(mineID, inside, "")
	p.received(t, "> <"+u.nick+"> "+mine)
	p.received(t, inside)
	p.assertWireClean(t, u, mine, theirs, inside, "reacted")

	u.portalCommand(t, room, "finish", "Ended the private conversation")
	p.event(t, "state", "finished")
	u.waitTopic(t, room, "plaintext")

	// Now plaintext: nothing of the earlier private messages.
	id := react("🎉")
	waitSeen(t, p.irc, "the bare reaction", func(l teststack.IRCLine) bool {
		act, ok := l.Action()
		return ok && strings.EqualFold(l.From(), u.nick) && strings.HasPrefix(act, "reacted 🎉")
	})
	if st := u.messageStatus(t, room, id, wait); st.Str("status") != "SUCCESS" {
		t.Errorf("status of the plaintext reaction: %v", st.Content)
	}
	// Both emotes reached the peer: the second reaction to the message did
	// not replace the first (bridgev2 redacts a replaced one before the
	// status of the new one).
	var first teststack.MatrixEvent
	if err := u.mx.Do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/event/"+url.PathEscape(thumbs), nil, &first); err != nil {
		t.Fatal(err)
	}
	if first.Content["m.relates_to"] == nil {
		t.Error("the bridge redacted the first reaction when the second came")
	}
	afterMine, afterTheirs := e.text("plain reply to mine"), e.text("plain reply to theirs")
	replies := []string{reply(mineID, afterMine, ""), reply(theirsID, afterTheirs, theirs)}
	for _, text := range []string{afterMine, afterTheirs} {
		waitSeen(t, p.irc, "a plaintext reply", func(l teststack.IRCLine) bool {
			return strings.EqualFold(l.From(), u.nick) && l.Text() == text
		})
	}
	for _, id := range replies {
		if !u.hasMark(room, id, "🔓") {
			t.Errorf("a reply sent unencrypted is not marked 🔓")
		}
	}
	for _, l := range p.irc.Lines() {
		if !strings.EqualFold(l.From(), u.nick) || strings.HasPrefix(l.Text(), "?OTR") {
			continue
		}
		if strings.Contains(l.Raw, mine) || strings.Contains(l.Raw, theirs) || strings.Contains(l.Raw, "> <") {
			t.Errorf("text of a private message went out in plaintext: %.100q", l.Raw)
		}
		if act, ok := l.Action(); ok && act != "reacted 🎉" {
			t.Errorf("the plaintext reaction is %q, want the bare \"reacted 🎉\"", act)
		}
	}
}
