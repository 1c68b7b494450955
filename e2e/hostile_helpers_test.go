package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// Helpers for scenarios with a hostile or restarting IRC side: an IRC
// operator who renames users and puts them into channels, and checks of
// what the Matrix user was told about a message.

// oper connects an IRC operator to the network of u (SANICK, SAJOIN).
func (e *env) oper(t *testing.T, u *user) *teststack.IRCClient {
	t.Helper()
	srv := e.ircFor(u.network)
	c := teststack.DialIRC(t, srv.Addr(), e.unique("oper"), teststack.IRCClientOptions{})
	if err := c.Oper(srv); err != nil {
		t.Fatal(err)
	}
	return c
}

// shareChannel has an oper put the user's IRC connection and the peers
// into a new channel (the bridge joins none by itself), so that the
// server reports the peers' NICK and QUIT to the bridge, and waits until
// every peer has seen the bridge join.
func (e *env) shareChannel(t *testing.T, u *user, peers ...*teststack.IRCClient) string {
	t.Helper()
	ch := "#" + e.unique("shared")
	op := e.oper(t, u)
	for _, p := range peers {
		if err := p.Send("JOIN " + ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := op.Send("SAJOIN " + u.nick + " " + ch); err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		waitSeen(t, p, "the bridge's JOIN of "+ch, func(l teststack.IRCLine) bool {
			return l.Command() == "JOIN" && strings.EqualFold(l.From(), u.nick) && strings.EqualFold(l.Param(0), ch)
		})
	}
	return ch
}

// waitSeen polls c's recorded lines until one matches (for clients whose
// lines an OTR glue consumes).
func waitSeen(t *testing.T, c *teststack.IRCClient, what string, match func(teststack.IRCLine) bool) {
	t.Helper()
	for deadline := time.Now().Add(wait); !c.Seen(match); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never saw %s", c.Nick(), what)
		}
	}
}

// messageStatus waits for the bridge's status event about the Matrix
// event id in room.
func (u *user) messageStatus(t *testing.T, room, id string, timeout time.Duration) teststack.MatrixEvent {
	t.Helper()
	ev, err := u.mx.WaitEvent(timeout, func(ev teststack.MatrixEvent) bool {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		return ev.RoomID == room && ev.Type == "com.beeper.message_send_status" && rel != nil && rel["event_id"] == id
	})
	if err != nil {
		t.Fatalf("no message status for the message: %v", err)
	}
	return ev
}

// unencryptedMarks counts the bridge's 🔓 reactions on the event id.
func (u *user) unencryptedMarks(room, id string) int {
	n := 0
	for _, ev := range u.mx.Events() {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		if ev.RoomID == room && ev.Type == "m.reaction" && rel != nil && rel["event_id"] == id &&
			strings.Contains(rel["key"].(string), "🔓") {
			n++
		}
	}
	return n
}

// sentPrivately sends text into the portal and checks the whole way: the
// peer's libotr shows it as encrypted, no line from the bridge carried it
// in plaintext, its status is SUCCESS and Matrix does not mark it as sent
// unencrypted.
func (e *env) sentPrivately(t *testing.T, u *user, p *otrPeer, room, label string) {
	t.Helper()
	out := e.text(label)
	id := u.sendPortal(t, room, out)
	st := u.messageStatus(t, room, id, wait)
	p.assertWireClean(t, u, out)
	p.received(t, out)
	if st.Str("status") != "SUCCESS" {
		t.Errorf("status of a delivered private message: %s", st.Str("status"))
	}
	if n := u.unencryptedMarks(room, id); n > 0 {
		t.Errorf("a message sent encrypted is marked as sent unencrypted")
	}
}

// sentUnencrypted sends text into the portal of peer, a nick that may get
// plaintext (no OTR for it), and checks the whole way: peer gets the text
// as typed, its status is SUCCESS and Matrix marks it 🔓 as sent
// unencrypted.
func (e *env) sentUnencrypted(t *testing.T, u *user, peer *teststack.IRCClient, room, label string) {
	t.Helper()
	out := e.text(label)
	id := u.sendPortal(t, room, out)
	if l := u.atPeer(t, peer); l.Text() != out {
		t.Errorf("%s got %.80q, want the plaintext message", peer.Nick(), l.Text())
	}
	if st := u.messageStatus(t, room, id, wait); st.Str("status") != "SUCCESS" {
		t.Errorf("status of a delivered plaintext message: %s", st.Str("status"))
	}
	if !u.hasMark(room, id, "🔓") {
		t.Errorf("a message sent unencrypted is not marked 🔓")
	}
}
