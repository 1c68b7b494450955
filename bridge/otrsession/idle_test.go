package otrsession

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

func (m *Manager) hasPeer(l *fakeLink) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peers[l.PeerID()] != nil
}

// Peers that only ever sent plaintext are forgotten after a while; a
// private conversation, and one the peer finished, are kept however long
// they are idle.
func TestIdlePeersForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "manual", "manual")
		p.secure(t)
		plain := newLink("net", "passerby")
		p.a.Receive(ctx, plain, IncomingText{Kind: ircconn.Privmsg, Text: "hi"})
		synctest.Wait()
		time.Sleep(peerIdleAfter - time.Minute)
		synctest.Wait()
		if !p.a.hasPeer(plain) {
			t.Fatal("a peer was forgotten before it was idle long enough")
		}
		time.Sleep(2*time.Minute + evictEvery)
		synctest.Wait()
		if p.a.hasPeer(plain) {
			t.Error("an idle plaintext peer is still kept")
		}
		if !p.a.hasPeer(p.la) {
			t.Error("an idle private conversation was forgotten")
		}
		// The private conversation still works.
		if err := send(p.a, p.la, ircconn.Privmsg, "still private"); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob gets it", func() bool { return contains(p.lb.deliveredTexts(), "still private") })
		if p.la.wireContains("still private") {
			t.Error("plaintext on the wire")
		}
		// A forgotten peer starts afresh.
		p.a.Receive(ctx, plain, IncomingText{Kind: ircconn.Privmsg, Text: "back"})
		settled(t, "the forgotten peer's next line", func() bool { return contains(plain.deliveredTexts(), "back") })
	})
}

// A conversation the peer finished refuses the user's messages until the
// user decides; being idle does not change that.
func TestIdleFinishedKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "manual", "manual")
		p.secure(t)
		if _, err := p.b.Finish(context.Background(), p.lb); err != nil {
			t.Fatal(err)
		}
		settled(t, "alice sees the end", func() bool { return p.la.state() == StateFinished })
		time.Sleep(peerIdleAfter + 2*evictEvery)
		synctest.Wait()
		if err := send(p.a, p.la, ircconn.Privmsg, "after the end"); err == nil {
			t.Fatal("a message went out after the peer ended the conversation and the peer was idle")
		}
		if p.la.wireContains("after the end") {
			t.Error("plaintext on the wire")
		}
	})
}
