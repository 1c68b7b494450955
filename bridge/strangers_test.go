package bridge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

type summaries struct {
	mu    sync.Mutex
	texts []string
}

func (s *summaries) add(text string) {
	s.mu.Lock()
	s.texts = append(s.texts, text)
	s.mu.Unlock()
}

func (s *summaries) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

func msgFrom(nick, text string) ircconn.Message {
	return ircconn.Message{From: ircconn.Source{Nick: nick, User: "u", Host: "h"}, Kind: ircconn.Privmsg, Text: text, ToMe: true}
}

func stranger(i int) networkid.UserID { return networkid.UserID(fmt.Sprintf("local.s%d", i)) }

func unknown() bool { return false }

// A flood of new nicks: the budget's worth get a chat, the rest are
// refused and summarised in one notice, at most one a minute.
func TestStrangerBudgetAndSummary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got summaries
		g := newStrangerGate(3, time.Hour, false, defaultRequestExpiry, got.add)
		opened := 0
		for i := range 40 {
			_, v := g.route(stranger(i), msgFrom(fmt.Sprintf("s%d", i), "hi"), unknown)
			switch v {
			case verdictOpen:
				opened++
			case verdictRefused:
			default:
				t.Fatalf("stranger %d: verdict %d", i, v)
			}
		}
		if opened != 3 {
			t.Errorf("%d strangers got a chat, want 3", opened)
		}
		time.Sleep(summaryDelay + time.Second)
		s := got.all()
		if len(s) != 1 || !strings.HasPrefix(s[0], "37 more people tried to message you (s3, s4, s5, s6, s7 and 32 more)") ||
			!strings.Contains(s[0], "`pm <nick>`") || !strings.Contains(s[0], "3 new people per 1h") {
			t.Fatalf("summaries %q", s)
		}
		// More refusals soon after wait for the next minute.
		g.route(stranger(100), msgFrom("s100", "hi"), unknown)
		g.route(stranger(100), msgFrom("s100", "again"), unknown)
		time.Sleep(summaryDelay + time.Second)
		if n := len(got.all()); n != 1 {
			t.Fatalf("%d summaries within a minute", n)
		}
		time.Sleep(summaryInterval)
		s = got.all()
		if len(s) != 2 || !strings.HasPrefix(s[1], "1 more person tried to message you (s100)") {
			t.Fatalf("second summary %q", s)
		}
		// The budget refills: one new peer per window/3.
		time.Sleep(20 * time.Minute)
		if _, v := g.route(stranger(200), msgFrom("s200", "hi"), unknown); v != verdictOpen {
			t.Errorf("after 20 minutes: verdict %d, want a chat", v)
		}
		g.stop()
	})
}

// Lines from a peer whose room is being created wait and come out in
// order; once the opening is over they are delivered at once.
func TestStrangerOpeningKeepsOrder(t *testing.T) {
	g := newStrangerGate(10, time.Hour, false, defaultRequestExpiry, func(string) {})
	uid := stranger(1)
	if _, v := g.route(uid, msgFrom("s1", "one"), unknown); v != verdictOpen {
		t.Fatalf("first line: verdict %d", v)
	}
	for _, text := range []string{"two", "three"} {
		if _, v := g.route(uid, msgFrom("s1", text), func() bool { t.Fatal("looked up during the opening"); return false }); v != verdictKept {
			t.Fatalf("%s: verdict %d", text, v)
		}
	}
	var out []string
	for {
		m, ok := g.nextOpened(uid)
		if !ok {
			break
		}
		out = append(out, m.Text)
	}
	if strings.Join(out, " ") != "one two three" {
		t.Errorf("delivered %q", out)
	}
	lines, v := g.route(uid, msgFrom("s1", "four"), func() bool { return true })
	if v != verdictDeliver || len(lines) != 1 || lines[0].Text != "four" {
		t.Errorf("after the opening: %d %v", v, lines)
	}
	for i := range maxOpeningLines + 10 {
		g.route(stranger(2), msgFrom("s2", fmt.Sprint(i)), unknown)
	}
	n := 0
	for _, ok := g.nextOpened(stranger(2)); ok; _, ok = g.nextOpened(stranger(2)) {
		n++
	}
	if n != maxOpeningLines {
		t.Errorf("%d lines kept for an opening, want %d", n, maxOpeningLines)
	}
}

