package otrsession

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/otr"
)

// convState is the engine's state of m's conversation with l's peer.
func convState(m *Manager, l PeerLink) otr.MsgState {
	p := m.existingPeer(l.PeerID())
	if p == nil {
		return otr.Plaintext
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conv == nil {
		return otr.Plaintext
	}
	return p.conv.Info().State
}

// A homeserver that does not answer holds up neither side of a key
// exchange nor the messages after it: both conversations become private
// on the wire while every Matrix-side call waits, and what the users see
// follows, in order, once the homeserver answers.
func TestAKEWhileMatrixHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "opportunistic", "opportunistic")
		openA, openB := p.la.holdMatrix(), p.lb.holdMatrix()
		if _, err := p.a.Init(context.Background(), p.la); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if a, b := convState(p.a, p.la), convState(p.b, p.lb); a != otr.Encrypted || b != otr.Encrypted {
			t.Fatalf("with Matrix hanging, the key exchange stopped at %v / %v", a, b)
		}
		if err := send(p.b, p.lb, ircconn.Privmsg, "first words"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := p.la.calls(); len(got) != 0 {
			t.Fatalf("Matrix calls went through a closed gate: %q", got)
		}
		openA()
		openB()
		settled(t, "both sides see the private conversation", func() bool {
			return p.la.state() == StatePrivateUnverified && p.lb.state() == StatePrivateUnverified
		})
		// The notice and the topic come after the state is reached, and
		// before the first message that depended on it.
		calls := p.la.calls()
		iNotice, iState, iMsg := indexOf(calls, "notice: 🔒 Private conversation"), indexOf(calls, "state: private"), indexOf(calls, "deliver: first words")
		if iNotice < 0 || iState < 0 || iMsg < 0 || !(iNotice < iState && iState < iMsg) {
			t.Fatalf("alice's portal got, in order: %q", calls)
		}
		for _, c := range calls {
			if c == "state: plaintext" {
				t.Errorf("the topic was written for plaintext, which a new portal already says: %q", calls)
			}
		}
	})
}

func indexOf(calls []string, prefix string) int {
	for i, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return i
		}
	}
	return -1
}

// Messages and notices reach the portal in the order the peer caused
// them, also when they queued up behind a slow homeserver.
func TestEffectsKeepOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "opportunistic", "opportunistic")
		p.secure(t)
		open := p.la.holdMatrix()
		for i := range 20 {
			if err := send(p.b, p.lb, ircconn.Privmsg, fmt.Sprintf("message %02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := p.b.Finish(context.Background(), p.lb); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if convState(p.a, p.la) != otr.Finished {
			t.Fatal("the end did not reach alice's engine while Matrix hung")
		}
		before := len(p.la.calls())
		open()
		synctest.Wait()
		calls := p.la.calls()[before:]
		var want []string
		for i := range 20 {
			want = append(want, fmt.Sprintf("deliver: message %02d", i))
		}
		want = append(want, "notice: bob has ended the private conversation", "state: finished")
		if len(calls) != len(want) {
			t.Fatalf("got %d calls, want %d: %q", len(calls), len(want), calls)
		}
		for i := range want {
			if !strings.HasPrefix(calls[i], want[i]) {
				t.Fatalf("call %d is %q, want %q; all: %q", i, calls[i], want[i], calls)
			}
		}
	})
}

