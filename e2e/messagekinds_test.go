package e2e

import (
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// testOTRMessageKinds: what Element sends besides text and files reaches
// the peer, or its sender is told why not; bridgev2 would drop a sticker,
// a voice message, a location or a poll without a word (its error notices
// are off: they would be unencrypted). A sticker and a voice message go as
// links like files, a location as text with its geo: URI, and a poll,
// which IRC cannot show, gets a notice replying to it.
func testOTRMessageKinds(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	image := u.upload(t, "wave.png", []byte(e.text("a sticker's bytes")))
	audio := u.upload(t, "voice.ogg", []byte(e.text("a voice message's bytes")))

	got := func(what string, match func(string) bool) {
		t.Helper()
		if _, ok := p.WaitFor(longWait, func(l otrtest.Line) bool { return l.Kind == "MSG" && match(l.Text) }); !ok {
			t.Errorf("the peer got nothing for the %s\nseen:%s", what, u.roomTranscript(room))
		}
	}
	if _, err := u.mx.SendEvent(room, "m.sticker", map[string]any{
		"body": "wave", "url": image, "info": map[string]any{"mimetype": "image/png", "size": 17, "w": 64, "h": 64},
	}); err != nil {
		t.Fatal(err)
	}
	got("sticker", func(s string) bool {
		return strings.Contains(s, "/_mautrix/publicmedia/") && strings.Contains(s, "wave")
	})

	if _, err := u.mx.SendEvent(room, "m.room.message", map[string]any{
		"msgtype": "m.audio", "body": "Voice message", "url": audio,
		"info":                        map[string]any{"mimetype": "audio/ogg", "size": 23, "duration": 2000},
		"org.matrix.msc1767.audio":    map[string]any{"duration": 2000},
		"org.matrix.msc3245.voice.v2": map[string]any{"duration": 2},
		"org.matrix.msc3245.voice":    map[string]any{},
	}); err != nil {
		t.Fatal(err)
	}
	got("voice message", func(s string) bool { return strings.Contains(s, "/_mautrix/publicmedia/") })

	if _, err := u.mx.SendEvent(room, "m.room.message", map[string]any{
		"msgtype": "m.location", "body": "Location: geo:52.5200,13.4050 at 06/12/2026", "geo_uri": "geo:52.5200,13.4050",
	}); err != nil {
		t.Fatal(err)
	}
	got("location", func(s string) bool { return strings.Contains(s, "geo:52.5200,13.4050") })

	poll, err := u.mx.SendEvent(room, "org.matrix.msc3381.poll.start", map[string]any{
		"org.matrix.msc3381.poll.start": map[string]any{
			"question": map[string]any{"org.matrix.msc1767.text": "Lunch?"},
			"kind":     "org.matrix.msc3381.poll.disclosed", "max_selections": 1,
			"answers": []map[string]any{{"id": "a", "org.matrix.msc1767.text": "yes"}, {"id": "b", "org.matrix.msc1767.text": "no"}},
		},
		"org.matrix.msc1767.text": "Lunch?\n1. yes\n2. no",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.mx.WaitMessageAfter(longWait, poll, room, e.bridge.BotMXID, func(ev teststack.MatrixEvent) bool {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		inReply, _ := rel["m.in_reply_to"].(map[string]any)
		return inReply != nil && inReply["event_id"] == poll && strings.Contains(ev.Body(), "poll")
	}); err != nil {
		t.Errorf("no notice replying to the poll: %v\nseen:%s", err, u.roomTranscript(room))
	}
}
