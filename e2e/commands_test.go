package e2e

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// testCommandPlaces: commands act where they belong. In a DM portal
// `!otr disconnect` ends the private conversation (bitlbee's meaning) and
// the IRC connection stays; IRC connection commands, bridgev2's login
// commands among them, are refused there with a pointer to the control
// room; an argument a command does not take is an error, not ignored,
// bridgev2's commands included. A login flow is the user's: `cancel` ends
// it from any room.
func testCommandPlaces(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	room := u.portalFromIRC(t, peer, e.text("hello for the commands"))

	u.portalCommand(t, room, "disconnect", "no private conversation with "+peer.Nick())
	u.portalCommand(t, room, "nick someoneelse", "use it in the control room")
	u.portalCommand(t, room, "reconnect", "use it in the control room")
	u.portalCommand(t, room, "init "+peer.Nick(), "unexpected")
	u.portalCommand(t, room, "policy always now", "unexpected")
	u.portalCommand(t, room, "logout x", "use it in the control room")
	u.portalCommand(t, room, "login", "use it in the control room")

	// The connection is still up: a message goes through.
	text := e.text("still connected after the portal commands")
	u.sendPortal(t, room, text)
	if l := u.atPeer(t, peer); l.Text() != text {
		t.Fatalf("peer got %q, want %q", l.Text(), text)
	}

	// In the control room extra words are errors too, and nothing happens.
	if rep := u.command(t, "disconnect now"); !strings.Contains(rep.Body(), "Unexpected") {
		t.Errorf("`disconnect now` answered %q", rep.Body())
	}
	for _, cmd := range []string{"status extra", "list-logins extra", "version extra", "logout x y"} {
		if rep := u.command(t, cmd); !strings.Contains(rep.Body(), "Unexpected") {
			t.Errorf("`%s` answered %q", cmd, rep.Body())
		}
	}
	if rep := u.command(t, "status"); !strings.Contains(rep.Body(), "connected") || strings.Contains(rep.Body(), "disconnected by you") {
		t.Errorf("status after the refused commands: %q", rep.Body())
	}
	if rep := u.command(t, "version"); !strings.Contains(rep.Body(), "otrbridge v") || !strings.Contains(rep.Body(), "commit") {
		t.Errorf("`version` answered %q", rep.Body())
	}

	u.replyTo(t, u.say(t, "login"), "Please enter your", longWait)
	u.portalCommand(t, room, "cancel", "Login cancelled")
}

// testOTRDisconnectInPortal: `!otr disconnect` in the portal of a private
// conversation ends the conversation, as bitlbee's `otr disconnect` does,
// and leaves the IRC connection up: libotr sees the conversation finished,
// the portal says it is no longer private, and the next message reaches
// the peer in plaintext, marked 🔓 in Matrix.
func testOTRDisconnectInPortal(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "before disconnect")

	u.portalCommand(t, room, "disconnect", "Ended the private conversation with "+p.irc.Nick())
	p.event(t, "state", "finished")
	u.waitTopic(t, room, "plaintext")

	// libotr, its conversation finished, shows a plaintext message with
	// the warning that it was not encrypted, as Pidgin and irssi do.
	plain := e.text("plaintext after disconnect")
	id := u.sendPortal(t, room, plain)
	if _, ok := p.WaitFor(longWait, func(l otrtest.Line) bool {
		text, _ := hex.DecodeString(l.Args["text"])
		return l.Kind == "EVENT" && l.Name == "msg" && l.Sub == "RCVDMSG_UNENCRYPTED" && string(text) == plain
	}); !ok {
		var seen strings.Builder
		for _, l := range p.History() {
			seen.WriteString("\n  " + l.Raw)
		}
		t.Fatalf("libotr never showed the message sent after `!otr disconnect` as unencrypted; it saw:%s", seen.String())
	}
	if st := u.messageStatus(t, room, id, wait); st.Str("status") != "SUCCESS" {
		t.Errorf("status of the plaintext message: %v", st.Content)
	}
	if _, err := u.mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		key, _ := rel["key"].(string)
		return ev.RoomID == room && ev.Type == "m.reaction" && rel["event_id"] == id && strings.Contains(key, "🔓")
	}); err != nil {
		t.Errorf("the message sent after `!otr disconnect` is not marked as sent unencrypted: %v", err)
	}
	if rep := u.command(t, "status"); !strings.Contains(rep.Body(), "connected") || strings.Contains(rep.Body(), "disconnected by you") {
		t.Errorf("status after `!otr disconnect`: %q", rep.Body())
	}
}

// testReactionsAndJoin: a reaction reaches the peer as a short emote
// quoting the message, with a success status; one that cannot go is
// explained in a notice replying to it. The user's own join to the new
// chat gets no failed status.
func testReactionsAndJoin(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	first := e.text("react to this")
	room := u.portalFromIRC(t, peer, first)
	var target, join string
	for _, ev := range u.mx.Events() {
		switch {
		case ev.RoomID != room:
		case ev.IsMessage() && ev.Body() == first:
			target = ev.EventID
		case ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == u.mx.UserID && ev.Str("membership") == "join":
			join = ev.EventID
		}
	}
	if target == "" || join == "" {
		t.Fatalf("the ghost's message (%q) or the user's join (%q) is not in the portal", target, join)
	}
	react := func(key string) string {
		id, err := u.mx.SendEvent(room, "m.reaction", map[string]any{
			"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": target, "key": key},
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := react("👍")
	l := u.atPeer(t, peer)
	if act, ok := l.Action(); !ok || act != "reacted 👍 to: "+first {
		t.Errorf("the peer got %q, want the emote \"reacted 👍 to: %s\"", l.Text(), first)
	}
	if st := u.messageStatus(t, room, id, wait); st.Str("status") != "SUCCESS" {
		t.Errorf("reaction status %v", st.Content)
	}
	// The join came before the reaction: its status was sent before the
	// reaction's, and it is not a failure.
	for _, ev := range u.mx.Events() {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		if ev.RoomID == room && ev.Type == "com.beeper.message_send_status" && rel != nil && rel["event_id"] == join && ev.Str("status") != "SUCCESS" {
			t.Errorf("the user's own join got the status %v", ev.Content)
		}
	}

	// The peer leaves IRC: the next reaction fails, visibly.
	peer.Quit("bye")
	id = react("🎉")
	notice, err := u.mx.WaitMessageAfter(longWait, id, room, e.bridge.BotMXID, func(ev teststack.MatrixEvent) bool {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		inReply, _ := rel["m.in_reply_to"].(map[string]any)
		return ev.MsgType() == "m.notice" && inReply != nil && inReply["event_id"] == id
	})
	if err != nil {
		t.Fatalf("no notice about the reaction that could not go: %v\nseen:%s", err, u.roomTranscript(room))
	}
	if !strings.Contains(notice.Body(), "not") {
		t.Errorf("notice %q", notice.Body())
	}
}
