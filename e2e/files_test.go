package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// testOTRFileOutsideOTR: a file goes to IRC as a link, which OTR cannot
// protect. In a private conversation the first file is refused with that
// explanation (in a notice replying to it) before any link exists; sent
// again, its link goes inside OTR and serves the file.
func testOTRFileOutsideOTR(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	data := []byte(e.text("the file's content"))
	id := u.uploadFile(t, room, "notes.txt", data)
	if _, err := u.mx.WaitMessageAfter(longWait, id, room, e.bridge.BotMXID, func(ev teststack.MatrixEvent) bool {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		inReply, _ := rel["m.in_reply_to"].(map[string]any)
		return inReply != nil && inReply["event_id"] == id && strings.Contains(ev.Body(), "cannot go inside OTR") &&
			strings.Contains(ev.Body(), "notes.txt") && strings.Contains(ev.Body(), "Send it again")
	}); err != nil {
		t.Fatalf("no explanation for the first file: %v\nseen:%s", err, u.roomTranscript(room))
	}

	u.uploadFile(t, room, "notes.txt", data)
	l, ok := p.WaitFor(longWait, func(l otrtest.Line) bool {
		return l.Kind == "MSG" && strings.Contains(l.Text, "/_mautrix/publicmedia/")
	})
	if !ok {
		t.Fatal("the peer got no link after the file was sent again")
	}
	if l.Name != "enc" {
		t.Errorf("the link went as %q, want inside OTR", l.Name)
	}
	_, link, _ := strings.Cut(l.Text, ": ")
	resp, err := http.Get(link)
	if err != nil {
		t.Fatalf("GET the link: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != string(data) {
		t.Errorf("the link served HTTP %d, %d bytes; want the file", resp.StatusCode, len(body))
	}
}
