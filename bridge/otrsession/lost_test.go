package otrsession

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// restartBob replaces bob's side by a new manager, still on alice's link:
// a client restarted without its session (after a crash, or reconnected
// through a bouncer). With key empty it keeps its key and instance tag
// (libotr stores both), else it is a new install with that key.
func (p *pair) restartBob(t *testing.T, key string) {
	t.Helper()
	if key != "" {
		p.db = newDB(t)
	}
	p.b = newManager(t, p.db, "@bob:example.org", managerOpts{policy: "manual", keys: []string{key}})
	p.lb = newLink("net", "alice")
	p.connect()
}

func sendEvent(t *testing.T, m *Manager, l PeerLink, text, evt string) {
	t.Helper()
	if _, err := m.Send(context.Background(), l, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{text}, Event: id.EventID(evt)}); err != nil {
		t.Fatalf("send %s: %v", evt, err)
	}
}

// The peer's client restarts without leaving IRC: the next message is
// encrypted for the lost session, the peer answers "?OTR Error:", and the
// bridge marks the messages sent since the peer's last data message, gets
// a new session and sends them once more there.
func TestLostSessionAfterPeerErrorResends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "manual", "manual")
		p.secure(t)
		sendEvent(t, p.a, p.la, "read before", "$read")
		settled(t, "bob reads it", func() bool { return slices.Contains(p.lb.deliveredTexts(), "read before") })
		if err := send(p.b, p.lb, ircconn.Privmsg, "bob answers"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()

		p.restartBob(t, "")
		sendEvent(t, p.a, p.la, "into the void", "$lost")
		settled(t, "a new private conversation", func() bool {
			return p.la.state() == StatePrivateUnverified && p.lb.state() == StatePrivateUnverified
		})
		if got := p.la.unreadEvents(); !slices.Equal(got, []id.EventID{"$lost"}) {
			t.Errorf("marked as maybe unread: %q, want only $lost", got)
		}
		if got := p.lb.deliveredTexts(); !slices.Contains(got, resentPrefix+"into the void") {
			t.Errorf("the restarted bob got %q", got)
		}
		if !p.la.hasNotice("may not have read your message of") || !p.la.hasNotice("Sent again in the new private conversation") {
			_, _, n, _ := p.la.snapshot()
			t.Errorf("notices %q", n)
		}
		// Sent again once only.
		sendEvent(t, p.a, p.la, "after", "$after")
		settled(t, "bob reads the next", func() bool { return slices.Contains(p.lb.deliveredTexts(), "after") })
		n := 0
		for _, s := range p.lb.deliveredTexts() {
			if strings.Contains(s, "into the void") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the lost message arrived %d times", n)
		}
	})
}

// The peer left IRC: the session ends on our side, the next message waits
// for (and starts) a new private conversation, and what the peer may not
// have read goes again only to the same key.
func TestPeerGoneHoldsAndResendsOnlyToSameKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "manual", "manual")
		p.secure(t)
		sendEvent(t, p.a, p.la, "just before quitting", "$unread")
		synctest.Wait()

		p.restartBob(t, "libotr-alice.key") // someone else's key
		p.a.PeerGone(ctx, p.la)
		synctest.Wait()
		if p.la.state() != StatePlaintext || !p.la.hasNotice("left IRC") || !p.la.hasNotice("waits for a new private conversation") {
			_, _, n, _ := p.la.snapshot()
			t.Fatalf("after PeerGone: state %s, notices %q", p.la.state(), n)
		}
		if got := p.la.unreadEvents(); !slices.Equal(got, []id.EventID{"$unread"}) {
			t.Errorf("marked as maybe unread: %q", got)
		}
		res, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"held for the new one"}, Event: "$held"})
		if err != nil || !res.Encrypted || !res.Held {
			t.Fatalf("send after the peer left: %+v %v", res, err)
		}
		if p.la.wireContains("held for the new one") {
			t.Fatal("plaintext on the wire")
		}
		synctest.Wait()
		if got := p.lb.deliveredTexts(); !slices.Contains(got, "held for the new one") || slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "just before") }) {
			t.Errorf("the peer with another key got %q", got)
		}
		if !p.la.hasNotice("NOT sent again") || !p.la.hasNotice("NEW OTR key") {
			_, _, n, _ := p.la.snapshot()
			t.Errorf("notices %q", n)
		}
	})
}

// Unconfirmed messages are bounded in number and age; a data message
// from the peer confirms them.
func TestUnconfirmedBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "manual", "manual")
		p.secure(t)
		for i := range maxUnconfirmed + 5 {
			sendEvent(t, p.a, p.la, "m", "$"+string(rune('a'+i)))
		}
		synctest.Wait()
		pa := p.a.existingPeer(p.la.PeerID())
		pa.mu.Lock()
		n := len(pa.unconfirmed)
		pa.mu.Unlock()
		if n != maxUnconfirmed {
			t.Errorf("%d unconfirmed, want the last %d", n, maxUnconfirmed)
		}
		if err := send(p.b, p.lb, ircconn.Privmsg, "read them"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		pa.mu.Lock()
		n = len(pa.unconfirmed)
		pa.mu.Unlock()
		if n != 0 {
			t.Errorf("%d unconfirmed after the peer's message", n)
		}
		sendEvent(t, p.a, p.la, "old", "$old")
		time.Sleep(unconfirmedWindow + time.Minute)
		pa.mu.Lock()
		pa.dropOldUnconfirmed(time.Now())
		n = len(pa.unconfirmed)
		pa.mu.Unlock()
		if n != 0 {
			t.Errorf("%d unconfirmed after %s", n, unconfirmedWindow)
		}
	})
}
