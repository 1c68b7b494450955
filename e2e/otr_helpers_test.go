package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// otrPeer is a libotr client on IRC talking to one logged-in Matrix user
// through a DM portal.
type otrPeer struct {
	*otrtest.LibotrPeer
	glue *teststack.IRCGlue
	irc  *teststack.IRCClient
}

// otrSetup logs a new Matrix user in to the local network, puts a libotr
// peer with opts on IRC and opens a DM portal with it from Matrix (`pm`),
// so nothing has been said on IRC yet.
func (e *env) otrSetup(t testing.TB, opts otrtest.Options) (*user, *otrPeer, string) {
	t.Helper()
	return e.otrSetupOn(t, netLocal, opts)
}

// otrSetupOn is otrSetup on the given network.
func (e *env) otrSetupOn(t testing.TB, network string, opts otrtest.Options) (*user, *otrPeer, string) {
	t.Helper()
	u := e.newUser(t, "")
	u.login(t, network, e.unique("mx"))
	p := e.otrPeerFor(t, u, e.unique("otrpeer"), opts)
	u.say(t, "pm "+p.irc.Nick())
	room := u.joinInvite(t)
	return u, p, room
}

// otrPeerFor starts a libotr peer called nick on IRC talking to u.
func (e *env) otrPeerFor(t testing.TB, u *user, nick string, opts otrtest.Options) *otrPeer {
	t.Helper()
	opts.Account, opts.Peer = nick, u.nick
	return e.onIRC(t, u, nick, otrtest.StartLibotr(t, opts))
}

// onIRC puts the OTR peer lp on IRC as nick, talking to u.
func (e *env) onIRC(t testing.TB, u *user, nick string, lp *otrtest.LibotrPeer) *otrPeer {
	t.Helper()
	c := teststack.DialIRC(t, e.ircFor(u.network).Addr(), nick, teststack.IRCClientOptions{})
	// On the flood-limited server (8 lines, then 2.5 per second) the peer
	// paces itself like IRC clients do.
	var pace time.Duration
	if u.network == netFlood {
		pace = 450 * time.Millisecond
	}
	g := teststack.PutOnIRC(t, lp, c, u.nick, pace)
	return &otrPeer{LibotrPeer: lp, glue: g, irc: c}
}

// portalCommand sends `!otr <cmd>` in the portal and returns the bot's
// first notice after it containing want.
func (u *user) portalCommand(t *testing.T, room, cmd, want string) teststack.MatrixEvent {
	t.Helper()
	_, ev := u.portalCommandEv(t, room, cmd, want)
	return ev
}

// portalCommandEv is portalCommand that also returns the command's event
// ID.
func (u *user) portalCommandEv(t *testing.T, room, cmd, want string) (string, teststack.MatrixEvent) {
	t.Helper()
	id, err := u.mx.SendText(room, "!otr "+cmd)
	if err != nil {
		t.Fatalf("send !otr %s: %v", strings.Fields(cmd)[0], err)
	}
	ev, err := u.mx.WaitMessageAfter(longWait, id, room, "", func(ev teststack.MatrixEvent) bool {
		return ev.Sender != u.mx.UserID && strings.Contains(strings.ToLower(ev.Body()), strings.ToLower(want))
	})
	if err != nil {
		t.Fatalf("no reply containing %q to `!otr %s`: %v\nseen:%s", want, strings.Fields(cmd)[0], err, u.roomTranscript(room))
	}
	return id, ev
}

func (u *user) roomTranscript(room string) string {
	var b strings.Builder
	for _, ev := range u.mx.Messages(room) {
		b.WriteString("\n  " + ev.Sender + " [" + ev.MsgType() + "]: " + ev.Body())
	}
	return b.String()
}

// event waits for the peer's next libotr event name [sub].
func (p *otrPeer) event(t testing.TB, name, sub string) otrtest.Line {
	t.Helper()
	l, ok := p.WaitFor(longWait, func(l otrtest.Line) bool {
		return l.Kind == "EVENT" && l.Name == name && (sub == "" || l.Sub == sub)
	})
	if !ok {
		t.Fatalf("libotr peer: no event %s %s", name, sub)
	}
	return l
}

// received waits until libotr shows text to its user and checks that it
// arrived encrypted.
func (p *otrPeer) received(t *testing.T, text string) {
	t.Helper()
	l, ok := p.WaitFor(longWait, func(l otrtest.Line) bool { return l.Kind == "MSG" && l.Text == text })
	if !ok {
		t.Fatalf("libotr peer never showed the %d-byte message", len(text))
	}
	if l.Name != "enc" {
		t.Fatalf("libotr peer got the message as %q, want encrypted", l.Name)
	}
}

// goSecure waits until both sides report a private conversation.
func (p *otrPeer) goSecure(t testing.TB, u *user, room string) {
	t.Helper()
	p.event(t, "gone_secure", "")
	u.notice(t, room, "Private conversation with", longWait)
}

// assertWireClean fails if any line between the user's nick and the peer,
// either way, carries one of texts, or if a line from the user is not an
// OTR message.
func (p *otrPeer) assertWireClean(t *testing.T, u *user, texts ...string) {
	t.Helper()
	for _, l := range p.irc.Lines() {
		if cmd := l.Command(); cmd != "PRIVMSG" && cmd != "NOTICE" {
			continue
		}
		if !strings.EqualFold(l.From(), u.nick) {
			continue
		}
		for _, s := range texts {
			if strings.Contains(l.Raw, s) {
				t.Errorf("the IRC wire from the bridge carried a plaintext message: %.80q", l.Raw)
			}
		}
		if !strings.HasPrefix(l.Text(), "?OTR") {
			t.Errorf("a line from the bridge is not an OTR message: %.80q", l.Raw)
		}
	}
	for _, line := range p.glue.Sent() {
		for _, s := range texts {
			if strings.Contains(line, s) {
				t.Errorf("the IRC wire from the peer carried a plaintext message: %.80q", line)
			}
		}
	}
}

// bridgeLines counts the PRIVMSG/NOTICE lines the peer got from the user.
func (p *otrPeer) bridgeLines(u *user) int {
	n := 0
	for _, l := range p.irc.Lines() {
		if (l.Command() == "PRIVMSG" || l.Command() == "NOTICE") && strings.EqualFold(l.From(), u.nick) {
			n++
		}
	}
	return n
}

// exchange sends one message each way while private and checks both
// arrive as plaintext at the ends and as ciphertext on the wire.
func (e *env) exchange(t *testing.T, u *user, p *otrPeer, room, label string) {
	t.Helper()
	out := e.text(label + " matrix to libotr")
	u.sendPortal(t, room, out)
	p.received(t, out)
	in := e.text(label + " libotr to matrix")
	p.Send(in)
	if ev := u.fromGhost(t, room, p.irc.Nick()); ev.Body() != in {
		t.Fatalf("portal got %q, want %q", ev.Body(), in)
	}
	p.assertWireClean(t, u, out, in)
}

// waitTopic polls the portal's topic until it contains want.
func (u *user) waitTopic(t *testing.T, room, want string) {
	t.Helper()
	var topic string
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		st, err := u.mx.StateEvent(room, "m.room.topic", "")
		if err == nil {
			topic, _ = st["topic"].(string)
			if strings.Contains(strings.ToLower(topic), strings.ToLower(want)) {
				return
			}
		}
	}
	t.Errorf("portal topic %q, want it to contain %q", topic, want)
}
