package bridge

import (
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

func TestChannelPortalKey(t *testing.T) {
	key := channelPortalKey("libera", "#otr/dev.x")
	if key.Receiver != "" || key.ID != "libera/#otr/dev.x" {
		t.Fatalf("key = %+v", key)
	}
	network, ch, ok := parseChannelPortalID(key.ID)
	if !ok || network != "libera" || ch != "#otr/dev.x" {
		t.Fatalf("parse = %q %q %v", network, ch, ok)
	}
	if !isChannelPortal(key) {
		t.Fatal("not a channel portal")
	}
	// A DM portal is never a channel portal and a channel ID never a peer.
	dm := portalKeyFor(makeUserID("libera", "bob", 2), "libera/@alice:example.org")
	if isChannelPortal(dm) {
		t.Fatalf("DM portal %+v taken for a channel", dm)
	}
	if _, _, ok := parseUserID(networkid.UserID(key.ID)); ok {
		t.Fatal("a channel portal ID parses as a peer")
	}
	for _, bad := range []networkid.PortalID{"libera/", "/#otr", "Libera/#otr", "libera.bob"} {
		if _, _, ok := parseChannelPortalID(bad); ok {
			t.Errorf("%q parsed as a channel", bad)
		}
	}
	if isChannelPortal(networkid.PortalKey{ID: key.ID, Receiver: "x"}) {
		t.Error("a channel ID with a receiver is no shared channel portal")
	}
}
