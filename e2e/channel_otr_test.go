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
	alice := e.newUser(t, "")
	alice.login(t, netLocal, e.unique("mx"))
	bob := e.otrPeerFor(t, alice, e.unique("bob"), otrtest.Options{Policy: otrtest.PolicyManual})
	channel := e.ircChannel()
	ircJoin(t, bob.irc, channel)
	chanRoom := alice.joinChannel(t, channel)
	hello := e.text("hello from bob in the channel")
	bob.irc.Privmsg(channel, hello)
	ghost := e.ghost(netLocal, bob.irc.Nick())
	alice.fromSender(t, chanRoom, ghost, hello)

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
