package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// testOTRServiceRename: a peer in a private conversation (the user's
// default policy always, set in the control room; the peer has no policy
// of its own) renames itself to a nick that ends in "serv", and an oper
// then renames it (SANICK) to a name on the configured services list. The
// bridge shares a channel with the peer, so it sees and follows both
// renames; neither changes anything about the privacy of the
// conversation: the next messages go out encrypted, nothing reaches the
// wire in plaintext, and Matrix shows them as delivered privately. A real
// service the user never had OTR with still gets plaintext, marked as
// sent unencrypted.
func testOTRServiceRename(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.replyTo(t, u.say(t, "policy default always"), "always", wait)
	u.portalCommand(t, room, "policy", "always (your default)")
	// The exemption itself still holds for a service with no OTR history.
	svc := teststack.DialIRC(t, e.ircFor(u.network).Addr(), "HostServ", teststack.IRCClientOptions{})
	svcRoom := u.portalFromIRC(t, svc, e.text("a service writes"))
	e.sentUnencrypted(t, u, svc, svcRoom, "to a real service")

	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	e.shareChannel(t, u, p.irc)
	e.exchange(t, u, p, room, "before the service rename")

	suffixed := e.unique("erin") + "serv"
	if err := p.glue.SetNick(suffixed); err != nil {
		t.Fatal(err)
	}
	u.notice(t, room, "known as "+suffixed, wait)
	e.sentPrivately(t, u, p, room, "to a nick ending in serv")

	// An oper can give the peer any free nick, a configured service's too
	// (the test network has no services holding them).
	const service = "BotServ"
	if err := e.oper(t, u).Send("SANICK " + suffixed + " " + service); err != nil {
		t.Fatal(err)
	}
	waitSeen(t, p.irc, "the SANICK", func(l teststack.IRCLine) bool { return l.Command() == "NICK" && l.Param(0) == service })
	u.notice(t, room, "known as "+service, wait)
	e.sentPrivately(t, u, p, room, "to a configured service name")
	if info := p.Info(); info.State != "encrypted" {
		t.Errorf("libotr state after the renames: %s", info.State)
	}
	p.assertWireClean(t, u)
}

// testIdentHostGuess: frank quits, and mallory, connected with frank's user
// name from frank's host (all test clients share 127.0.0.1), is the only
// user left who matches. The bridge may suggest mallory, never follow:
// alice's next message does not reach mallory (it fails, nobody has the
// nick), and the real frank, back under his nick, writes into the same
// chat. When frank then renames where the bridge cannot see it, the chat
// moves only on alice's `follow`.
func testIdentHostGuess(t *testing.T, e *env) {
	u := e.newUser(t, "")
	u.login(t, netLocal, e.unique("mx"))
	ident := e.unique("frank")
	addr := e.ircFor(u.network).Addr()
	frankNick := ident
	frank := teststack.DialIRC(t, addr, frankNick, teststack.IRCClientOptions{User: ident})
	room := u.portalFromIRC(t, frank, e.text("hello from frank"))
	mallory := teststack.DialIRC(t, addr, e.unique("mallory"), teststack.IRCClientOptions{User: ident})

	frank.Quit("bye")
	// The bridge's word on the departure (or, wrongly, on a rename).
	if _, err := u.mx.WaitMessage(wait, room, "", func(ev teststack.MatrixEvent) bool {
		return ev.MsgType() == "m.notice" && (strings.Contains(ev.Body(), "Messages to "+frankNick+" fail") || strings.Contains(ev.Body(), "now known as"))
	}); err != nil {
		t.Fatalf("the chat was not told that frank left: %v", err)
	}
	out := e.text("for frank only")
	id := u.sendPortal(t, room, out)
	if st := u.messageStatus(t, room, id, wait); st.Str("status") == "SUCCESS" {
		t.Errorf("the message to the departed frank reported SUCCESS")
	}
	for _, l := range mallory.Lines() {
		if strings.EqualFold(l.From(), u.nick) {
			t.Errorf("mallory got a line from the bridge: %.80q", l.Raw)
		}
	}
	for _, ev := range u.mx.Messages(room) {
		if strings.Contains(ev.Body(), "now known as") {
			t.Errorf("the chat claims a rename: %s", ev.Body())
		}
	}
	if s := u.notice(t, room, "might now be "+mallory.Nick(), wait); !strings.Contains(s.Body(), "guess") {
		t.Errorf("the suggestion does not say it is a guess: %s", s.Body())
	}
	u.notice(t, room, "not on IRC", wait)

	// The real frank comes back under his nick: the same chat.
	frank = teststack.DialIRC(t, addr, frankNick, teststack.IRCClientOptions{User: ident})
	back := e.text("frank is back")
	frank.Privmsg(u.nick, back)
	if _, err := u.mx.WaitMessage(wait, room, e.ghost(u.network, frankNick), func(ev teststack.MatrixEvent) bool { return ev.Body() == back }); err != nil {
		t.Fatalf("frank's message after his return is not in his chat: %v", err)
	}
	if inv, err := u.mx.WaitChatInvite(2*time.Second, ""); err == nil {
		t.Errorf("frank's return opened another chat %s", inv.RoomID)
	}

	// frank renames without a shared channel: only a suggestion, then
	// alice's `follow`.
	mallory.Quit("done")
	renamed := e.unique("frankly")
	if err := frank.SetNick(renamed); err != nil {
		t.Fatal(err)
	}
	u.notice(t, room, "might now be "+renamed, wait)
	u.portalCommand(t, room, "follow "+renamed, "now goes to "+renamed)
	after := e.text("after follow")
	u.sendPortal(t, room, after)
	l, err := frank.WaitPrivmsg(wait, u.nick, false)
	if err != nil || l.Text() != after || !strings.EqualFold(l.Param(0), renamed) {
		t.Fatalf("after follow frank got %q to %q, %v", l.Text(), l.Param(0), err)
	}
}
