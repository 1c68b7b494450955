package otrsession

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

func trustOf(t *testing.T, d *db.Database, user, peer string, fp otr.Fingerprint) db.Trust {
	t.Helper()
	r, err := d.Fingerprints.Get(context.Background(), id.UserID(user), "net", peer, fp[:])
	if err != nil || r == nil {
		t.Fatalf("fingerprint record: %v, %v", r, err)
	}
	return r.Trust
}

func TestSMPBothDirections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "opportunistic", "opportunistic")
		p.secure(t)
		bobFP := loadKey(t, "libotr-bob.key").Public().Fingerprint()
		aliceFP := loadKey(t, "otrbridge.key").Public().Fingerprint()

		// Alice asks without a question; bob answers.
		if _, err := p.a.AnswerSMP(ctx, p.la, "correct horse"); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob is asked", func() bool { return p.lb.hasNotice("wants to verify your identity") })
		if _, err := p.b.AnswerSMP(ctx, p.lb, "correct horse"); err != nil {
			t.Fatal(err)
		}
		settled(t, "alice verified bob", func() bool { return p.la.state() == StatePrivateVerified })
		settled(t, "bob verified alice", func() bool { return p.lb.state() == StatePrivateVerified })
		if got := trustOf(t, p.da, "@alice:example.org", "net.bob", bobFP); got != db.TrustSMP {
			t.Errorf("alice's trust in bob = %s", got)
		}
		if !p.la.hasNotice("Verification with bob succeeded") {
			t.Error("no success notice")
		}
		for _, l := range []*fakeLink{p.la, p.lb} {
			if l.wireContains("horse") {
				t.Fatal("secret on the wire")
			}
			_, _, n, _ := l.snapshot()
			for _, s := range n {
				if strings.Contains(s, "horse") {
					t.Fatal("secret in a notice")
				}
			}
		}

		// Bob asks alice a question; only the asker gains trust (libotr).
		if _, err := p.b.Distrust(ctx, p.lb, ""); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if p.lb.state() != StatePrivateUnverified {
			t.Fatalf("distrust did not change the state: %v", p.lb.state())
		}
		if _, err := p.b.StartSMP(ctx, p.lb, "Where did we meet?", "in Berlin"); err != nil {
			t.Fatal(err)
		}
		settled(t, "alice sees the question", func() bool { return p.la.hasNotice(`asks: "Where did we meet?"`) })
		if _, err := p.a.AnswerSMP(ctx, p.la, "in Berlin"); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob verified alice by question", func() bool {
			return p.lb.state() == StatePrivateVerified && p.la.hasNotice("bob verified you successfully")
		})
		if got := trustOf(t, p.db, "@bob:example.org", "net.alice", aliceFP); got != db.TrustSMP {
			t.Errorf("bob's trust in alice = %s", got)
		}

		// A wrong secret fails and stores nothing.
		if _, err := p.b.Distrust(ctx, p.lb, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := p.b.AnswerSMP(ctx, p.lb, "one"); err != nil {
			t.Fatal(err)
		}
		settled(t, "alice is asked again", func() bool {
			_, _, n, _ := p.la.snapshot()
			c := 0
			for _, s := range n {
				if strings.Contains(s, "wants to verify your identity with a shared secret") {
					c++
				}
			}
			return c == 1 // the first request had a question
		})
		if _, err := p.a.AnswerSMP(ctx, p.la, "two"); err != nil {
			t.Fatal(err)
		}
		settled(t, "failure on bob's side", func() bool { return p.lb.hasNotice("Verification with alice FAILED") })
		if got := trustOf(t, p.db, "@bob:example.org", "net.alice", aliceFP); got != db.TrustNone {
			t.Errorf("trust after a failed SMP = %s", got)
		}
	})
}

