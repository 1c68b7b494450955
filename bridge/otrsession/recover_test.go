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

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// injected is where faultPoint panics in these tests: points maps a fault
// point to the peer that panics there, with a value that holds secret
// (which must never be logged). faultPoint itself is set once, before any
// test: the effects of a test's earlier steps may still be running on their
// goroutines when it changes what panics.
var injected struct {
	sync.Mutex
	points map[string]string
	secret string
}

func init() {
	faultPoint = func(where, peer string) {
		injected.Lock()
		p, ok := injected.points[where]
		secret := injected.secret
		injected.Unlock()
		if ok && p == peer {
			panic(errors.New("injected: " + secret))
		}
	}
}

// panicAt makes faultPoint panic at where for peer until stopPanics or the
// end of the test.
func panicAt(t *testing.T, secret string, points map[string]string) {
	injected.Lock()
	injected.points, injected.secret = points, secret
	injected.Unlock()
	t.Cleanup(stopPanics)
}

func stopPanics() {
	injected.Lock()
	injected.points = nil
	injected.Unlock()
}

// A panic while deciding about a private peer's message ends that
// conversation fail closed and tells the user; the manager, its other
// peers and the same peer afterwards go on. Nothing of the panic's value
// is logged.
func TestPanicInReceiveEndsOnlyThatConversation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		p := newPair(t, "manual", "manual")
		p.a = newManager(t, p.da, "@alice:example.org", managerOpts{policy: "manual", keys: []string{"otrbridge.key"}, log: &logs})
		p.connect()
		p.secure(t)
		other := newLink("net", "carol")
		const secret = "the panic value holds this secret"
		panicAt(t, secret, map[string]string{"receive": string(p.la.PeerID())})
		if err := send(p.b, p.lb, ircconn.Privmsg, "a message that makes alice's side panic"); err != nil {
			t.Fatal(err)
		}
		settled(t, "alice is told", func() bool {
			return p.la.hasNotice("internal error in the bridge ended your private conversation with bob")
		})
		if got := p.la.state(); got != StatePlaintext {
			t.Errorf("state after the panic: %v", got)
		}
		// Fail closed: alice's next message waits for a new private
		// conversation instead of going out in plaintext.
		stopPanics()
		done := make(chan error, 1)
		go func() { done <- send(p.a, p.la, ircconn.Privmsg, "after the panic") }()
		synctest.Wait()
		if p.la.wireContains("after the panic") {
			t.Fatal("a message went out in plaintext after the private conversation was dropped")
		}
		settled(t, "a new private conversation carries the message", func() bool { return contains(p.lb.deliveredTexts(), "after the panic") })
		if err := <-done; err != nil {
			t.Fatalf("send after the new private conversation: %v", err)
		}
		// Another peer of the same login was never affected.
		p.a.Receive(context.Background(), other, IncomingText{Kind: ircconn.Privmsg, Text: "hello"})
		settled(t, "another peer's message", func() bool { return contains(other.deliveredTexts(), "hello") })
		out := logs.String()
		if !strings.Contains(out, "Recovered from a panic") || !strings.Contains(out, `"panic_type":"*errors.errorString"`) {
			t.Errorf("the panic was not logged:\n%s", out)
		}
		if strings.Contains(out, secret) {
			t.Errorf("the log holds the panic's value")
		}
	})
}

// A panic in an effect loses that effect only; a panic while sending
// fails that message with an explanation; the peer goes on.
func TestPanicInEffectsAndSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "never", keys: []string{"otrbridge.key"}})
		l := newLink("net", "dave")
		ctx := context.Background()
		panicAt(t, "x", map[string]string{"effect": string(l.PeerID())})
		f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: "lost"})
		synctest.Wait()
		stopPanics()
		f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: "shown"})
		settled(t, "the next message", func() bool { return contains(l.deliveredTexts(), "shown") })
		if contains(l.deliveredTexts(), "lost") {
			t.Error("the effect that panicked ran")
		}
		panicAt(t, "x", map[string]string{"write": string(l.PeerID())})
		err := send(f, l, ircconn.Privmsg, "not sent")
		var se *SendError
		if !errors.As(err, &se) || !strings.Contains(se.Text, "internal error") {
			t.Fatalf("send through a panicking writer: %v", err)
		}
		stopPanics()
		if err := send(f, l, ircconn.Privmsg, "sent"); err != nil || !l.wireContains("sent") {
			t.Fatalf("send after the panic: %v", err)
		}
	})
}

