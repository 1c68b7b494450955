package e2e

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// The bridge's automatic-reply limit (bridge/otrsession Config.ReplyBurst
// and ReplyInterval defaults): 10 at once, then one every 6 s.
const (
	replyBurst    = 10
	replyInterval = 6 * time.Second
)

// otrReplies counts the OTR messages among lines from the bridge: a
// fragmented message counts once (only its first piece), and lines
// without "?OTR" (a query's explanation) are not messages.
func otrReplies(lines []teststack.IRCLine, from string) (replies, total int) {
	for _, l := range lines {
		if (l.Command() != "PRIVMSG" && l.Command() != "NOTICE") || !strings.EqualFold(l.From(), from) {
			continue
		}
		total++
		text := l.Text()
		if !strings.HasPrefix(text, "?OTR") {
			continue
		}
		if strings.HasPrefix(text, "?OTR|") || strings.HasPrefix(text, "?OTR,") {
			// ?OTR|sender|receiver,k,n, (v3) or ?OTR,k,n, (v2)
			f := strings.Split(text, ",")
			if len(f) < 3 || strings.TrimLeft(f[1], "0") != "1" {
				continue
			}
		}
		replies++
	}
	return replies, total
}

// testOTRReplyRateLimit: a client that keeps sending queries, OTR errors
// and garbage OTR data (with policy opportunistic, where errors start a key
// exchange) gets a bounded number of automatic answers, the portal says
// so, and once the storm is over the bridge answers again.
func testOTRReplyRateLimit(t *testing.T, e *env) {
	u, storm := e.loggedIn(t, netLocal)
	u.say(t, "pm "+storm.Nick())
	room := u.joinInvite(t)
	u.portalCommand(t, room, "policy opportunistic", "opportunistic")

	const lines = 48
	garbage := []string{
		"?OTRv23?",
		"?OTR Error: Error setting up private conversation: Malformed message received",
		"?OTR:AAMDJ+ZsbsGk3nZtYWxmb3JtZWQgZGF0YSBtZXNzYWdl.",
	}
	start := time.Now()
	for i := 0; i < lines; i++ {
		storm.Privmsg(u.nick, garbage[i%len(garbage)])
		time.Sleep(250 * time.Millisecond)
	}
	stormEnd := time.Now()
	// Count over a while after the storm too: without the limit the
	// replies would keep coming at the pace of the send queue (1 line/s),
	// with it at most one per interval.
	time.Sleep(8*time.Second + replyInterval)
	window := time.Since(start)
	replies, total := otrReplies(storm.Lines(), u.nick)
	limit := replyBurst + int(math.Ceil(float64(window)/float64(replyInterval)))
	t.Logf("%d lines in %s from the storm client; %d OTR replies (%d lines) from the bridge in %s; limit %d",
		lines, stormEnd.Sub(start).Round(time.Millisecond), replies, total, window.Round(time.Millisecond), limit)
	if replies == 0 {
		t.Fatal("the bridge answered none of the queries: the count would prove nothing")
	}
	if replies > limit {
		t.Errorf("the bridge sent %d automatic OTR replies to %d provoking lines in %s; at most %d allowed",
			replies, lines, window.Round(time.Second), limit)
	}
	if total > 2*limit {
		t.Errorf("the bridge sent %d lines in reply; at most %d expected", total, 2*limit)
	}
	u.notice(t, room, "keeps asking for replies", wait)

	// Once the storm is over the bucket refills: a query is answered
	// again.
	before, _ := otrReplies(storm.Lines(), u.nick)
	storm.Privmsg(u.nick, "?OTRv3?")
	deadline := time.Now().Add(replyInterval + 10*time.Second)
	for {
		if n, _ := otrReplies(storm.Lines(), u.nick); n > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the storm the bridge no longer answers a query")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Nothing of the protocol lines reached Matrix as a message from the
	// peer.
	for _, ev := range u.mx.Messages(room) {
		if ev.Sender == e.ghost(netLocal, storm.Nick()) && strings.Contains(ev.Body(), "?OTR") {
			t.Errorf("an OTR protocol line reached Matrix: %.80q", ev.Body())
		}
	}
}
