package e2e

import (
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// testOTRServiceRename: a peer in a private conversation (policy always)
// renames itself to a nick that ends in "serv", and an oper then renames
// it (SANICK) to a name on the configured services list. The bridge shares
// a channel with the peer, so it sees and follows both renames; neither
// changes anything about the privacy of the conversation: the next
// messages go out encrypted, nothing reaches the wire in plaintext, and
// Matrix shows them as delivered privately.
func testOTRServiceRename(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.portalCommand(t, room, "policy always", "always")
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
