package otrsession

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// libotrSetup is our session manager (alice) talking to a libotr 4.1.1 client
// (bob) the way an IRC client would: every line libotr writes is split
// at newlines into PRIVMSGs.
type libotrSetup struct {
	f    *Manager
	d    *db.Database
	l    *fakeLink
	peer *otrtest.LibotrPeer
	sent []string // every line the peer put on the wire
	mu   sync.Mutex
}

func newLibotr(t *testing.T, policy string, opts otrtest.Options) *libotrSetup {
	t.Helper()
	s := &libotrSetup{d: newDB(t), l: newLink("net", "bob")}
	s.f = newManager(t, s.d, "@alice:example.org", managerOpts{policy: policy, keys: []string{"otrbridge.key"}})
	opts.Account, opts.Peer = "bob", "alice"
	if opts.KeyFile == "" {
		opts.KeyFile = otrtest.Testdata("libotr-bob.key")
	}
	s.startPeer(t, opts)
	s.l.remote = func(kind ircconn.Kind, line string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.peer != nil {
			s.peer.Recv(line)
		}
	}
	t.Cleanup(func() {
		s.mu.Lock()
		s.peer = nil
		s.mu.Unlock()
	})
	return s
}

// startPeer (re)starts the libotr client; a restarted client has a new
// instance tag.
func (s *libotrSetup) startPeer(t *testing.T, opts otrtest.Options) {
	peer := otrtest.StartLibotr(t, opts)
	peer.SetOnWire(func(text string) {
		for _, line := range strings.Split(text, "\n") {
			s.sent = append(s.sent, line)
			s.f.Receive(context.Background(), s.l, IncomingText{Kind: ircconn.Privmsg, Text: line})
		}
	})
	s.mu.Lock()
	old := s.peer
	s.peer = peer
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (s *libotrSetup) waitPeer(t *testing.T, what string, match func(otrtest.Line) bool) otrtest.Line {
	t.Helper()
	l, ok := s.peer.WaitFor(waitTimeout, match)
	if !ok {
		t.Fatalf("libotr: timed out waiting for %s", what)
	}
	return l
}

func isEvent(name, sub string) func(otrtest.Line) bool {
	return func(l otrtest.Line) bool { return l.Kind == "EVENT" && l.Name == name && (sub == "" || l.Sub == sub) }
}

func TestLibotrQueryThenMessagesAndSMP(t *testing.T) {
	ctx := context.Background()
	s := newLibotr(t, "opportunistic", otrtest.Options{})
	// libotr's default query: "?OTRv23?" plus two lines of HTML.
	s.peer.Query()
	waitFor(t, "private", func() bool { return s.l.state() == StatePrivateUnverified })
	s.waitPeer(t, "gone_secure", isEvent("gone_secure", ""))

	// The query's explanation lines came before this message: had they
	// reached Matrix, they would be delivered before it.
	s.peer.Send("hello from libotr")
	waitFor(t, "delivery", func() bool { return contains(s.l.deliveredTexts(), "hello from libotr") })
	if got := s.l.deliveredTexts(); len(got) != 1 {
		t.Fatalf("query text reached Matrix: %q", got)
	}
	if err := send(s.f, s.l, ircconn.Privmsg, "hello from the bridge"); err != nil {
		t.Fatal(err)
	}
	s.waitPeer(t, "our message", func(l otrtest.Line) bool {
		return l.Kind == "MSG" && l.Name == "enc" && l.Text == "hello from the bridge"
	})
	if s.l.wireContains("hello from the bridge") {
		t.Fatal("plaintext on the wire")
	}
	if err := send(s.f, s.l, ircconn.Action, "nods"); err != nil {
		t.Fatal(err)
	}
	s.waitPeer(t, "emote", func(l otrtest.Line) bool { return l.Kind == "MSG" && l.Text == "/me nods" })

	// libotr asks (no question); we answer: both sides trust (libotr rule).
	s.peer.SMP("shared secret")
	waitFor(t, "SMP request", func() bool { return s.l.hasNotice("wants to verify your identity with a shared secret") })
	if _, err := s.f.AnswerSMP(ctx, s.l, "shared secret"); err != nil {
		t.Fatal(err)
	}
	s.waitPeer(t, "libotr SMP success", isEvent("smp", "SUCCESS"))
	waitFor(t, "verified", func() bool { return s.l.state() == StatePrivateVerified })

	// We ask with a question; libotr answers.
	if _, err := s.f.Distrust(ctx, s.l, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.f.StartSMP(ctx, s.l, "Favourite colour?", "blue"); err != nil {
		t.Fatal(err)
	}
	q := s.waitPeer(t, "question", isEvent("smp", "ASK_FOR_ANSWER"))
	if !strings.Contains(q.Raw, "question=") {
		t.Logf("question event: %s", q.Raw)
	}
	s.peer.SMPAnswer("blue")
	waitFor(t, "verified by question", func() bool { return s.l.state() == StatePrivateVerified })
	bobFP := loadKey(t, "libotr-bob.key").Public().Fingerprint()
	if got := trustOf(t, s.d, "@alice:example.org", "net.bob", bobFP); got != db.TrustSMP {
		t.Fatalf("trust %s", got)
	}

	// libotr ends: we refuse to send, nothing on the wire.
	s.peer.End()
	waitFor(t, "finished", func() bool { return s.l.state() == StateFinished })
	before, _, _, _ := s.l.snapshot()
	if err := send(s.f, s.l, ircconn.Privmsg, "into the void"); err == nil {
		t.Fatal("send after the peer ended succeeded")
	}
	if after, _, _, _ := s.l.snapshot(); len(after) != len(before) {
		t.Fatal("wire output after the peer ended")
	}
}

func TestLibotrWhitespaceTagAndHTML(t *testing.T) {
	s := newLibotr(t, "opportunistic", otrtest.Options{})
	// An opportunistic libotr tags its first plaintext message.
	s.peer.Send("plain hello")
	waitFor(t, "private after the tag", func() bool { return s.l.state() == StatePrivateUnverified })
	if got := s.l.deliveredTexts(); len(got) != 1 || got[0] != "plain hello" {
		t.Fatalf("delivered %q", got)
	}
	// Pidgin sends HTML inside OTR.
	s.peer.Send(`<b>bold</b> &amp; <a href="https://example.org/">link</a><script>alert(1)</script>`)
	waitFor(t, "HTML message", func() bool { _, d, _, _ := s.l.snapshot(); return len(d) == 2 })
	_, d, _, _ := s.l.snapshot()
	m := d[1]
	if !strings.Contains(m.Text, "\x02bold\x0f & link (https://example.org/)") || strings.Contains(m.Text, "script") || strings.Contains(m.Text, "<") {
		t.Fatalf("HTML not reduced to IRC formatting: %q", m.Text)
	}
	// Plaintext during a private conversation is marked.
	s.peer.SetPolicy(otrtest.PolicyManual)
	s.f.Receive(context.Background(), s.l, IncomingText{Kind: ircconn.Privmsg, Text: "sneaky plaintext"})
	waitFor(t, "marked plaintext", func() bool { _, d, _, _ := s.l.snapshot(); return len(d) == 3 })
	_, d, _, _ = s.l.snapshot()
	if d[2].Annotation != annotationUnencrypted || !s.l.hasNotice("WITHOUT encryption") {
		t.Fatalf("unencrypted message not marked: %+v", d[2])
	}
}

func TestLibotrRequireAndRestartRecovery(t *testing.T) {
	s := newLibotr(t, "always", otrtest.Options{})
	done := make(chan error, 1)
	go func() { done <- send(s.f, s.l, ircconn.Privmsg, "first words") }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.waitPeer(t, "held message", func(l otrtest.Line) bool { return l.Kind == "MSG" && l.Name == "enc" && l.Text == "first words" })

	// The bridge restarts; libotr keeps writing into the old session.
	s.f.Close()
	s.f = newManager(t, s.d, "@alice:example.org", managerOpts{policy: "opportunistic"})
	s.l.mu.Lock()
	s.l.states = nil
	s.l.mu.Unlock()
	s.peer.Send("did you get that")
	waitFor(t, "restart notice", func() bool { return s.l.hasNotice("The bridge restarted") })
	// Our error reply makes libotr (ERROR_START_AKE) start over.
	waitFor(t, "private again", func() bool { return s.l.state() == StatePrivateUnverified })
	if err := send(s.f, s.l, ircconn.Privmsg, "yes, resend please"); err != nil {
		t.Fatal(err)
	}
	s.waitPeer(t, "after recovery", func(l otrtest.Line) bool { return l.Kind == "MSG" && l.Name == "enc" && l.Text == "yes, resend please" })
	for _, secret := range []string{"first words", "did you get that", "yes, resend please"} {
		if s.l.wireContains(secret) {
			t.Fatalf("%q on our wire", secret)
		}
		for _, line := range s.sent {
			if strings.Contains(line, secret) {
				t.Fatalf("%q on libotr's wire", secret)
			}
		}
	}
}

func TestLibotrV2OnlyAndErrorStartsAKE(t *testing.T) {
	ctx := context.Background()
	s := newLibotr(t, "opportunistic", otrtest.Options{Policy: otrtest.PolicyAllowV2 | otrtest.PolicyWhitespaceStart | otrtest.PolicyErrorStart})
	// An "?OTR Error:" from the peer makes us (ERROR_START_AKE) ask for a
	// private conversation; the error text is shown, not delivered.
	s.f.Receive(ctx, s.l, IncomingText{Kind: ircconn.Privmsg, Text: "?OTR Error: You sent encrypted data which was not expected."})
	waitFor(t, "private", func() bool { return s.l.state() == StatePrivateUnverified })
	if !s.l.hasNotice("reported an error: You sent encrypted data") {
		t.Error("error not shown")
	}
	info, err := s.f.Info(ctx, s.l)
	if err != nil || !strings.Contains(info, "OTR v2") {
		t.Fatalf("info: %q %v", info, err)
	}
	if err := send(s.f, s.l, ircconn.Privmsg, "v2 secret"); err != nil {
		t.Fatal(err)
	}
	s.waitPeer(t, "v2 message", func(l otrtest.Line) bool { return l.Kind == "MSG" && l.Name == "enc" && l.Text == "v2 secret" })
	if len(s.l.deliveredTexts()) != 0 {
		t.Fatalf("delivered %q", s.l.deliveredTexts())
	}
}

func TestLibotrPeerRestartsWithNewInstance(t *testing.T) {
	opts := otrtest.Options{Account: "bob", Peer: "alice", KeyFile: otrtest.Testdata("libotr-bob.key")}
	s := newLibotr(t, "opportunistic", opts)
	s.peer.QueryBare()
	waitFor(t, "private", func() bool { return s.l.state() == StatePrivateUnverified })
	first := s.peer.InstanceTag
	// The IRC user restarts their client: same key, new instance tag, no
	// session. It asks for a private conversation again.
	s.startPeer(t, opts)
	if s.peer.InstanceTag == first {
		t.Fatal("same instance tag after restart")
	}
	s.peer.QueryBare()
	s.waitPeer(t, "new session", isEvent("gone_secure", ""))
	if err := send(s.f, s.l, ircconn.Privmsg, "to the new instance"); err != nil {
		t.Fatal(err)
	}
	s.waitPeer(t, "message at the new instance", func(l otrtest.Line) bool {
		return l.Kind == "MSG" && l.Name == "enc" && l.Text == "to the new instance"
	})
	info, _ := s.f.Info(context.Background(), s.l)
	if !strings.Contains(info, fmt.Sprintf("their instance %08x", s.peer.InstanceTag)) {
		t.Fatalf("info does not show the new instance %08x:\n%s", s.peer.InstanceTag, info)
	}
}
