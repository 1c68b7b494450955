package e2e

import (
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// testChannelMeetThenOTR: alice meets bob (libotr) in a channel, opens a
// DM from his channel ghost as a Matrix client does (a new room with the
// ghost invited), starts OTR there, and the private conversation is
// encrypted on the wire. bob's earlier channel line and his DM reach the
// same DM portal's ghost.
func testChannelMeetThenOTR(t *testing.T, e *env) {
	alice, bob, ghost := meetInChannel(t, e)

	// One click: a DM with the ghost from the channel's member list.
	room, err := alice.mx.CreateDM(ghost)
	if err != nil {
		t.Fatalf("create DM with %s: %v", ghost, err)
	}
	if _, err := alice.mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		return ev.RoomID == room && ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == ghost &&
			ev.Str("membership") == "join"
	}); err != nil {
		t.Fatalf("bob's ghost did not join the DM: %v", err)
	}
	alice.notice(t, room, "portal created", wait)
	if _, err := alice.mx.SendText(room, "!otr init"); err != nil {
		t.Fatal(err)
	}
	bob.goSecure(t, alice, room)
	e.exchange(t, alice, bob, room, "met in a channel")
	// `pm` with his nick finds the same DM.
	alice.say(t, "pm "+bob.irc.Nick())
	alice.replyContaining(t, wait, room)
}

// testChannelPeerDMFirst: bob (libotr) speaks in a channel alice is in,
// then writes to her directly, which opens the DM portal. Clicking his
// channel ghost afterwards (a new DM room with the ghost) and `pm` must
// both lead to that portal, not to a second one, and the private
// conversation runs there.
func testChannelPeerDMFirst(t *testing.T, e *env) {
	alice, bob, ghost := meetInChannel(t, e)

	// bob writes first: that opens the DM portal.
	first := e.text("bob writes to alice directly")
	bob.Send(first)
	room := alice.joinInvite(t)
	if ev := alice.fromGhost(t, room, bob.irc.Nick()); ev.Body() != first {
		t.Fatalf("the DM portal got %q, want %q", ev.Body(), first)
	}

	// The click on his channel ghost: the bridge points to the portal and
	// the ghost leaves the new room.
	clicked, err := alice.mx.CreateDM(ghost)
	if err != nil {
		t.Fatalf("create DM with %s: %v", ghost, err)
	}
	if clicked == room {
		t.Fatal("the homeserver returned the portal's room for a new room")
	}
	alice.notice(t, clicked, room, wait)
	alice.waitMember(t, clicked, ghost, "leave")
	// `pm` with his nick names the same portal.
	alice.say(t, "pm "+bob.irc.Nick())
	alice.replyContaining(t, wait, room)

	// The private conversation runs in that portal, both ways.
	if _, err := alice.mx.SendText(room, "!otr init"); err != nil {
		t.Fatal(err)
	}
	bob.goSecure(t, alice, room)
	e.exchange(t, alice, bob, room, "dm first then channel ghost")
	for _, ev := range alice.mx.Messages(clicked) {
		if ev.Sender == ghost && ev.MsgType() != "m.notice" {
			t.Errorf("a message from bob reached the clicked room: %q", ev.Body())
		}
	}
}

// meetInChannel: alice (logged in) and bob (a libotr peer, policy manual)
// are in one channel, and bob's line there reached alice from his ghost.
func meetInChannel(t *testing.T, e *env) (alice *user, bob *otrPeer, ghost string) {
	t.Helper()
	alice = e.newUser(t, "")
	alice.login(t, netLocal, e.unique("mx"))
	bob = e.otrPeerFor(t, alice, e.unique("bob"), otrtest.Options{Policy: otrtest.PolicyManual})
	channel := e.ircChannel()
	ircJoin(t, bob.irc, channel)
	chanRoom := alice.joinChannel(t, channel)
	hello := e.text("hello from bob in the channel")
	bob.irc.Privmsg(channel, hello)
	ghost = e.ghost(netLocal, bob.irc.Nick())
	alice.fromSender(t, chanRoom, ghost, hello)
	return alice, bob, ghost
}
