package teststack

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// IRCGlue puts an OTR test peer (testpeers/otrtest) on IRC the way an IRC
// OTR client (irssi-otr, HexChat-otr) does: every line the peer sends
// becomes a PRIVMSG to the target nick — a multi-line text (libotr's
// default query) one PRIVMSG per line — and every PRIVMSG from the target
// is handed to the peer. Tests then drive the peer with its usual methods
// (Send, Query, SMP, ...) and wait for what it shows with WaitFor.
type IRCGlue struct {
	// Peer is the OTR client as attached; Restart replaces it.
	Peer   *otrtest.Peer
	Client *IRCClient

	mu     sync.Mutex
	target string
	queue  []string
	wake   chan struct{}
	errs   []error
	sent   []string // every PRIVMSG text we sent
	pace   time.Duration
	closed chan struct{}
}

// AttachOTRPeer connects peer to an IRC client that is already registered
// and talks to target. pace is the pause between two PRIVMSGs (0 = none;
// use about a second on a server with flood limits). The glue stops when
// the client's connection ends or at Close. The glue consumes the client's
// lines with WaitFor: inspect them with Client.Lines or Client.Seen, and
// change the nick with the glue's SetNick, not the client's.
func AttachOTRPeer(peer *otrtest.Peer, client *IRCClient, target string, pace time.Duration) *IRCGlue {
	g := &IRCGlue{Peer: peer, Client: client, target: target, pace: pace,
		wake: make(chan struct{}, 1), closed: make(chan struct{})}
	peer.SetOnWire(g.enqueue)
	go g.sendLoop()
	go g.recvLoop()
	return g
}

// PutOnIRC is AttachOTRPeer for a test: the glue is closed when the test
// ends, and the problems it met fail the test.
func PutOnIRC(t testing.TB, peer *otrtest.LibotrPeer, client *IRCClient, target string, pace time.Duration) *IRCGlue {
	g := AttachOTRPeer(peer.Peer, client, target, pace)
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("OTR peer on IRC: %v", err)
		}
	})
	return g
}

// Close detaches the peer, closes the IRC connection and returns the
// problems the glue met (a command the peer refused, a send that failed).
func (g *IRCGlue) Close() error {
	g.peer().SetOnWire(nil)
	g.Client.Close()
	<-g.closed
	return errors.Join(g.Errors()...)
}

// Restart replaces the OTR client under the IRC connection, as when a
// client restarts behind a bouncer or reloads its OTR plugin: the IRC
// connection stays, the OTR state is gone. The old peer is detached (and
// left to the caller to close).
func (g *IRCGlue) Restart(peer *otrtest.Peer) {
	g.mu.Lock()
	old := g.Peer
	g.Peer = peer
	g.mu.Unlock()
	old.SetOnWire(nil)
	peer.SetOnWire(g.enqueue)
}

// peer is the OTR client now under the connection.
func (g *IRCGlue) peer() *otrtest.Peer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.Peer
}

// SetTarget changes the nick the peer talks to (NICK changes of the target
// are followed automatically).
func (g *IRCGlue) SetTarget(nick string) {
	g.mu.Lock()
	g.target = nick
	g.mu.Unlock()
}

// SetNick changes the peer's own nick and waits until the server
// confirmed it.
func (g *IRCGlue) SetNick(nick string) error {
	if err := g.Client.Send("NICK " + nick); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.EqualFold(g.Client.Nick(), nick); {
		if time.Now().After(deadline) {
			return fmt.Errorf("nick %s not confirmed by the server", nick)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Target is the nick the peer currently talks to.
func (g *IRCGlue) Target() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.target
}

// Sent returns every PRIVMSG text the peer sent so far.
func (g *IRCGlue) Sent() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.sent...)
}

// Errors returns problems the glue met (a command libotr refused, a send
// that failed).
func (g *IRCGlue) Errors() []error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]error(nil), g.errs...)
}

func (g *IRCGlue) enqueue(wire string) {
	g.mu.Lock()
	for _, line := range strings.Split(wire, "\n") {
		line = strings.TrimRight(line, "\r")
		if line != "" {
			g.queue = append(g.queue, line)
		}
	}
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *IRCGlue) sendLoop() {
	for {
		select {
		case <-g.wake:
		case <-g.Client.Closed():
			return
		}
		for {
			g.mu.Lock()
			if len(g.queue) == 0 {
				g.mu.Unlock()
				break
			}
			line, target := g.queue[0], g.target
			g.queue = g.queue[1:]
			g.sent = append(g.sent, line)
			g.mu.Unlock()
			if err := g.Client.Send("PRIVMSG " + target + " :" + line); err != nil {
				g.fail(err)
				return
			}
			if g.pace > 0 {
				time.Sleep(g.pace)
			}
		}
	}
}

func (g *IRCGlue) recvLoop() {
	defer close(g.closed)
	for {
		// WaitFor holds the client's lock while matching: read our nick
		// and the target before, and come back here after either changes.
		me, target := g.Client.Nick(), g.Target()
		l, err := g.Client.WaitFor(24*time.Hour, func(l IRCLine) bool {
			switch l.Command() {
			case "NICK":
				return strings.EqualFold(l.From(), target) || strings.EqualFold(l.From(), me)
			case "PRIVMSG":
				return strings.EqualFold(l.From(), target) && strings.EqualFold(l.Param(0), me)
			}
			return false
		})
		if err != nil {
			return // connection closed
		}
		if l.Command() == "NICK" {
			if strings.EqualFold(l.From(), target) {
				g.SetTarget(l.Param(0))
			}
			continue
		}
		if _, err := g.peer().Recv(l.Text()); err != nil {
			g.fail(err)
		}
	}
}

func (g *IRCGlue) fail(err error) {
	g.mu.Lock()
	g.errs = append(g.errs, err)
	g.mu.Unlock()
}
