package bridge

import (
	"fmt"
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

// The aliases cache is bounded: at maxCachedPeers the entries lookupPeerID
// can work out again (a nick's own peer ID) are dropped, the aliases of
// renamed peers (which it cannot) stay, and the new entry is kept.
func TestAliasesAreBounded(t *testing.T) {
	c := testClient("local/@a:x", "@a:x")
	c.aliases = map[string]networkid.UserID{}
	const renamed = 10
	for i := range renamed {
		c.peerRenamed(fmt.Sprintf("old%d", i), fmt.Sprintf("new%d", i), makeUserID("local", fmt.Sprintf("old%d", i), 1))
	}
	c.rememberPeer("reused", makeUserID("local", "reused", 2)) // a nick's second owner: looked up again too
	for i := 0; len(c.aliases) < maxCachedPeers; i++ {
		nick := fmt.Sprintf("p%d", i)
		c.rememberPeer(nick, makeUserID("local", nick, 1))
	}
	c.rememberPeer("last", makeUserID("local", "last", 1))
	if n := len(c.aliases); n != renamed+1 {
		t.Fatalf("%d aliases after the cap, want the %d renamed and the new one", n, renamed)
	}
	for i := range renamed {
		if got := c.aliases[fmt.Sprintf("new%d", i)]; got != makeUserID("local", fmt.Sprintf("old%d", i), 1) {
			t.Errorf("renamed peer %d: alias %q", i, got)
		}
	}
	if _, ok := c.aliases["reused"]; ok || c.aliases["last"] != "local.last" {
		t.Errorf("aliases %v", c.aliases)
	}
	// Filling up again drops the own IDs again; the map never passes the cap.
	for i := range 2 * maxCachedPeers {
		nick := fmt.Sprintf("q%d", i)
		c.rememberPeer(nick, makeUserID("local", nick, 1))
		if len(c.aliases) > maxCachedPeers {
			t.Fatalf("%d aliases, over the cap", len(c.aliases))
		}
	}
}
