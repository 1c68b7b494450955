package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// A peer's OTR client that restarts loses the private conversation; the
// bridge must not go on encrypting for it and call that delivered.

// testOTRPeerRestartQuit: the peer's client quits IRC and comes back
// under the same nick as a new libotr instance, and does not start OTR
// itself. The bridge saw it leave (MONITOR), so alice's next message does
// not go to the dead session: it waits, the bridge starts a new key
// exchange, and the message arrives encrypted.
func testOTRPeerRestartQuit(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	nick := p.irc.Nick()
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "before the quit")

	p.irc.Quit("restarting")
	p.Close()
	u.notice(t, room, "Messages to "+nick+" fail", wait)
	p2 := e.otrPeerFor(t, u, nick, otrtest.Options{Policy: otrtest.PolicyManual})
	out := e.text("first after the peer came back")
	u.sendPortal(t, room, out)
	p2.event(t, "gone_secure", "")
	p2.received(t, out)
	p2.assertWireClean(t, u, out)
	u.notice(t, room, "and with it the private conversation", wait)
	u.notice(t, room, "Private conversation with", longWait)
	e.exchange(t, u, p2, room, "after the peer came back")
}

// testOTRPeerRestartSilent: the peer's libotr client restarts behind an
// IRC connection that stays (a bouncer, a reloaded plugin) as a new
// instance. alice's next message is encrypted for the instance that is
// gone, and libotr drops it without a word (as HexChat and Pidgin do).
// When the new instance starts a private conversation, the bridge marks
// the message as maybe unread and sends it once more, "[resent]", in the
// new session: same key, so the same person.
func testOTRPeerRestartSilent(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "before the restart")

	restarted := otrtest.StartLibotr(t, otrtest.Options{Account: p.irc.Nick(), Peer: u.nick, Policy: otrtest.PolicyManual})
	p.glue.Restart(restarted.Peer)
	p.Close()
	p2 := &otrPeer{LibotrPeer: restarted, glue: p.glue, irc: p.irc}
	lost := e.text("encrypted for the instance that is gone")
	id := u.sendPortal(t, room, lost)
	if st := u.messageStatus(t, room, id, wait); st.Str("status") != "SUCCESS" {
		t.Fatalf("status %s: the message did reach the IRC server", st.Str("status"))
	}
	p2.Query()
	p2.event(t, "gone_secure", "")
	p2.received(t, "[resent] "+lost)
	u.notice(t, room, "may not have read", longWait)
	u.notice(t, room, "Sent again in the new private conversation", longWait)
	if !u.hasMark(room, id, "may not have been read") {
		t.Error("the message the peer could not read is not marked in Matrix")
	}
	p2.assertWireClean(t, u, lost)
	e.exchange(t, u, p2, room, "after the restart")
}

// testOTRPeerErrorAnswer: as testOTRPeerRestartSilent, with python-potr,
// WeeChat's OTR library, which answers a message for a session it does
// not have with "?OTR Error:". The bridge marks the message, starts a new
// key exchange by itself (policy manual: libotr would not) and sends the
// message once more in it.
func testOTRPeerErrorAnswer(t *testing.T, e *env) {
	u := e.newUser(t, "")
	u.login(t, netLocal, e.unique("mx"))
	nick := e.unique("weechat")
	opts := otrtest.Options{Account: nick, Peer: u.nick, Policy: otrtest.PolicyManual}
	p := e.onIRC(t, u, nick, otrtest.StartPotr(t, opts))
	u.say(t, "pm "+nick)
	room := u.joinInvite(t)
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "before the restart")

	restarted := otrtest.StartPotr(t, opts)
	p.glue.Restart(restarted.Peer)
	p.Close()
	p2 := &otrPeer{LibotrPeer: restarted, glue: p.glue, irc: p.irc}
	lost := e.text("encrypted for the lost session")
	id := u.sendPortal(t, room, lost)
	p2.event(t, "gone_secure", "")
	p2.received(t, "[resent] "+lost)
	u.notice(t, room, "answered with an error", longWait)
	u.notice(t, room, "Sent again in the new private conversation", longWait)
	if !u.hasMark(room, id, "may not have been read") {
		t.Error("the message the peer could not read is not marked in Matrix")
	}
	p2.assertWireClean(t, u, lost)
	e.exchange(t, u, p2, room, "after the restart")
}

// hasMark reports whether the bridge reacted to the event id with a key
// containing s.
func (u *user) hasMark(room, id, s string) bool {
	_, err := u.mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		key, _ := rel["key"].(string)
		return ev.RoomID == room && ev.Type == "m.reaction" && rel["event_id"] == id && strings.Contains(key, s)
	})
	return err == nil
}

// testBridgeCrashMidSend: the bridge is killed while a message waits to go
// out (policy always, a peer without OTR: it is held). After the restart
// the sender is told in the room, in reply to the message, that it may not
// have reached IRC, and its status says so; nothing went out in plaintext.
func testBridgeCrashMidSend(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	u.say(t, "pm "+peer.Nick())
	room := u.joinInvite(t)
	u.portalCommand(t, room, "policy always", "always")
	held := e.text("in flight when the bridge died")
	id := u.sendPortal(t, room, held)
	if l, err := peer.WaitPrivmsg(wait, u.nick, false); err != nil || !strings.HasPrefix(l.Text(), "?OTR") {
		t.Fatalf("the bridge did not ask for a private conversation: %v", err)
	}
	e.bridge.Kill()
	if err := e.bridge.Start(); err != nil {
		t.Fatalf("start the bridge again: %v", err)
	}
	ev := u.notice(t, room, "stopped while sending this message", longWait)
	if rel, _ := ev.Content["m.relates_to"].(map[string]any); rel == nil || !strings.Contains(fmt.Sprint(rel["m.in_reply_to"]), id) {
		t.Errorf("the notice does not reply to the message: %v", ev.Content["m.relates_to"])
	}
	if st := u.messageStatus(t, room, id, wait); st.Str("status") != "FAIL_RETRIABLE" {
		t.Errorf("status of the cut-off message: %q, want FAIL_RETRIABLE", st.Str("status"))
	}
	for _, l := range peer.Lines() {
		if strings.Contains(l.Raw, held) {
			t.Errorf("the held message reached the wire in plaintext: %.80q", l.Raw)
		}
	}
}