// With message requests a new peer waits in the control room: accept
// opens the chat with the kept lines, decline drops them and what follows.
func TestStrangerRequests(t *testing.T) {
	g := newStrangerGate(10, time.Hour, true, defaultRequestExpiry, func(string) {})
	a, b := stranger(1), stranger(2)
	if _, v := g.route(a, msgFrom("alice", "hi"), unknown); v != verdictRequest {
		t.Fatalf("first line: verdict %d", v)
	}
	if _, v := g.route(a, msgFrom("alice", "are you there"), unknown); v != verdictKept {
		t.Fatalf("second line: verdict %d", v)
	}
	g.route(b, msgFrom("bob", "buy now"), unknown)
	if reqs := g.listRequests(); len(reqs) != 2 {
		t.Fatalf("requests %+v", reqs)
	}
	from, ok := g.accept(a)
	if !ok || from.Nick != "alice" || from.Host != "h" {
		t.Fatalf("accept: %+v %v", from, ok)
	}
	var out []string
	for m, ok := g.nextOpened(a); ok; m, ok = g.nextOpened(a) {
		out = append(out, m.Text)
	}
	if strings.Join(out, "|") != "hi|are you there" {
		t.Errorf("accepted lines %q", out)
	}
	if !g.decline(b) {
		t.Error("decline found no request")
	}
	if _, v := g.route(b, msgFrom("bob", "again"), unknown); v != verdictDeclined {
		t.Errorf("after decline: verdict %d", v)
	}
	g.opened(b)
	if _, v := g.route(b, msgFrom("bob", "after pm"), func() bool { return true }); v != verdictDeliver {
		t.Errorf("after pm: verdict %d", v)
	}
	// A request answered with `pm` instead of accept: its lines come first.
	c := stranger(3)
	g.route(c, msgFrom("carol", "first"), unknown)
	lines, v := g.route(c, msgFrom("carol", "second"), func() bool { return true })
	if v != verdictDeliver || len(lines) != 2 || lines[0].Text != "first" {
		t.Errorf("request then pm: %d %v", v, lines)
	}
	// Requests are capped; beyond the cap new peers are refused.
	g2 := newStrangerGate(1000, time.Hour, true, defaultRequestExpiry, func(string) {})
	for i := range maxRequests {
		g2.route(stranger(i), msgFrom(fmt.Sprint("r", i), "hi"), unknown)
	}
	if _, v := g2.route(stranger(999), msgFrom("late", "hi"), unknown); v != verdictRefused {
		t.Errorf("request %d: verdict %d", maxRequests+1, v)
	}
	g2.stop()
	for i := range maxDeclined + 5 {
		g2.decline(stranger(i))
	}
	if len(g2.declined) != maxDeclined || g2.declined[nickKey(stranger(0))] {
		t.Errorf("%d declined remembered", len(g2.declined))
	}
}

// Message requests expire request_expiry after their first line (a drip
// of lines does not keep one alive): junk requests cannot hold every
// place for good, and an expired sender who writes again is a new
// request, not a declined one.
func TestStrangerRequestsExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const expiry = 24 * time.Hour
		g := newStrangerGate(1000, time.Hour, true, expiry, func(string) {})
		defer g.stop()
		for i := range maxRequests {
			if _, v := g.route(stranger(i), msgFrom(fmt.Sprintf("s%d", i), "junk"), unknown); v != verdictRequest {
				t.Fatalf("request %d: verdict %d", i, v)
			}
		}
		if _, v := g.route(stranger(100), msgFrom("s100", "hello"), unknown); v != verdictRefused {
			t.Fatalf("a request beyond maxRequests: verdict %d", v)
		}
		// A drip from s0 keeps its request open until it expires, no
		// longer.
		time.Sleep(expiry / 2)
		if _, v := g.route(stranger(0), msgFrom("s0", "still junk"), unknown); v != verdictKept {
			t.Fatalf("a line to an open request: verdict %d", v)
		}
		time.Sleep(expiry/2 - time.Minute)
		if n := len(g.listRequests()); n != maxRequests {
			t.Fatalf("%d requests a minute before they expire", n)
		}
		time.Sleep(time.Minute)
		if n := len(g.listRequests()); n != 0 {
			t.Fatalf("%d requests after %s", n, expiry)
		}
		if _, ok := g.accept(stranger(1)); ok {
			t.Fatal("an expired request was accepted")
		}
		// Places are free again: a new person gets a request (s100 is
		// still refused until the summary), and so does an expired
		// sender who writes again.
		time.Sleep(summaryInterval)
		if _, v := g.route(stranger(100), msgFrom("s100", "hello"), unknown); v != verdictRequest {
			t.Fatalf("a new person after the expiry: verdict %d", v)
		}
		if _, v := g.route(stranger(2), msgFrom("s2", "again"), unknown); v != verdictRequest {
			t.Fatalf("an expired sender writing again: verdict %d", v)
		}
		if from, ok := g.accept(stranger(2)); !ok || from.Nick != "s2" {
			t.Fatal("the new request cannot be accepted")
		}
		if lines, _ := g.nextOpened(stranger(2)); lines.Text != "again" {
			t.Errorf("the accepted request starts with %q, want only the line after the expiry", lines.Text)
		}
	})
}

