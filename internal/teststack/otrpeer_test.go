package teststack

import (
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// TestLibotrPeersOverIRC puts two libotr peers on a private InspIRCd and
// has them go private and talk, the set-up the bridge's end-to-end tests
// use with one side replaced by the bridge.
func TestLibotrPeersOverIRC(t *testing.T) {
	srv := InspIRCd(t, IRCOptions{})
	alice := otrtest.StartLibotr(t, otrtest.Options{Account: "alice", Peer: "bob", KeyFile: otrtest.Testdata("libotr-alice.key")})
	bob := otrtest.StartLibotr(t, otrtest.Options{Account: "bob", Peer: "alice", KeyFile: otrtest.Testdata("libotr-bob.key")})
	ga := PutOnIRC(t, alice, DialIRC(t, srv.Addr(), "alice", IRCClientOptions{}), "bob", 0)
	gb := PutOnIRC(t, bob, DialIRC(t, srv.Addr(), "bob", IRCClientOptions{}), "alice", 0)

	alice.Query() // libotr's multi-line query: one PRIVMSG per line
	for _, p := range []*otrtest.LibotrPeer{alice, bob} {
		if _, ok := p.WaitFor(10*time.Second, func(l otrtest.Line) bool { return l.Kind == "EVENT" && l.Name == "gone_secure" }); !ok {
			t.Fatalf("no AKE over IRC; alice sent %q, bob sent %q", ga.Sent(), gb.Sent())
		}
	}
	text := strings.Repeat("secret words over IRC ", 100) // fragmented
	alice.Send(text)
	m, ok := bob.WaitFor(10*time.Second, func(l otrtest.Line) bool { return l.Kind == "MSG" })
	if !ok || m.Name != "enc" || m.Text != text {
		t.Fatalf("bob got %q (%v)", m.Raw, ok)
	}
	for _, l := range gb.Client.Lines() {
		if strings.Contains(l.Raw, "secret words") {
			t.Fatalf("plaintext on IRC: %q", l.Raw)
		}
	}
	bob.Send("reply")
	if m, ok := alice.WaitFor(10*time.Second, func(l otrtest.Line) bool { return l.Kind == "MSG" }); !ok || m.Text != "reply" || m.Name != "enc" {
		t.Fatalf("alice got %q", m.Raw)
	}

	// Nick changes on either side: the glue follows both. (A server tells
	// a user about another's nick change only if they share a channel.)
	for _, g := range []*IRCGlue{ga, gb} {
		g.Client.Send("JOIN #otr")
		nick := g.Client.Nick()
		for deadline := time.Now().Add(10 * time.Second); !ga.Client.Seen(func(l IRCLine) bool {
			return l.Command() == "JOIN" && l.From() == nick
		}); {
			if time.Now().After(deadline) {
				t.Fatalf("%s never joined", nick)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := gb.SetNick("bobby"); err != nil {
		t.Fatal(err)
	}
	if err := ga.SetNick("alicia"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ga.Target() != "bobby" || gb.Target() != "alicia" {
		if time.Now().After(deadline) {
			t.Fatalf("targets not followed: alice talks to %s, bob to %s", ga.Target(), gb.Target())
		}
		time.Sleep(10 * time.Millisecond)
	}
	alice.Send("after the nick changes")
	if m, ok := bob.WaitFor(10*time.Second, func(l otrtest.Line) bool { return l.Kind == "MSG" }); !ok || m.Text != "after the nick changes" || m.Name != "enc" {
		t.Fatalf("bob got %q after the nick changes", m.Raw)
	}
}

// TestWhitespaceTagOverInspIRCd: libotr's whitespace tag (trailing spaces
// and tabs) and its multi-line query reach the other IRC user unchanged —
// some servers strip trailing whitespace, which would stop the tag from
// starting an AKE.
func TestWhitespaceTagOverInspIRCd(t *testing.T) {
	srv := InspIRCd(t, IRCOptions{})
	alice := otrtest.StartLibotr(t, otrtest.Options{Account: "alice", Peer: "bob"})
	PutOnIRC(t, alice, DialIRC(t, srv.Addr(), "alice", IRCClientOptions{}), "bob", 0)
	bob := DialIRC(t, srv.Addr(), "bob", IRCClientOptions{})

	sent := alice.Send("hi there").Wire()
	l, err := bob.WaitPrivmsg(10*time.Second, "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || l.Text() != sent[0] {
		t.Fatalf("whitespace-tagged line arrived as %q, libotr sent %q", l.Text(), sent)
	}
	q := alice.Query().Wire()
	lines := strings.Split(q[0], "\n")
	for _, want := range lines {
		l, err := bob.WaitPrivmsg(10*time.Second, "alice", false)
		if err != nil {
			t.Fatal(err)
		}
		if l.Text() != want {
			t.Fatalf("query line arrived as %q, want %q", l.Text(), want)
		}
	}
}
