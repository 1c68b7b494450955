package bridge

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

func TestConvertOutgoing(t *testing.T) {
	c := &IRCClient{}
	for _, tc := range []struct {
		name    string
		content event.MessageEventContent
		kind    ircconn.Kind
		lines   []string
	}{
		{"text", event.MessageEventContent{MsgType: event.MsgText, Body: "hello"}, ircconn.Privmsg, []string{"hello"}},
		{"multi-line", event.MessageEventContent{MsgType: event.MsgText, Body: "one\r\n\ntwo\n  \nthree"}, ircconn.Privmsg, []string{"one", "two", "three"}},
		{"emote", event.MessageEventContent{MsgType: event.MsgEmote, Body: "waves"}, ircconn.Action, []string{"waves"}},
		{"emote with CTCP delimiters", event.MessageEventContent{MsgType: event.MsgEmote, Body: "\x01waves\x01 back"}, ircconn.Action, []string{"waves back"}},
		{"notice", event.MessageEventContent{MsgType: event.MsgNotice, Body: "fyi"}, ircconn.Notice, []string{"fyi"}},
		{"html bold", event.MessageEventContent{MsgType: event.MsgText, Body: "**hi**", Format: event.FormatHTML, FormattedBody: "<b>hi</b>"}, ircconn.Privmsg, []string{"\x02hi\x0f"}},
		{"reply fallback removed", event.MessageEventContent{MsgType: event.MsgText, Body: "> <@a:b> old\n\nnew",
			RelatesTo: &event.RelatesTo{InReplyTo: &event.InReplyTo{EventID: "$x"}}}, ircconn.Privmsg, []string{"new"}},
		{"location", event.MessageEventContent{MsgType: event.MsgLocation, Body: "Location: geo:1,2 at noon", GeoURI: "geo:1,2"}, ircconn.Privmsg, []string{"Location: geo:1,2 at noon"}},
		{"location, description only", event.MessageEventContent{MsgType: event.MsgLocation, Body: "the station", GeoURI: "geo:1,2"}, ircconn.Privmsg, []string{"the station geo:1,2"}},
	} {
		content := tc.content
		out, err := c.convertOutgoing(context.Background(), nil, &content, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if out.Kind != tc.kind || !reflect.DeepEqual(out.Lines, tc.lines) {
			t.Errorf("%s: got %v %q, want %v %q", tc.name, out.Kind, out.Lines, tc.kind, tc.lines)
		}
	}
	for _, content := range []event.MessageEventContent{
		{MsgType: event.MsgText, Body: " \n\n "},
		{MsgType: event.MsgLocation, Body: " ", GeoURI: ""},
		{MsgType: "m.unknown", Body: "something"},
	} {
		if _, err := c.convertOutgoing(context.Background(), nil, &content, nil); err == nil {
			t.Errorf("convertOutgoing(%+v) = nil error", content)
		}
	}
}

func TestFallbackSnippet(t *testing.T) {
	for body, want := range map[string]string{
		"> <@bob:x> the original\n\nmy reply": "the original",
		"> * <@bob:x> waves\n\nhi":            "waves",
		"no fallback":                         "",
		"> <@bob:x> first\n> second\n\nreply": "first",
	} {
		if got := fallbackSnippet(body); got != want {
			t.Errorf("fallbackSnippet(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestShorten(t *testing.T) {
	if got := shorten("short", 60); got != "short" {
		t.Errorf("shorten = %q", got)
	}
	got := shorten(strings.Repeat("é", 50), 60)
	if len(got) > 60 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("shorten = %q (%d bytes)", got, len(got))
	}
}

// A failed message is explained in the bridge's own notice (the nick, the
// server's text); the status bridgev2 sends unencrypted carries a fixed
// text only, and an unconfirmed message is retriable, not failed.
func TestSendFailureExplains(t *testing.T) {
	for _, tc := range []struct {
		err     error
		want    string
		certain bool
	}{
		{&ircconn.PeerError{Target: "bob", Code: "401", Text: "No such nick"}, "bob is not on IRC right now", true},
		{&ircconn.PeerError{Target: "bob", Code: "486", Text: "You must be identified"}, "only accepts messages from users logged in", true},
		{ircconn.ErrNotConnected, "not connected to IRC", true},
		{ircconn.ErrStopped, "use `reconnect`", true},
		{ircconn.ErrConnectionLost, "Maybe not delivered", false},
		{ircconn.ErrUnconfirmed, "did not confirm", false},
	} {
		f := sendFailure(tc.err)
		notice := f.notice("$event")
		if !strings.Contains(notice.Body, tc.want) || f.certain != tc.certain || notice.RelatesTo.GetReplyTo() != "$event" {
			t.Errorf("sendFailure(%v): notice %q, certain=%v; want %q, certain=%v", tc.err, notice.Body, f.certain, tc.want, tc.certain)
		}
		var st bridgev2.MessageStatus
		if err := error(f.status()); !errors.As(err, &st) || !errors.Is(err, tc.err) {
			t.Fatalf("status of %v: %v does not wrap the cause", tc.err, err)
		}
		want := event.MessageStatusFail
		if !tc.certain {
			want = event.MessageStatusRetriable
		}
		mss := st.ToMSSEvent(&bridgev2.MessageStatusEventInfo{SourceEventID: "$event"})
		if st.SendNotice || st.Status != want || st.IsCertain != tc.certain {
			t.Errorf("status of %v: %+v, want %s without bridgev2's notice", tc.err, st, want)
		}
		for _, s := range []string{mss.Message, mss.InternalError} {
			if strings.Contains(s, "bob") || strings.Contains(s, "No such nick") || strings.Contains(s, "identified") {
				t.Errorf("the status event of %v carries detail: %q", tc.err, s)
			}
		}
	}
}

func TestPeerErrorShownOnce(t *testing.T) {
	c := &IRCClient{}
	var conn ircConn = &fakeConn{}
	c.conn.Store(&conn)
	c.notePeerError(fmt.Errorf("wrapped: %w", &ircconn.PeerError{Target: "Bob", Code: "401", Text: "No such nick"}))
	if !c.peerErrorShown("401", "bob") {
		t.Error("the same 401 right after a failed message must be recognised (case-insensitively)")
	}
	if c.peerErrorShown("404", "bob") || c.peerErrorShown("401", "carol") {
		t.Error("other numerics or nicks must still be shown")
	}
	c.notePeerError(ircconn.ErrNotConnected) // not a peer error: ignored
}

func TestReactionText(t *testing.T) {
	for _, tc := range []struct{ key, snippet, want string }{
		{"👍", "see you at 8", "reacted 👍 to: see you at 8"},
		{"👍", "", "reacted 👍"},
		{"mxc://example.org/abc", "hi", "reacted with an image to: hi"},
		{"ok\r\nQUIT :bye\x00", "hi", "reacted okQUIT :bye to: hi"},
		{strings.Repeat("🎉", 20), "", "reacted " + strings.Repeat("🎉", 7) + "…"},
		{" \t ", "", "reacted with an empty reaction"},
	} {
		if got := reactionText(tc.key, tc.snippet); got != tc.want {
			t.Errorf("reactionText(%q, %q) = %q, want %q", tc.key, tc.snippet, got, tc.want)
		}
	}
}

// The quote of a reply and a reaction's emote go through the body's
// sanitiser: no CR, NUL or CTCP delimiter, one IRC line per line.
func TestTextLinesSanitises(t *testing.T) {
	got := textLines(strings.Join([]string{"> <bob> quoted\r\x01VERSION\x01", "body\x00"}, "\n"))
	if want := []string{"> <bob> quotedVERSION", "body"}; !reflect.DeepEqual(got, want) {
		t.Errorf("textLines = %q, want %q", got, want)
	}
}