func TestNewFingerprintWarning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "opportunistic", "opportunistic")
		p.secure(t)
		if _, err := p.a.Trust(ctx, p.la, ""); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if p.la.state() != StatePrivateVerified {
			t.Fatalf("state after trust = %v", p.la.state())
		}
		// Bob comes back with another key (a new manager with a new identity).
		p.b.Close()
		newBob := newManager(t, newDB(t), "@bob:example.org", managerOpts{policy: "opportunistic", keys: []string{"libotr-alice.key"}})
		p.b = newBob
		p.lb = newLink("net", "alice")
		p.connect()
		if _, err := p.b.Init(ctx, p.lb); err != nil {
			t.Fatal(err)
		}
		settled(t, "loud warning", func() bool { return p.la.hasNotice("WARNING: bob is using a NEW OTR key") })
		settled(t, "new session unverified", func() bool { return p.la.state() == StatePrivateUnverified })
		if !p.la.hasNotice("(verified)") || !p.la.hasNotice("Trust does NOT carry over") {
			t.Errorf("warning lacks the old verified key or advice: %q", p.la.notices)
		}
		fps, _ := p.da.Fingerprints.List(ctx, "@alice:example.org", "net", "net.bob")
		if len(fps) != 2 {
			t.Fatalf("trust store has %d fingerprints", len(fps))
		}
		for _, f := range fps {
			old := otr.Fingerprint(f.Fingerprint) == loadKey(t, "libotr-bob.key").Public().Fingerprint()
			if old != f.Trust.Trusted() {
				t.Errorf("fingerprint %x trust %s", f.Fingerprint, f.Trust)
			}
		}
	})
}

func TestNickChangeKeepsSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "opportunistic", "opportunistic")
		p.la.budget, p.la.perNick = 400, true
		p.secure(t)
		p.la.setNick("bobby")
		p.a.PeerRenamed(ctx, p.la, "bob is now known as "+p.la.Nick()+".")
		synctest.Wait()
		if !p.la.hasNotice("continues with bobby") {
			t.Error("no rename notice")
		}
		if err := send(p.a, p.la, ircconn.Privmsg, "still private"); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob gets it", func() bool { return contains(p.lb.deliveredTexts(), "still private") })
		if p.la.wireContains("still private") || p.la.state() != StatePrivateUnverified {
			t.Fatal("session lost on rename")
		}
		// A much longer nick shortens the line budget; fragments still fit.
		long := strings.Repeat("x", 28)
		p.la.setNick(long)
		p.a.PeerRenamed(ctx, p.la, "")
		text := strings.Repeat("fragment me ", 300)
		if err := send(p.a, p.la, ircconn.Privmsg, text); err != nil {
			t.Fatal(err)
		}
		settled(t, "long message after rename", func() bool { return contains(p.lb.deliveredTexts(), text) })
		p.la.setNick("bobby")
		p.a.PeerRenamed(ctx, p.la, "")
		// A refresh records the new nick with the same fingerprint.
		if _, err := p.a.Refresh(ctx, p.la); err != nil {
			t.Fatal(err)
		}
		settled(t, "refreshed", func() bool { return p.la.hasNotice("refreshed") })
		fps, _ := p.da.Fingerprints.List(ctx, "@alice:example.org", "net", "net.bob")
		if len(fps) != 1 || strings.Join(fps[0].Nicks, ",") != "bob,bobby" {
			t.Fatalf("fingerprints %+v", fps)
		}
	})
}

func TestRestartNoticeAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "opportunistic", "opportunistic")
		p.secure(t)
		// The bridge (alice's side) restarts: same database, no session.
		p.a.Close()
		a2 := newManager(t, p.da, "@alice:example.org", managerOpts{policy: "opportunistic"})
		p.a = a2
		p.la = newLink("net", "bob")
		p.connect()
		// Bob still thinks the conversation is private and writes.
		if err := send(p.b, p.lb, ircconn.Privmsg, "are you there"); err != nil {
			t.Fatal(err)
		}
		settled(t, "restart notice", func() bool { return p.la.hasNotice("The bridge restarted") })
		settled(t, "unreadable notice", func() bool { return p.la.hasNotice("cannot read") })
		if contains(p.la.deliveredTexts(), "are you there") {
			t.Fatal("undecryptable message delivered")
		}
		// Alice writes: held (fail closed) until a new AKE is done, then encrypted.
		done := make(chan error, 1)
		go func() { done <- send(p.a, p.la, ircconn.Privmsg, "after restart") }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("message after restart never sent")
		}
		settled(t, "bob gets it", func() bool { return contains(p.lb.deliveredTexts(), "after restart") })
		if p.la.wireContains("after restart") {
			t.Fatal("plaintext after restart")
		}
		// The notice is given once.
		_, _, n, _ := p.la.snapshot()
		c := 0
		for _, s := range n {
			if strings.Contains(s, "The bridge restarted") {
				c++
			}
		}
		if c != 1 {
			t.Fatalf("%d restart notices", c)
		}
	})
}

func TestStormRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDB(t)
		f := newManager(t, d, "@alice:example.org", managerOpts{policy: "opportunistic", keys: []string{"otrbridge.key"}})
		l := newLink("net", "mallory")
		for i := 0; i < 100; i++ {
			f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: "?OTR Error: you are not private"})
		}
		synctest.Wait()
		w, _, _, _ := l.snapshot()
		if len(w) != 10 {
			t.Fatalf("%d automatic replies to 100 errors, want the burst of 10", len(w))
		}
		if !l.hasNotice("keeps asking for replies") {
			t.Error("no rate-limit notice")
		}
		time.Sleep(60 * time.Second) // refills 10 tokens
		for i := 0; i < 100; i++ {
			f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: "?OTR Error: again"})
		}
		synctest.Wait()
		if w, _, _, _ := l.snapshot(); len(w) != 20 {
			t.Fatalf("%d replies after a minute", len(w))
		}
	})
}

func TestServicesNeverGetOTR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDB(t)
		f := newManager(t, d, "@alice:example.org", managerOpts{policy: "always", keys: []string{"otrbridge.key"}, services: []string{"NickServ"}})
		l := newLink("net", "NickServ")
		if err := send(f, l, ircconn.Privmsg, "IDENTIFY hunter2"); err != nil {
			t.Fatal(err)
		}
		w, _, _, _ := l.snapshot()
		if len(w) != 1 || w[0] != "IDENTIFY hunter2" {
			t.Fatalf("service got %q", w)
		}
		f.Receive(context.Background(), l, IncomingText{Text: "?OTRv23?"})
		f.Receive(context.Background(), l, IncomingText{Text: "You are now identified." + whitespaceTag})
		synctest.Wait()
		if got := l.deliveredTexts(); len(got) != 1 || got[0] != "You are now identified." {
			t.Fatalf("delivered %q", got)
		}
		// An OTR v1 query from a normal peer is not shown either (the engine
		// drops it, as libotr does); the peer's next line still arrives.
		bob := newLink("net", "bob")
		f.Receive(context.Background(), bob, IncomingText{Text: "?OTR?"})
		f.Receive(context.Background(), bob, IncomingText{Text: "after the query"})
		settled(t, "line after the v1 query", func() bool { return len(bob.deliveredTexts()) > 0 })
		if got := bob.deliveredTexts(); len(got) != 1 || got[0] != "after the query" {
			t.Fatalf("delivered after a v1 query: %q", got)
		}
		if _, err := f.Init(context.Background(), l); err == nil || !strings.Contains(err.Error(), "service") {
			t.Fatalf("init to a service: %v", err)
		}
		if w, _, _, _ := l.snapshot(); len(w) != 1 {
			t.Fatalf("wire after init: %q", w)
		}
	})
}

func TestKeyGeneratedInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDB(t)
		release := make(chan struct{})
		gen := func(r ioReader) (*otr.PrivateKey, error) {
			<-release
			return loadKey(t, "otrbridge.key"), nil
		}
		f := newManager(t, d, "@alice:example.org", managerOpts{policy: "opportunistic", gen: gen})
		l := newLink("net", "bob")
		// Receive must not block while the key is generated.
		done := make(chan struct{})
		go func() {
			f.Receive(context.Background(), l, IncomingText{Text: "early bird"})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Receive blocked on key generation")
		}
		if len(l.deliveredTexts()) != 0 {
			t.Fatal("delivered before the key existed")
		}
		close(release)
		settled(t, "delivery after key generation", func() bool { return contains(l.deliveredTexts(), "early bird") })
		ident, err := d.Identity.Get(context.Background(), "@alice:example.org", "net")
		if err != nil || ident == nil || ident.InstanceTag < 0x100 {
			t.Fatalf("identity not stored: %+v %v", ident, err)
		}
		if strings.Contains(string(ident.SealedKey), "otr") {
			t.Fatal("key not sealed")
		}
		// A new manager on the same database loads the same key and tag.
		f2 := newManager(t, d, "@alice:example.org", managerOpts{gen: func(ioReader) (*otr.PrivateKey, error) {
			t.Error("generated a key although one is stored")
			return nil, nil
		}})
		reply, err := f2.Fingerprint(context.Background())
		if err != nil || !strings.Contains(reply, loadKey(t, "otrbridge.key").Public().Fingerprint().String()) {
			t.Fatalf("fingerprint: %q %v", reply, err)
		}
		if id := f2.identity(); id.tag != otr.InstanceTag(ident.InstanceTag) {
			t.Fatalf("instance tag %v, stored %x", id.tag, ident.InstanceTag)
		}
	})
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNothingSecretLogged runs a session with every kind of traffic and
// failure at trace level and checks the log for message text and secrets.
func TestNothingSecretLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var logs syncBuffer
		p := &pair{da: newDB(t), db: newDB(t)}
		p.a = newManager(t, p.da, "@alice:example.org", managerOpts{policy: "opportunistic", keys: []string{"otrbridge.key"}, log: &logs})
		p.b = newManager(t, p.db, "@bob:example.org", managerOpts{policy: "opportunistic", keys: []string{"libotr-bob.key"}, log: &logs})
		p.la, p.lb = newLink("net", "bob"), newLink("net", "alice")
		p.connect()
		p.secure(t)
		const msg, secret = "top secret message body", "smp-secret-value"
		if err := send(p.a, p.la, ircconn.Privmsg, msg); err != nil {
			t.Fatal(err)
		}
		settled(t, "delivery", func() bool { return contains(p.lb.deliveredTexts(), msg) })
		if _, err := p.a.AnswerSMP(ctx, p.la, secret); err != nil {
			t.Fatal(err)
		}
		settled(t, "asked", func() bool { return p.lb.hasNotice("wants to verify") })
		if _, err := p.b.AnswerSMP(ctx, p.lb, "wrong "+secret); err != nil {
			t.Fatal(err)
		}
		settled(t, "failed", func() bool { return p.la.hasNotice("FAILED") })
		// Failures: a send error on the link and garbage from the peer.
		p.la.mu.Lock()
		p.la.sendErr = errors.New("link down")
		p.la.mu.Unlock()
		_ = send(p.a, p.la, ircconn.Privmsg, msg)
		p.a.Receive(ctx, p.la, IncomingText{Text: "?OTR:AAMD" + msg + "."})
		p.a.Receive(ctx, p.la, IncomingText{Text: "?OTR Error: " + msg})
		synctest.Wait()
		out := logs.String()
		if out == "" {
			t.Fatal("nothing logged at all: the test would prove nothing")
		}
		for _, s := range []string{msg, secret, "top secret"} {
			if strings.Contains(out, s) {
				t.Fatalf("log contains %q:\n%s", s, out)
			}
		}
	})
}

