package e2e

import (
	"strings"
	"testing"
)

// testCommandPlaces: commands act where they belong. In a DM portal
// `!otr disconnect` ends the private conversation (bitlbee's meaning) and
// the IRC connection stays; IRC connection commands are refused there with
// a pointer to the control room; an argument a command does not take is an
// error, not ignored.
func testCommandPlaces(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	room := u.portalFromIRC(t, peer, e.text("hello for the commands"))

	u.portalCommand(t, room, "disconnect", "no private conversation with "+peer.Nick())
	u.portalCommand(t, room, "nick someoneelse", "use it in the control room")
	u.portalCommand(t, room, "reconnect", "use it in the control room")
	u.portalCommand(t, room, "init "+peer.Nick(), "unexpected")
	u.portalCommand(t, room, "policy always now", "unexpected")

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
	if rep := u.command(t, "status extra"); !strings.Contains(rep.Body(), "Unexpected") {
		t.Errorf("`status extra` answered %q", rep.Body())
	}
	if rep := u.command(t, "status"); !strings.Contains(rep.Body(), "connected") || strings.Contains(rep.Body(), "disconnected by you") {
		t.Errorf("status after the refused commands: %q", rep.Body())
	}
}
