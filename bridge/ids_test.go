package bridge

import (
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"
)

func TestUserIDRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		network, nick string
		n             int
		want          networkid.UserID
	}{
		{"libera", "bob", 1, "libera.bob"},
		{"libera", "bob{away}", 1, "libera.bob{away}"},
		{"oftc-2", "a_b", 3, "oftc-2.a_b.3"},
	} {
		uid := makeUserID(tc.network, tc.nick, tc.n)
		if uid != tc.want {
			t.Errorf("makeUserID(%q, %q, %d) = %q, want %q", tc.network, tc.nick, tc.n, uid, tc.want)
		}
		network, nick, ok := parseUserID(uid)
		if !ok || network != tc.network || nick != tc.nick {
			t.Errorf("parseUserID(%q) = %q, %q, %v", uid, network, nick, ok)
		}
	}
}

func TestParseUserIDRejects(t *testing.T) {
	for _, uid := range []networkid.UserID{
		"", "libera", "libera.", ".bob", "Libera.bob", "libera.bob.1", "libera.bob.02", "libera.bob.x",
		"libera.bob.2.3", "libera.9bob", "libera.bo b", "libera.bob!x", "toolongnetworkname-toolongnetwork.bob",
	} {
		if network, nick, ok := parseUserID(uid); ok {
			t.Errorf("parseUserID(%q) = %q, %q, true; want rejection", uid, network, nick)
		}
	}
}

func TestLoginIDIsPerUserAndNetwork(t *testing.T) {
	a := makeLoginID("libera", id.UserID("@alice:example.org"))
	b := makeLoginID("oftc", id.UserID("@alice:example.org"))
	c := makeLoginID("libera", id.UserID("@bob:example.org"))
	if a == b || a == c || b == c {
		t.Fatalf("login IDs collide: %q %q %q", a, b, c)
	}
	if a != "libera/@alice:example.org" {
		t.Errorf("login ID = %q", a)
	}
}

func TestValidateNick(t *testing.T) {
	for _, nick := range []string{"bob", "Bob", "[bob]", "b0b", "b-b", "`x", "_a", "a^b|c{d}\\"} {
		if err := validateNick(nick); err != nil {
			t.Errorf("validateNick(%q) = %v, want nil", nick, err)
		}
	}
	long := make([]byte, maxNickLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, nick := range []string{"", "0bob", "-bob", "bo b", "bob!", "bob@x", "bob.x", "#chan", "bö", "a\r", string(long)} {
		if err := validateNick(nick); err == nil {
			t.Errorf("validateNick(%q) = nil, want error", nick)
		}
	}
}

func TestIdentFor(t *testing.T) {
	for nick, want := range map[string]string{"bob": "bob", "[bob]": "bob", "averyverylongnick": "averyveryl", "[]": "otrbridge", "a_b-c": "a_b-c"} {
		if got := identFor(nick); got != want {
			t.Errorf("identFor(%q) = %q, want %q", nick, got, want)
		}
	}
}
