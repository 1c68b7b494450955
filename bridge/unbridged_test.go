package bridge

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/id"
)

func TestUnbridgeable(t *testing.T) {
	const owner, other = id.UserID("@alice:hs"), id.UserID("@mallory:hs")
	portal := &bridgev2.Portal{Portal: &database.Portal{}}
	login := &bridgev2.UserLogin{UserLogin: &database.UserLogin{UserMXID: owner}}

	if _, ok := unbridgeable(portal, login, owner); ok {
		t.Error("the owner's message counted as unbridgeable")
	}
	f, ok := unbridgeable(portal, nil, owner)
	if !ok || !f.certain || !strings.Contains(f.text, "logged out") {
		t.Errorf("after logout: %+v, %v", f, ok)
	}
	f, ok = unbridgeable(portal, login, other)
	if !ok || !f.certain || !strings.Contains(f.text, string(owner)) {
		t.Errorf("someone else in the room: %+v, %v", f, ok)
	}
	relayed := &bridgev2.Portal{Portal: &database.Portal{}, Relay: login}
	if _, ok := unbridgeable(relayed, login, other); ok {
		t.Error("a message bridgev2 relays counted as unbridgeable")
	}
}
