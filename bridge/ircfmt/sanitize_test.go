package ircfmt

import (
	"strings"
	"testing"
)

func TestLooksLikeHTML(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"hello there", false},
		{"a < b and c > d", false},
		{"<3 you", false},
		{"see <https://example.org>", false},
		{"I <b>mean</b> it", true},
		{`<FONT COLOR="#000000">hi</FONT>`, true},
		{`<a href="https://example.org">x</a>`, true},
		{"line<br>line", true},
		{"fish &amp; chips", true},
		{"a &lt; b", true},
		{"&#x263A;", true},
	} {
		if got := LooksLikeHTML(tc.in); got != tc.want {
			t.Errorf("LooksLikeHTML(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// An OTR peer's HTML goes through HTMLToIRC and then, like all IRC text,
// IRCToMatrix: nothing of its markup passes through, the result holds
// only elements this package writes.
func TestPeerHTMLIsRebuilt(t *testing.T) {
	for _, tc := range []struct{ in, plain, html string }{
		{"fish &amp; chips", "fish & chips", ""},
		{`<FONT COLOR="#FF0000"><B>hot</B></FONT> stuff`, "hot stuff",
			`<font data-mx-color="#ff0000"><strong>hot</strong></font> stuff`},
		{`<a href="javascript:alert(1)">click</a>`, "click (javascript:alert(1))", ""},
		{`<img src=x onerror=alert(1)><script>alert(2)</script><b onclick="x">b</b>`, "[image]b", "[image]<strong>b</strong>"},
		{`<b>&lt;script&gt;</b>`, "<script>", "<strong>&lt;script&gt;</strong>"},
		{"a<br>b", "a\nb", ""},
	} {
		plain, html := IRCToMatrix(HTMLToIRC(tc.in))
		if plain != tc.plain || html != tc.html {
			t.Errorf("IRCToMatrix(HTMLToIRC(%q)) = %q, %q; want %q, %q", tc.in, plain, html, tc.plain, tc.html)
		}
		if strings.Contains(strings.ToLower(html), "script>") || strings.Contains(html, "onclick") || strings.Contains(html, "href") {
			t.Errorf("%q let markup through: %q", tc.in, html)
		}
	}
}