// When the homeserver stays slower than a stranger sends, what waits for
// it is capped; what is refused beyond the cap is counted and the user is
// told how much, once the homeserver caught up. What the user causes is
// never refused.
func TestSlowHomeserverCapsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "never", keys: []string{"otrbridge.key"}})
		f.peerEffectBudget = 8 << 10
		l := newLink("net", "stranger")
		open := l.holdMatrix()
		const sent = 100
		text := strings.Repeat("x", 200)
		for i := range sent {
			f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: fmt.Sprintf("%03d %s", i, text)})
		}
		synctest.Wait()
		p := f.existingPeer(l.uid)
		p.effects.mu.Lock()
		queued, bytes := len(p.effects.items), p.effects.bytes
		p.effects.mu.Unlock()
		if bytes > f.peerEffectBudget || queued >= sent {
			t.Fatalf("%d effects (%d bytes) queued for a budget of %d bytes", queued, bytes, f.peerEffectBudget)
		}
		// What the user causes still gets through.
		p.mu.Lock()
		p.release(context.Background(), []effect{p.notice("a notice the user caused")})
		open()
		synctest.Wait()
		delivered := len(l.deliveredTexts())
		if delivered == 0 || delivered >= sent {
			t.Fatalf("delivered %d of %d", delivered, sent)
		}
		for i, text := range l.deliveredTexts() {
			if !strings.HasPrefix(text, fmt.Sprintf("%03d ", i)) {
				t.Fatalf("delivery %d is %.10q: not the oldest messages first", i, text)
			}
		}
		if refused := refusedCount(l); delivered+refused != sent {
			t.Fatalf("%d delivered, %d told as not shown, of %d; notices %q", delivered, refused, sent, l.notices)
		}
		if !l.hasNotice("a notice the user caused") {
			t.Fatal("the queue refused what the user caused")
		}
		if f.effectBytes.Load() != 0 {
			t.Fatalf("%d bytes still counted after the queue drained", f.effectBytes.Load())
		}
	})
}

// refusedCount adds up the messages the notices of l say were not shown.
func refusedCount(l *fakeLink) int {
	_, _, notices, _ := l.snapshot()
	n := 0
	for _, text := range notices {
		var k int
		if _, err := fmt.Sscanf(text, "⚠️ %d message(s)", &k); err == nil && strings.Contains(text, "were NOT shown") {
			n += k
		}
	}
	return n
}

// The login's budget caps what all its peers queue together.
func TestSlowHomeserverCapsLogin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "never", keys: []string{"otrbridge.key"}})
		f.loginEffectBudget = 16 << 10
		var links []*fakeLink
		var opens []func()
		for i := range 10 {
			l := newLink("net", fmt.Sprintf("stranger%d", i))
			links, opens = append(links, l), append(opens, l.holdMatrix())
			for j := range 20 {
				f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: fmt.Sprintf("%03d %s", j, strings.Repeat("y", 300))})
			}
		}
		synctest.Wait()
		// Beyond the budget: one notice per peer telling what was refused.
		if got, most := f.effectBytes.Load(), f.loginEffectBudget+10*(512+effectOverhead); got > most {
			for _, open := range opens {
				open()
			}
			t.Fatalf("%d bytes queued for a login budget of %d", got, f.loginEffectBudget)
		}
		for _, open := range opens {
			open()
		}
		synctest.Wait()
		total := 0
		for _, l := range links {
			n := len(l.deliveredTexts())
			total += n
			if refused := refusedCount(l); n+refused != 20 {
				t.Errorf("%s: %d of 20 delivered, %d told as not shown: %q", l.nick, n, refused, l.notices)
			}
		}
		if total == 0 || total == 200 {
			t.Fatalf("delivered %d of 200", total)
		}
	})
}

// Close lets queued effects reach the homeserver, and does not wait
// forever for one that never answers.
func TestCloseDrainsEffects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "never", keys: []string{"otrbridge.key"}})
		l := newLink("net", "bob")
		open := l.holdMatrix()
		for i := range 3 {
			f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: fmt.Sprint("before close ", i)})
		}
		go func() {
			time.Sleep(2 * time.Second)
			open()
		}()
		f.Close()
		if got := l.deliveredTexts(); len(got) != 3 {
			t.Fatalf("delivered %q before Close returned", got)
		}

		g := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "never", keys: []string{"otrbridge.key"}})
		hung := newLink("net", "carol")
		release := hung.holdMatrix()
		defer release()
		g.Receive(context.Background(), hung, IncomingText{Kind: ircconn.Privmsg, Text: "never shown"})
		start := time.Now()
		g.Close()
		if waited := time.Since(start); waited != closeDrainTimeout {
			t.Fatalf("Close waited %s for a hung homeserver, want %s", waited, closeDrainTimeout)
		}
	})
}

