package bridge

import (
	"context"
	"errors"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

func TestSplitStatusMsg(t *testing.T) {
	for target, want := range map[string][2]string{"#otr": {"#otr", ""}, "@#otr": {"#otr", "@"}, "@+#otr": {"#otr", "@+"}, "&x": {"&x", ""}} {
		ch, st := splitStatusMsg(target, "@+")
		if ch != want[0] || st != want[1] {
			t.Errorf("splitStatusMsg(%q) = %q %q", target, ch, st)
		}
	}
}

func TestConvertChannelLine(t *testing.T) {
	fold := ircconn.RFC1459.Fold
	mentions := map[string]id.UserID{"alice": "@alice:x"}
	conv := func(l channelLine) (string, string, string) {
		l.Fold, l.Mentions = fold, mentions
		cm, err := convertChannelLine(context.Background(), nil, nil, l)
		if err != nil {
			t.Fatal(err)
		}
		c := cm.Parts[0].Content
		return string(c.MsgType), c.Body, c.FormattedBody
	}
	if typ, body, html := conv(channelLine{Kind: ircconn.Privmsg, Nick: "carol", Text: "hi"}); typ != "m.text" || body != "hi" || html != "" {
		t.Errorf("plain line: %s %q %q", typ, body, html)
	}
	if typ, body, _ := conv(channelLine{Kind: ircconn.Action, Nick: "carol", Text: "waves"}); typ != "m.emote" || body != "waves" {
		t.Errorf("action: %s %q", typ, body)
	}
	// Posted by the bot: the nick goes in front, an action becomes text.
	if typ, body, html := conv(channelLine{Kind: ircconn.Action, Nick: "carol", Text: "waves", Relay: true}); typ != "m.text" || body != "* carol waves" || !strings.Contains(html, "<strong>* carol </strong>") {
		t.Errorf("relayed action: %s %q %q", typ, body, html)
	}
	if _, body, html := conv(channelLine{Kind: ircconn.Privmsg, Nick: "car<ol", Text: "alice: <b>", Relay: true, Status: "@"}); body != "[to @] <car<ol> alice: <b>" ||
		!strings.Contains(html, "&lt;car&lt;ol&gt;") || !strings.Contains(html, `matrix.to/#/@alice:x`) || strings.Contains(html, "<b>") {
		t.Errorf("relayed line to ops with a mention: %q %q", body, html)
	}
}

func TestModeText(t *testing.T) {
	for _, tc := range []struct {
		mc   ircconn.ModeChange
		want string
	}{
		{ircconn.ModeChange{Add: true, Mode: 'm'}, "+m (moderated: only voiced members and operators can speak)"},
		{ircconn.ModeChange{Add: false, Mode: 'i'}, "-i (no longer invite only)"},
		{ircconn.ModeChange{Add: true, Mode: 'k', Param: "secret"}, "+k (a key is needed to join)"},
		{ircconn.ModeChange{Add: true, Mode: 'X', Param: "p"}, "+X p"},
	} {
		if got := modeText(tc.mc); got != tc.want {
			t.Errorf("modeText(%v) = %q, want %q", tc.mc, got, tc.want)
		}
	}
}

func TestChannelErrorText(t *testing.T) {
	if got := channelErrorText(&ircconn.PeerError{Code: "474", Target: "#otr", Text: "Cannot join channel (+b)"}); got != "474: you are banned (+b)" {
		t.Errorf("474: %q", got)
	}
	if got := channelErrorText(&ircconn.PeerError{Code: "999", Text: "\x02odd\x02 reason"}); got != "999: odd reason" {
		t.Errorf("unknown code: %q", got)
	}
	bad := errors.Join(errors.New("channel 1: ircconn: invalid channel name: \"x\" does not start with one of \"#\""))
	if got := channelErrorText(bad); got != `invalid channel name: "x" does not start with one of "#"` {
		t.Errorf("validation error: %q", got)
	}
	if got := channelErrorText(channelLimitError{4}); !strings.Contains(got, "max_per_user") {
		t.Errorf("limit: %q", got)
	}
}
