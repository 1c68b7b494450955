package e2e

import (
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// privateWith sets up a user, a libotr peer and their portal, and starts a
// private conversation from the bridge.
func (e *env) privateWith(t *testing.T) (*user, *otrPeer, string) {
	t.Helper()
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	return u, p, room
}

// fromGhostType waits for the next message of the peer's ghost with the
// given msgtype.
func (u *user) fromGhostType(t *testing.T, room, nick, msgtype string) teststack.MatrixEvent {
	t.Helper()
	ev, err := u.mx.WaitMessage(wait, room, u.e.ghost(u.network, nick), func(ev teststack.MatrixEvent) bool {
		return ev.MsgType() == msgtype
	})
	if err != nil {
		t.Fatalf("no %s from %s's ghost: %v\nseen:%s", msgtype, nick, err, u.roomTranscript(room))
	}
	return ev
}

// testOTREmotes: emotes travel inside OTR as "/me ..." (the irssi/weechat
// convention) both ways and are emotes again in Matrix.
func testOTREmotes(t *testing.T, e *env) {
	u, p, room := e.privateWith(t)

	out := e.text("waves from matrix")
	if _, err := u.mx.SendEmote(room, out); err != nil {
		t.Fatal(err)
	}
	p.received(t, "/me "+out)

	in := e.text("waves from irc")
	p.Send("/me " + in)
	ev := u.fromGhostType(t, room, p.irc.Nick(), "m.emote")
	if ev.Body() != in {
		t.Errorf("the peer's emote arrived as %q, want %q", ev.Body(), in)
	}
	// A "/me" inside a word or later in the text is no emote.
	mid := e.text("see /me later")
	p.Send(mid)
	if ev := u.fromGhostType(t, room, p.irc.Nick(), "m.text"); ev.Body() != mid {
		t.Errorf("portal got %q, want %q", ev.Body(), mid)
	}
	p.assertWireClean(t, u, out, in, mid)
	for _, l := range p.irc.Lines() {
		if _, ok := l.Action(); ok {
			t.Errorf("a CTCP ACTION went on the wire in plaintext during a private conversation: %.80q", l.Raw)
		}
	}
}

// testOTRPeerHTML: a Pidgin-style peer sends HTML inside OTR; Matrix gets
// sanitised HTML and a readable plain body, markup the bridge does not
// write (script, images, unknown tags) never passes through, and plain
// text from a terminal client stays plain.
func testOTRPeerHTML(t *testing.T, e *env) {
	u, p, room := e.privateWith(t)
	nick := p.irc.Nick()

	word := e.text("bold")
	word = strings.ReplaceAll(word, " ", "-")
	e.remember(word)
	p.Send(`<b>` + word + `</b> &amp; <a href="https://example.org/">link</a>`)
	ev := u.fromGhostType(t, room, nick, "m.text")
	if want := word + " & link (https://example.org/)"; ev.Body() != want {
		t.Errorf("plain body %q, want %q", ev.Body(), want)
	}
	html := ev.HTML()
	if !strings.Contains(html, "<strong>"+word+"</strong>") || !strings.Contains(html, "&amp;") {
		t.Errorf("formatted_body %q lacks the bold text or the escaped ampersand", html)
	}
	if strings.Contains(html, "<b>") || strings.Contains(html, "href") {
		t.Errorf("formatted_body %q passes the peer's markup through", html)
	}

	evil := e.text("evil")
	evil = strings.ReplaceAll(evil, " ", "-")
	e.remember(evil)
	p.Send(`<i>` + evil + `</i><script>alert("x")</script><blink>on</blink><img src="https://example.org/x.png" onerror="alert(2)"><marquee>m</marquee>`)
	ev = u.fromGhostType(t, room, nick, "m.text")
	html = ev.HTML()
	if !strings.Contains(html, "<em>"+evil+"</em>") {
		t.Errorf("formatted_body %q lacks the italic text", html)
	}
	for _, bad := range []string{"<script", "alert", "<blink", "<img", "onerror", "<marquee"} {
		if strings.Contains(strings.ToLower(html), bad) || strings.Contains(strings.ToLower(ev.Body()), bad) {
			t.Errorf("%q passed through: body %q, formatted_body %q", bad, ev.Body(), html)
		}
	}
	if !strings.HasPrefix(ev.Body(), evil) {
		t.Errorf("plain body %q does not start with the text", ev.Body())
	}

	// A terminal client's text with characters that are special in HTML
	// arrives byte for byte, without formatted_body.
	plain := e.text("a < b && c > d, 1 <3 2")
	p.Send(plain)
	ev = u.fromGhostType(t, room, nick, "m.text")
	if ev.Body() != plain {
		t.Errorf("plain text arrived as %q, want %q", ev.Body(), plain)
	}
	if _, has := ev.Content["formatted_body"]; has {
		t.Errorf("plain text got a formatted_body: %q", ev.Content["formatted_body"])
	}
	p.assertWireClean(t, u, word, evil, plain)

	// Outside OTR, IRC text is never read as HTML: a plain client's
	// "<b>" and "&amp;" arrive literally.
	other := teststack.DialIRC(t, e.irc.Addr(), e.unique("plainpeer"), teststack.IRCClientOptions{})
	literal := e.text("<b>not bold</b> &amp; literal")
	plainRoom := u.portalFromIRC(t, other, literal)
	for _, ev := range u.mx.Messages(plainRoom) {
		if ev.Body() == literal {
			if _, has := ev.Content["formatted_body"]; has {
				t.Errorf("a plain IRC message got a formatted_body: %q", ev.Content["formatted_body"])
			}
		}
	}
}