// A message that went out in plaintext although OTR is on is marked, after
// it went out, in order with the notice saying so; an encrypted one and
// one that failed are not.
func TestMarkUnencryptedAfterSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "opportunistic", "opportunistic")
		ctx := context.Background()
		if _, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"in the clear"}, Event: "$plain"}); err != nil {
			t.Fatal(err)
		}
		p.la.mu.Lock()
		p.la.sendErr = errors.New("connection lost")
		p.la.mu.Unlock()
		if _, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"lost"}, Event: "$failed"}); err == nil {
			t.Fatal("send did not fail")
		}
		p.la.mu.Lock()
		p.la.sendErr = nil
		p.la.mu.Unlock()
		// (The whitespace tag of the first message makes bob start an AKE.)
		settled(t, "private", func() bool { return p.la.state() == StatePrivateUnverified })
		if calls := p.la.calls(); len(calls) < 2 || !strings.HasPrefix(calls[0], "notice: Messages to bob are sent UNENCRYPTED") || calls[1] != "marked: $plain" ||
			indexOf(calls, "marked: $failed") >= 0 {
			t.Fatalf("calls %q", calls)
		}
		if _, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"private"}, Event: "$private"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(p.la.marked) != 1 {
			t.Fatalf("marked %q", p.la.marked)
		}
	})
}

// What the connector tells about a peer (a QUIT, a numeric) takes its
// place among the peer's messages, and a peer that keeps provoking such
// notices is bounded like its messages.
func TestTellKeepsOrderAndBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "never", keys: []string{"otrbridge.key"}})
		l := newLink("net", "bob")
		open := l.holdMatrix()
		f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: "bye"})
		f.Tell(context.Background(), l, "bob has quit IRC (gone)")
		open()
		synctest.Wait()
		if calls := l.calls(); len(calls) != 2 || calls[0] != "deliver: bye" || calls[1] != "notice: bob has quit IRC (gone)" {
			t.Fatalf("calls %q", calls)
		}

		f.peerEffectBudget = 4 << 10
		open = l.holdMatrix()
		for i := range 50 {
			f.Tell(context.Background(), l, fmt.Sprintf("bob is away: %03d %s", i, strings.Repeat("z", 200)))
		}
		open()
		synctest.Wait()
		var shown int
		for _, n := range l.notices {
			if strings.HasPrefix(n, "bob is away") {
				shown++
			}
		}
		if shown == 0 || shown >= 50 || !l.hasNotice(fmt.Sprintf("⚠️ %d bridge notice(s) from bob were NOT shown", 50-shown)) {
			t.Fatalf("%d of 50 shown; notices %q", shown, l.notices)
		}
	})
}

// A key exchange does not wait for the database: while another writer
// holds SQLite's write lock, both sides become private on the wire; the
// trust store and the marker are written, and the notice shown, once the
// lock is free.
func TestAKEWhileDatabaseBusy(t *testing.T) {
	p := newPair(t, "opportunistic", "opportunistic")
	ctx := context.Background()
	if _, err := p.a.Fingerprint(ctx); err != nil { // the key, before the lock
		t.Fatal(err)
	}
	tx, err := p.da.RawDB.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM otr_private_marker WHERE 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.a.Init(ctx, p.la); err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for convState(p.a, p.la) != otr.Encrypted || convState(p.b, p.lb) != otr.Encrypted {
		if time.Now().After(deadline) {
			tx.Rollback()
			t.Fatalf("the key exchange waited for the database: %v / %v", convState(p.a, p.la), convState(p.b, p.lb))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p.la.hasNotice("Private conversation with bob") {
		t.Error("the notice came before the trust store was written")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice's notice", func() bool { return p.la.hasNotice("Private conversation with bob") })
	if fps, err := p.da.Fingerprints.List(ctx, "@alice:example.org", "net", "net.bob"); err != nil || len(fps) != 1 {
		t.Fatalf("trust store after the lock: %d fingerprints, %v", len(fps), err)
	}
	if m, _ := p.da.Private.List(ctx, "@alice:example.org"); len(m) != 1 {
		t.Fatalf("markers after the lock: %+v", m)
	}
}
