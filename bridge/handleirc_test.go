package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

func TestPeerNumericText(t *testing.T) {
	for _, tc := range []struct{ code, want string }{
		{"301", "bob is away: gone fishing"},
		{"401", "bob is not on IRC right now"},
		{"404", "did not let the message through"},
		{"477", "only accepts messages from users logged in"},
		{"486", "only accepts messages from users logged in"},
		{"716", "blocks private messages"},
		{"717", "they have to accept you"},
		{"999", "bob: 999 gone fishing"},
	} {
		if got := peerNumericText(tc.code, "bob", "gone \x02fishing\x02"); !strings.Contains(got, tc.want) {
			t.Errorf("peerNumericText(%s) = %q, want it to contain %q", tc.code, got, tc.want)
		}
	}
}

func TestConvertIncoming(t *testing.T) {
	for _, tc := range []struct {
		in                  otrsession.IncomingText
		msgtype             event.MessageType
		body, formattedPart string
	}{
		{otrsession.IncomingText{Kind: ircconn.Privmsg, Text: "plain"}, event.MsgText, "plain", ""},
		{otrsession.IncomingText{Kind: ircconn.Privmsg, Text: "\x02bold\x02"}, event.MsgText, "bold", "<strong>bold</strong>"},
		{otrsession.IncomingText{Kind: ircconn.Action, Text: "waves"}, event.MsgEmote, "waves", ""},
		{otrsession.IncomingText{Kind: ircconn.Notice, Text: "note"}, event.MsgNotice, "note", ""},
		{otrsession.IncomingText{Kind: ircconn.Privmsg, Text: "hi", Annotation: "not encrypted"}, event.MsgText, "hi [not encrypted]", "<em>[not encrypted]</em>"},
	} {
		cm, err := convertIncoming(context.Background(), nil, nil, tc.in)
		if err != nil || len(cm.Parts) != 1 {
			t.Fatalf("convertIncoming(%+v) = %v, %v", tc.in, cm, err)
		}
		c := cm.Parts[0].Content
		if c.MsgType != tc.msgtype || c.Body != tc.body || !strings.Contains(c.FormattedBody, tc.formattedPart) {
			t.Errorf("convertIncoming(%+v) = %s %q %q", tc.in, c.MsgType, c.Body, c.FormattedBody)
		}
		if tc.formattedPart == "" && c.FormattedBody != "" {
			t.Errorf("convertIncoming(%+v): unexpected HTML %q", tc.in, c.FormattedBody)
		}
	}
}

func TestFormatWhois(t *testing.T) {
	got := formatWhois(ircconn.WhoisInfo{
		Nick: "bob", User: "b", Host: "h", Realname: "Bob", Account: "bobacct", Away: "lunch",
		Idle: 90 * time.Second, SignOn: time.Unix(0, 0), Channels: []string{"#a", "#b"}, Secure: true,
	})
	for _, want := range []string{"**bob** (b@h): Bob", "logged in as bobacct", "away: lunch", "secure connection", "idle 1m30s", "channels: #a #b"} {
		if !strings.Contains(got, want) {
			t.Errorf("formatWhois output lacks %q:\n%s", want, got)
		}
	}
}