// A panic while deciding about one of the user's messages fails that
// message with an explanation and ends the private conversation fail
// closed: nothing goes out in plaintext, and the next message waits for
// (and gets) a new private conversation.
func TestPanicInSendFailsThatMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		p := newPair(t, "manual", "manual")
		p.a = newManager(t, p.da, "@alice:example.org", managerOpts{policy: "manual", keys: []string{"otrbridge.key"}, log: &logs})
		p.connect()
		p.secure(t)
		const secret = "the send panic's value"
		panicAt(t, secret, map[string]string{"send": string(p.la.PeerID())})
		err := send(p.a, p.la, ircconn.Privmsg, "the message that panics")
		var se *SendError
		if !errors.As(err, &se) || !strings.Contains(se.Text, "internal error") {
			t.Fatalf("send through a panicking decision: %v", err)
		}
		settled(t, "alice is told", func() bool {
			return p.la.hasNotice("internal error in the bridge ended your private conversation with bob")
		})
		if p.la.wireContains("the message that panics") || contains(p.lb.deliveredTexts(), "the message that panics") {
			t.Fatal("the message that panicked was sent")
		}
		stopPanics()
		done := make(chan error, 1)
		go func() { done <- send(p.a, p.la, ircconn.Privmsg, "after the panic") }()
		synctest.Wait()
		if p.la.wireContains("after the panic") {
			t.Fatal("a message went out in plaintext after the private conversation was dropped")
		}
		settled(t, "a new private conversation carries the message", func() bool { return contains(p.lb.deliveredTexts(), "after the panic") })
		if err := <-done; err != nil {
			t.Fatalf("send after the new private conversation: %v", err)
		}
		out := logs.String()
		if !strings.Contains(out, `"where":"send"`) || strings.Contains(out, secret) {
			t.Errorf("the panic is not logged, or its value is:\n%s", out)
		}
	})
}

// A panic in a peer's timers (here: while summing up its noise) costs
// that peer's pending work only: the user is told, other peers' timers
// run, the login's timer goes on, and so does the peer.
func TestPanicInTickCostsOnlyThatPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "manual", keys: []string{"otrbridge.key"}, log: &logs})
		bad, good := newLink("net", "dave"), newLink("net", "erin")
		ctx := context.Background()
		for _, l := range []*fakeLink{bad, good} {
			f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: "hi"})
			synctest.Wait()
			for i := range 3 {
				f.Receive(ctx, l, IncomingText{Kind: ircconn.Privmsg, Text: fmt.Sprintf("?OTR:AAMD%dbWFsZm9ybWVk.", i)})
			}
		}
		synctest.Wait()
		panicAt(t, "tick secret", map[string]string{"tick": string(bad.PeerID())})
		time.Sleep(noiseInterval + 2*tickInterval)
		synctest.Wait()
		if !good.hasNotice("2 more malformed OTR messages from erin were ignored") {
			t.Error("the other peer's summary is missing")
		}
		if !bad.hasNotice("An internal error in the bridge dropped what dave just sent") {
			t.Error("the peer whose timer panicked was not explained")
		}
		stopPanics()
		f.Receive(ctx, bad, IncomingText{Kind: ircconn.Privmsg, Text: "still here"})
		settled(t, "the peer's next message", func() bool { return contains(bad.deliveredTexts(), "still here") })
		// The login's timer still runs: new noise is summed up again.
		for i := range 3 {
			f.Receive(ctx, good, IncomingText{Kind: ircconn.Privmsg, Text: fmt.Sprintf("?OTR:AAMD%dbWFsZm9ybWVk.", i)})
		}
		time.Sleep(noiseInterval + 2*tickInterval)
		synctest.Wait()
		if _, _, notices, _ := good.snapshot(); !strings.Contains(strings.Join(notices, "\n"), "3 more malformed") {
			t.Errorf("no summary after the panic: %q", notices)
		}
		out := logs.String()
		if !strings.Contains(out, `"where":"tick"`) || strings.Contains(out, "tick secret") {
			t.Errorf("the panic is not logged, or its value is:\n%s", out)
		}
	})
}
