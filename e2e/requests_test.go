package e2e

import (
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// TestMessageRequests: with network.limits.message_requests on, a new
// person's messages wait as a request in the control room, which names
// the nick and never the text; `accept` opens the chat and shows them in
// order; `decline` drops another's and what it sends later, until `pm`.
func TestMessageRequests(t *testing.T) {
	needPeers(t)
	e := newEnvWith(t, envOptions{messageRequests: true})
	u, alice := e.loggedIn(t, netLocal)
	bob := teststack.DialIRC(t, e.irc.Addr(), e.unique("bob"), teststack.IRCClientOptions{})
	a1, a2 := e.text("first from alice"), e.text("second from alice")
	alice.Privmsg(u.nick, a1)
	alice.Privmsg(u.nick, a2)
	req := u.replyContaining(t, wait, alice.Nick()+" wants to message you")
	if !strings.Contains(req.Body(), "accept "+alice.Nick()) {
		t.Errorf("the request does not say how to accept: %q", req.Body())
	}
	b1 := e.text("first from bob")
	bob.Privmsg(u.nick, b1)
	u.replyContaining(t, wait, bob.Nick()+" wants to message you")
	if list := u.command(t, "requests"); !strings.Contains(list.Body(), alice.Nick()) || !strings.Contains(list.Body(), bob.Nick()) {
		t.Errorf("requests lists %q", list.Body())
	}
	if _, err := u.mx.WaitChatInvite(shortWait, ""); err == nil {
		t.Fatal("a chat was opened before the request was accepted")
	}
	for _, ev := range u.mx.Messages(u.control) {
		for _, text := range []string{a1, a2, b1} {
			if strings.Contains(ev.Body(), text) {
				t.Errorf("a request's text reached the control room: %q", ev.Body())
			}
		}
	}

	if r := u.command(t, "accept "+alice.Nick()); !strings.Contains(r.Body(), "Opening the chat") {
		t.Fatalf("accept: %q", r.Body())
	}
	room := u.joinInvite(t)
	for _, want := range []string{a1, a2} {
		if ev := u.fromGhost(t, room, alice.Nick()); ev.Body() != want {
			t.Fatalf("accepted chat got %q, want %q", ev.Body(), want)
		}
	}
	a3 := e.text("after the accept")
	alice.Privmsg(u.nick, a3)
	if ev := u.fromGhost(t, room, alice.Nick()); ev.Body() != a3 {
		t.Fatalf("accepted chat got %q, want %q", ev.Body(), a3)
	}

	if r := u.command(t, "decline "+bob.Nick()); !strings.Contains(r.Body(), "Declined") {
		t.Fatalf("decline: %q", r.Body())
	}
	bob.Privmsg(u.nick, e.text("after the decline"))
	// Once the server answered bob's PING it has passed his line on to
	// the user's connection; alice's next line comes after it there, so
	// when hers is in Matrix the bridge has dealt with his.
	if err := bob.Send("PING :declined-line-sent"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitFor(wait, func(l teststack.IRCLine) bool {
		return l.Command() == "PONG" && strings.Contains(l.Text(), "declined-line-sent")
	}); err != nil {
		t.Fatalf("no PONG: %v", err)
	}
	a4 := e.text("after bob's declined line")
	alice.Privmsg(u.nick, a4)
	if ev := u.fromGhost(t, room, alice.Nick()); ev.Body() != a4 {
		t.Fatalf("accepted chat got %q, want %q", ev.Body(), a4)
	}
	if _, err := u.mx.WaitChatInvite(shortWait, ""); err == nil {
		t.Fatal("a declined peer got a chat")
	}
	requests := 0
	for _, ev := range u.mx.Messages(u.control) {
		if strings.Contains(ev.Body(), bob.Nick()+" wants to message you") {
			requests++
		}
	}
	if requests != 1 {
		t.Fatalf("%d requests from bob, want only the one before the decline", requests)
	}
	bobRoom := u.pm(t, bob.Nick())
	b3 := e.text("after pm")
	bob.Privmsg(u.nick, b3)
	if ev := u.fromGhost(t, bobRoom, bob.Nick()); ev.Body() != b3 {
		t.Fatalf("the chat opened with pm got %q, want %q", ev.Body(), b3)
	}
	e.checkLogs(t)
}