// A stranger that took a peer's nick while the peer was away under
// another one (peer ID x.2) and was declined or refused does not make the
// gate drop the real peer's lines once it takes its nick back: the nick
// keys the declined and refused sets, but a peer with a chat is never
// dropped by them. The stranger itself stays dropped.
func TestDroppedNickDoesNotDropKnownPeer(t *testing.T) {
	for _, requests := range []bool{true, false} {
		g := newStrangerGate(1, time.Hour, requests, defaultRequestExpiry, func(string) {})
		peer, impostor := networkid.UserID("local.x"), networkid.UserID("local.x.2")
		if requests {
			g.route(impostor, msgFrom("x", "hi"), unknown)
			if !g.decline(impostor) {
				t.Fatal("decline found no request")
			}
		} else {
			g.route("local.s0", msgFrom("s0", "hi"), unknown) // spends the budget
			if _, v := g.route(impostor, msgFrom("x", "hi"), unknown); v != verdictRefused {
				t.Fatalf("impostor: verdict %d", v)
			}
		}
		if _, v := g.route(impostor, msgFrom("x", "again"), unknown); v == verdictDeliver {
			t.Errorf("requests %v: the dropped stranger's line was delivered", requests)
		}
		lines, v := g.route(peer, msgFrom("x", "it's me"), func() bool { return true })
		if v != verdictDeliver || len(lines) != 1 || lines[0].Text != "it's me" {
			t.Errorf("requests %v: the peer with a chat got verdict %d, lines %v", requests, v, lines)
		}
		g.stop()
	}
}

// A line from a refused or declined stranger is dropped before anyone asks
// the database who sent it (the client here has no database: a portal
// lookup would panic), whatever case the nick is written in; a peer with
// a chat that now uses such a nick is not dropped.
func TestRefusedStrangerCostsNoLookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient("local/@a:x", "@a:x")
		c.log = zerolog.Nop()
		c.aliases = map[string]networkid.UserID{}
		c.ic = &IRCConnector{Bridge: &bridgev2.Bridge{Log: zerolog.Nop()}}
		c.strangers = newStrangerGate(1, time.Hour, false, defaultRequestExpiry, func(string) {})
		defer c.strangers.stop()
		if _, v := c.strangers.route("local.s0", msgFrom("s0", "hi"), unknown); v != verdictOpen {
			t.Fatalf("first stranger: verdict %d", v)
		}
		if _, v := c.strangers.route("local.s1", msgFrom("s1", "hi"), unknown); v != verdictRefused {
			t.Fatalf("second stranger: verdict %d", v)
		}
		c.strangers.decline("local.s2")
		route := func(nick string) (lookedUp bool) {
			defer func() {
				if r := recover(); r != nil {
					lookedUp = true
				}
			}()
			c.routeMessage(context.Background(), msgFrom(nick, "again"))
			return false
		}
		for _, nick := range []string{"s1", "S1", "s2", "S2"} {
			if route(nick) {
				t.Errorf("a line from %s looked up a portal", nick)
			}
		}
		// A peer with a chat renamed to s1: its lines are not dropped.
		c.peerRenamed("carol", "s1", "local.carol")
		if !route("s1") {
			t.Error("a known peer's line under a refused nick was dropped")
		}
	})
}
