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

// restartAlice is a restart of the bridge: alice's manager anew, on the
// same database.
func (p *pair) restartAlice(t *testing.T, policy string) {
	t.Helper()
	p.a = newManager(t, p.da, "@alice:example.org", managerOpts{policy: policy, keys: []string{"otrbridge.key"}})
	p.la = newLink("net", "bob")
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
		if p.la.hasNotice("refused until you verify") {
			t.Error("the key the peer is known by was refused")
		}
	})
}

// impostor puts a client with another key on bob's nick after bob left
// IRC, and has alice send a message: it is held for the key exchange the
// impostor answers, and fails when the impostor's key comes up.
func (p *pair) impostor(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	sendEvent(t, p.a, p.la, "just before quitting", "$unread")
	synctest.Wait()
	p.restartBob(t, "libotr-alice.key") // someone else's key, on bob's nick
	p.a.PeerGone(ctx, p.la)
	synctest.Wait()
	_, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"for bob only"}, Event: "$held"})
	if !errors.Is(err, ErrKeyRefused) || !strings.Contains(err.Error(), "not one you know bob by") {
		t.Fatalf("the held message after the impostor's key exchange: %v", err)
	}
	settled(t, "a private conversation with the impostor", func() bool {
		return p.la.state() == StatePrivateUnverified && p.lb.state() == StatePrivateUnverified
	})
	if got := p.lb.deliveredTexts(); len(got) != 0 {
		t.Fatalf("the impostor read %q", got)
	}
	if p.la.wireContains("for bob only") {
		t.Fatal("plaintext on the wire")
	}
	if !p.la.hasNotice("refused until you verify the key") || !p.la.hasNotice("NEW OTR key") || !p.la.hasNotice("NOT sent again") {
		_, _, n, _ := p.la.snapshot()
		t.Fatalf("notices %q", n)
	}
}

// refused sends text from alice and checks that it fails at once,
// unread by bob's side.
func (p *pair) refused(t *testing.T, text string) {
	t.Helper()
	err := send(p.a, p.la, ircconn.Privmsg, text)
	if !errors.Is(err, ErrKeyRefused) {
		t.Fatalf("send to the refused key: %v", err)
	}
	synctest.Wait()
	if got := p.lb.deliveredTexts(); len(got) != 0 {
		t.Fatalf("the impostor read %q", got)
	}
}

// After the peer left IRC, whoever takes its nick answers the key exchange
// that a held message starts. With a key the peer is not known by, the
// message fails unsent, and so does every message to that conversation
// (a new key exchange with the same key changes nothing) until the user
// verifies the key with `!otr trust`.
func TestPeerGoneRefusesNewKeyUntilTrusted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "manual", "manual")
		p.secure(t)
		p.impostor(t)
		p.refused(t, "also for bob")
		if _, err := p.b.Init(ctx, p.lb); err != nil { // the impostor asks again
			t.Fatal(err)
		}
		synctest.Wait()
		p.refused(t, "still for bob")
		if info, err := p.a.Info(ctx, p.la); err != nil || !strings.Contains(info, "REFUSED") {
			t.Errorf("info while refused: %q %v", info, err)
		}
		if _, err := p.a.Trust(ctx, p.la, ""); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if !p.la.hasNotice("your messages go to this private conversation again") {
			_, _, n, _ := p.la.snapshot()
			t.Errorf("notices %q", n)
		}
		sendEvent(t, p.a, p.la, "verified now", "$after")
		settled(t, "the verified key gets the next message", func() bool { return slices.Equal(p.lb.deliveredTexts(), []string{"verified now"}) })
	})
}

// A refused key stays refused after `!otr finish`, though it is in the
// trust store by then: under policy always the next held message fails
// again when the impostor answers. Verifying the key with SMP ends it.
func TestRefusedKeyStaysRefusedUntilSMP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "always", "manual")
		p.secure(t)
		p.impostor(t)
		if _, err := p.a.Finish(ctx, p.la); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		p.refused(t, "held, then refused again")
		if _, err := p.a.StartSMP(ctx, p.la, "", "our secret"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := p.b.AnswerSMP(ctx, p.lb, "our secret"); err != nil {
			t.Fatal(err)
		}
		settled(t, "verified", func() bool { return p.la.state() == StatePrivateVerified })
		sendEvent(t, p.a, p.la, "after SMP", "$smp")
		settled(t, "the verified key gets the next message", func() bool { return slices.Equal(p.lb.deliveredTexts(), []string{"after SMP"}) })
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

// A refused key stays refused after a restart of the bridge (and so after
// an idle peer is forgotten): the trust store records the refusal, though
// the key exchange stored the key.
func TestRefusedKeyStaysRefusedAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "always", "manual")
		p.secure(t)
		p.impostor(t)
		p.restartAlice(t, "always")
		p.refused(t, "after the restart, still for bob")
	})
}

// A refused key stays refused when the impostor starts the key exchange
// itself, with nothing held: after `!otr finish`, and after a restart.
func TestRefusedKeyRefusedWhenImpostorStartsAKE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "manual", "manual")
		p.secure(t)
		p.impostor(t)
		if _, err := p.a.Finish(ctx, p.la); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		impostorStarts := func(when string) {
			t.Helper()
			if _, err := p.b.Init(ctx, p.lb); err != nil {
				t.Fatal(err)
			}
			settled(t, "private with the impostor "+when, func() bool {
				return p.la.state() == StatePrivateUnverified && p.lb.state() == StatePrivateUnverified
			})
			if !p.la.hasNotice("which you refused earlier") {
				_, _, n, _ := p.la.snapshot()
				t.Errorf("%s: notices %q", when, n)
			}
			p.refused(t, "for bob only, "+when)
		}
		impostorStarts("after finish")

		p.restartAlice(t, "manual")
		impostorStarts("after a restart")

		if _, err := p.a.Trust(ctx, p.la, ""); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		sendEvent(t, p.a, p.la, "verified now", "$after")
		settled(t, "the verified key gets the next message", func() bool { return slices.Equal(p.lb.deliveredTexts(), []string{"verified now"}) })
	})
}