// TestErrorLoopStops: a broken client answers everything with an OTR
// error; our ERROR_START_AKE answers each with a query. The rate limit
// ends the loop.
func TestErrorLoopStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDB(t)
		f := newManager(t, d, "@alice:example.org", managerOpts{policy: "opportunistic", keys: []string{"otrbridge.key"}})
		l := newLink("net", "broken")
		l.remote = func(kind ircconn.Kind, line string) {
			f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: "?OTR Error: what?"})
		}
		f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: "?OTR Error: start"})
		settled(t, "throttle notice", func() bool { return l.hasNotice("keeps asking for replies") })
		w1, _, _, _ := l.snapshot()
		time.Sleep(5 * time.Second) // less than the reply interval
		synctest.Wait()
		w2, _, _, _ := l.snapshot()
		if len(w1) != 10 || len(w2) != len(w1) {
			t.Fatalf("loop did not stop: %d then %d lines", len(w1), len(w2))
		}
	})
}

func TestAnnounceAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "opportunistic", "opportunistic")
		p.secure(t)
		if got := p.la.state(); got != StatePrivateUnverified {
			t.Fatalf("state = %v", got)
		}
		p.a.Close()
		a2 := newManager(t, p.da, "@alice:example.org", managerOpts{policy: "opportunistic"})
		if got := a2.RestartedPeers(); len(got) != 1 || got[0] != "net.bob" {
			t.Fatalf("RestartedPeers = %v", got)
		}
		l := newLink("net", "bob")
		a2.Announce(ctx, l)
		synctest.Wait()
		// The topic may still say private: the state is shown again.
		if _, _, _, states := l.snapshot(); !l.hasNotice("The bridge restarted") || len(states) != 1 || states[0] != StatePlaintext {
			t.Fatalf("notices %q, states %v", l.notices, states)
		}
		if len(a2.RestartedPeers()) != 0 {
			t.Fatal("announced twice")
		}
		if m, _ := p.da.Private.List(ctx, "@alice:example.org"); len(m) != 0 {
			t.Fatalf("marker left: %+v", m)
		}
		// Without a new session, messages wait (fail closed) until `finish`.
		if _, err := a2.Finish(ctx, l); err != nil {
			t.Fatal(err)
		}
		if err := send(a2, l, ircconn.Privmsg, "plain after finish"); err != nil {
			t.Fatal(err)
		}
		if !l.wireContains("plain after finish") {
			t.Fatal("not sent after finish")
		}
	})
}

// A peer in a private conversation renames in a loop. The connector
// passes a notice for the renames it shows (three a minute, see
// bridge/renames.go) and summarises the rest once a minute: the chat
// gets exactly those notices, each saying that the private conversation
// continues, and none for the renames without one.
func TestRenameLoopInPrivateConversation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "opportunistic", "opportunistic")
		p.secure(t)
		_, _, before, _ := p.la.snapshot()
		const shown, renames = 3, 500
		for minute := range 2 {
			for i := range renames {
				nick := fmt.Sprintf("loop%d", i)
				p.la.setNick(nick)
				notice := ""
				if i < shown {
					notice = "bob is now known as " + nick + "."
				}
				p.a.PeerRenamed(ctx, p.la, notice)
				time.Sleep(time.Minute / (2 * renames))
			}
			time.Sleep(time.Minute / 2)
			p.a.TellRenames(ctx, p.la, fmt.Sprintf("%d more renames (minute %d).", renames-shown, minute))
			synctest.Wait()
		}
		_, _, after, _ := p.la.snapshot()
		got := after[len(before):]
		if len(got) != 2*(shown+1) {
			t.Fatalf("%d notices for %d renames in two minutes, want %d: %q", len(got), 2*renames, 2*(shown+1), got)
		}
		for _, n := range got {
			if !strings.Contains(n, "The private conversation continues with loop") {
				t.Errorf("notice %q does not say the private conversation continues", n)
			}
		}
		if last := got[len(got)-1]; !strings.Contains(last, "continues with loop499") {
			t.Errorf("summary %q does not name the latest nick", last)
		}
		if p.la.state() != StatePrivateUnverified {
			t.Fatal("session lost in the rename loop")
		}
	})
}
