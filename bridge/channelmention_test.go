package bridge

import (
	"slices"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
)

func TestAddMentionPills(t *testing.T) {
	alice, bob := id.UserID("@alice:example.org"), id.UserID("@bob:example.org")
	nicks := map[string]id.UserID{"alice": alice, "bob{}": bob, "amp": "@amp:example.org"}
	fold := ircconn.RFC1459.Fold
	for _, tc := range []struct {
		irc       string
		want      string
		wantUsers []id.UserID
	}{
		{"hello there", "", nil},
		// "alicex" and "xalice" are other words.
		{"alicex and xalice", "", nil},
		{"Alice: hi", `<a href="https://matrix.to/#/@alice:example.org">Alice</a>: hi`, []id.UserID{alice}},
		// RFC 1459 casemapping: [] are the upper case of {}.
		{"BOB[] & alice, alice", `<a href="https://matrix.to/#/@bob:example.org">BOB[]</a> &amp; <a href="https://matrix.to/#/@alice:example.org">alice</a>, <a href="https://matrix.to/#/@alice:example.org">alice</a>`, []id.UserID{bob, alice}},
		// Formatting stays; words inside tags and character references are no nicks.
		{"\x02alice\x02 <amp>", `<strong><a href="https://matrix.to/#/@alice:example.org">alice</a></strong> &lt;<a href="https://matrix.to/#/@amp:example.org">amp</a>&gt;`, []id.UserID{alice, "@amp:example.org"}},
	} {
		plain, formatted := ircfmt.IRCToMatrix(tc.irc)
		got, users := addMentionPills(plain, formatted, fold, nicks)
		if tc.want == "" {
			tc.want = formatted
		}
		if got != tc.want || !slices.Equal(users, tc.wantUsers) {
			t.Errorf("%q:\n got %q %v\nwant %q %v", tc.irc, got, users, tc.want, tc.wantUsers)
		}
	}
}
