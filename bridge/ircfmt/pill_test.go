package ircfmt

import "testing"

func TestHTMLToIRCWithPills(t *testing.T) {
	nicks := map[string]string{
		"@otrirc_local.bob:example.org": "Bob",
		"@alice:example.org":            "alice_",
	}
	pill := func(user string) (string, bool) {
		n, ok := nicks[user]
		return n, ok
	}
	for _, tc := range []struct{ in, want string }{
		{`<a href="https://matrix.to/#/@otrirc_local.bob:example.org">Bob (Local IRC)</a>: hi`, "Bob: hi"},
		{`<a href="https://matrix.to/#/%40alice%3Aexample.org?via=example.org">Alice</a> and <a href="https://matrix.to/#/@otrirc_local.bob:example.org">b</a>`, "alice_ and Bob"},
		// A pill of someone unknown keeps its text; a room link is no pill.
		{`<a href="https://matrix.to/#/@carol:example.org">Carol</a>: hi`, "Carol: hi"},
		{`<a href="https://matrix.to/#/#room:example.org">#room</a>`, "#room"},
		// Formatting around the pill stays.
		{`<b><a href="https://matrix.to/#/@alice:example.org">Alice</a></b>`, "\x02alice_\x0f"},
	} {
		if got := HTMLToIRCWithPills(tc.in, pill); got != tc.want {
			t.Errorf("HTMLToIRCWithPills(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Without a pill function it is HTMLToIRC.
	in := `<a href="https://matrix.to/#/@alice:example.org">Alice</a>: hi`
	if got, want := HTMLToIRCWithPills(in, nil), HTMLToIRC(in); got != want || got != "Alice: hi" {
		t.Errorf("without pills: %q, HTMLToIRC %q", got, want)
	}
}

func TestPillUser(t *testing.T) {
	for href, want := range map[string]string{
		"https://matrix.to/#/@bob:example.org":           "@bob:example.org",
		"https://matrix.to/#/@bob:example.org?via=a.org": "@bob:example.org",
		"https://matrix.to/#/%40bob%3Aexample.org":       "@bob:example.org",
		"https://matrix.to/#/!room:example.org":          "",
		"https://matrix.to/#/@bob:example.org/$event":    "",
		"https://example.org/#/@bob:example.org":         "",
		"https://matrix.to/#/@bob":                       "",
	} {
		if got := pillUser(href); got != want {
			t.Errorf("pillUser(%q) = %q, want %q", href, got, want)
		}
	}
}
