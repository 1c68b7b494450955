package otrsession

import (
	"context"
	"errors"
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
func TestPeerGoneHoldsAndResendsToSameKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "manual", "manual")
		p.secure(t)
		sendEvent(t, p.a, p.la, "just before quitting", "$unread")
		synctest.Wait()

		p.restartBob(t, "") // the same client, its session lost
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
		if got := p.lb.deliveredTexts(); !slices.Contains(got, "held for the new one") || !slices.Contains(got, resentPrefix+"just before quitting") {
			t.Errorf("the peer with the same key got %q", got)
		}
		if p.la.hasNotice("KEPT BACK") {
			t.Error("kept back from the key the peer is known by")
		}
	})
}

// impostor puts a client with another key on bob's nick after bob left
// IRC, and has alice send a message: it is held for the key exchange the
// impostor answers. It returns the result of the send once it is in.
func (p *pair) impostor(t *testing.T) <-chan error {
	t.Helper()
	ctx := context.Background()
	sendEvent(t, p.a, p.la, "just before quitting", "$unread")
	synctest.Wait()
	p.restartBob(t, "libotr-alice.key") // someone else's key, on bob's nick
	p.a.PeerGone(ctx, p.la)
	synctest.Wait()
	result := make(chan error, 1)
	go func() {
		_, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"for bob only"}, Event: "$held"})
		result <- err
	}()
	settled(t, "the key exchange with the impostor", func() bool {
		return p.la.state() == StatePrivateUnverified && p.lb.state() == StatePrivateUnverified
	})
	if got := p.lb.deliveredTexts(); len(got) != 0 {
		t.Fatalf("the impostor read %q", got)
	}
	if p.la.wireContains("for bob only") {
		t.Fatal("plaintext on the wire")
	}
	if !p.la.hasNotice("KEPT BACK") || !p.la.hasNotice("NEW OTR key") || !p.la.hasNotice("NOT sent again") {
		_, _, n, _ := p.la.snapshot()
		t.Fatalf("notices %q", n)
	}
	select {
	case err := <-result:
		t.Fatalf("the send ended while kept back: %v", err)
	default:
	}
	return result
}

// After the peer left IRC, whoever takes its nick answers the key exchange
// that a held message starts. With a key the peer is not known by, the
// message is kept back (so is the next, and a new key exchange releases
// nothing) until the user verifies the key.
func TestPeerGoneKeepsHeldFromNewKeyUntilTrusted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "manual", "manual")
		p.secure(t)
		result := p.impostor(t)

		second := make(chan error, 1)
		go func() {
			_, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"also for bob"}, Event: "$second"})
			second <- err
		}()
		if _, err := p.b.Init(ctx, p.lb); err != nil { // the impostor asks again
			t.Fatal(err)
		}
		synctest.Wait()
		if got := p.lb.deliveredTexts(); len(got) != 0 {
			t.Fatalf("the impostor read %q", got)
		}

		if info, err := p.a.Info(ctx, p.la); err != nil || !strings.Contains(info, "KEPT BACK") {
			t.Errorf("info while kept back: %q %v", info, err)
		}
		reply, err := p.a.Trust(ctx, p.la, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := <-result; err != nil {
			t.Fatalf("released message: %v (trust: %s)", err, reply)
		}
		if err := <-second; err != nil {
			t.Fatalf("second message: %v", err)
		}
		settled(t, "the verified key gets both", func() bool {
			return slices.Equal(p.lb.deliveredTexts(), []string{"for bob only", "also for bob"})
		})
		if !p.la.hasNotice("sent the 2 message(s) kept back") {
			_, _, n, _ := p.la.snapshot()
			t.Errorf("notices %q", n)
		}
		sendEvent(t, p.a, p.la, "now at once", "$after")
		settled(t, "the next message goes at once", func() bool { return slices.Contains(p.lb.deliveredTexts(), "now at once") })
	})
}

// `!otr finish` fails what was kept back, with its reason; the refused
// key stays refused for the next held message.
func TestPeerGoneKeptBackFinishFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "always", "manual")
		p.secure(t)
		result := p.impostor(t)
		if _, err := p.a.Finish(ctx, p.la); err != nil {
			t.Fatal(err)
		}
		err := <-result
		if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "kept back") {
			t.Fatalf("after finish: %v", err)
		}
		// Policy always: the next message is held again, the impostor
		// answers with the same key (now in the trust store), and it is
		// kept back again.
		again := make(chan error, 1)
		go func() {
			_, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"still for bob"}, Event: "$again"})
			again <- err
		}()
		synctest.Wait()
		if got := p.lb.deliveredTexts(); len(got) != 0 {
			t.Fatalf("the impostor read %q", got)
		}
		time.Sleep(p.a.cfg.HoldTimeout + 2*tickInterval)
		err = <-again
		if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "did not verify it") {
			t.Fatalf("kept back past the hold timeout: %v", err)
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
