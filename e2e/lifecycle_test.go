package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// testLoginNickServ: login with a NickServ password; the bridge identifies
// after connecting and the password never stays readable.
func testLoginNickServ(t *testing.T, e *env) {
	nick := e.unique("ns")
	password := e.text("nickservpw")
	password = strings.ReplaceAll(password, " ", "-")
	e.remember(password)
	ns := startNickServ(t, e, map[string]string{nick: password})
	u := e.newUser(t, "")
	id := u.say(t, "login irc "+netLocal+" "+nick)
	u.replyTo(t, id, "enter your authentication", wait)
	id = u.say(t, "nickserv")
	u.replyTo(t, id, "enter your password", wait)
	pwID := u.say(t, password)
	u.replyTo(t, pwID, "Connected to", longWait)
	u.nick, u.network = nick, netLocal
	// NickServ saw a correct IDENTIFY from the user's nick.
	deadline := time.Now().Add(wait)
	for {
		var ok bool
		for _, a := range ns.Attempts() {
			if strings.EqualFold(a.From, nick) && a.OK {
				ok = true
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("NickServ got no correct IDENTIFY from %s: %+v", nick, ns.Attempts())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// NickServ's answer is shown in the control room, labelled as IRC text.
	if ev := u.replyContaining(t, wait, "identified"); !strings.HasPrefix(ev.Body(), "[IRC notice from NickServ on ") {
		t.Errorf("NickServ's notice is not labelled as IRC text: %q", ev.Body())
	}
	// The password message was redacted, or the bot said it could not.
	redacted := false
	if _, err := u.mx.WaitEvent(shortWait, func(ev teststack.MatrixEvent) bool {
		return ev.Type == "m.room.redaction" && ev.RoomID == u.control
	}); err == nil {
		redacted = true
	}
	if !redacted {
		warned := false
		for _, ev := range u.mx.Messages(u.control) {
			if ev.Sender == e.bridge.BotMXID && strings.Contains(ev.Body(), "cannot remove your password") {
				warned = true
			}
		}
		if !warned {
			t.Errorf("the password message was neither redacted nor was the user warned%s", u.controlTranscript())
		}
	}
}

// startNickServ starts the NickServ stand-in on the local server unless the
// env has one, and adds accounts.
func startNickServ(t *testing.T, e *env, accounts map[string]string) *teststack.NickServ {
	t.Helper()
	return teststack.StartNickServ(t, e.irc, accounts)
}

// testPermissions: a user with only relay permission cannot use the bridge
// and is told why: the bot rejects the invite to a control room with a
// reason naming the missing permission.
func testPermissions(t *testing.T, e *env) {
	mx := e.hs.RegisterMatrixUser(t, relayOnly, "password-"+relayOnly, false)
	room, err := mx.CreateDM(e.bridge.BotMXID)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		return ev.RoomID == room && ev.Type == "m.room.member" && ev.StateKey != nil &&
			*ev.StateKey == e.bridge.BotMXID && ev.Str("membership") != "invite"
	})
	if err != nil {
		t.Fatalf("the bot neither joined nor refused: %v", err)
	}
	if ev.Str("membership") != "leave" || !strings.Contains(strings.ToLower(ev.Str("reason")), "permission") {
		t.Fatalf("bot membership %q with reason %q, want a refusal naming the permission", ev.Str("membership"), ev.Str("reason"))
	}
	// Commands sent anyway get no login prompt.
	if _, err := mx.SendText(room, "login irc "+netLocal+" "+e.unique("nope")); err != nil {
		t.Fatal(err)
	}
	if _, err := mx.WaitMessage(3*time.Second, room, e.bridge.BotMXID, nil); err == nil {
		t.Error("the bot answered a relay-only user in a room it refused")
	}
}

// waitOnline polls WHOIS from peer until nick is on IRC.
func waitOnline(t testing.TB, peer *teststack.IRCClient, nick string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		peer.Send("WHOIS " + nick)
		l, err := peer.WaitFor(shortWait, func(l teststack.IRCLine) bool {
			return (l.Command() == "311" || l.Command() == "401") && strings.EqualFold(l.Param(1), nick)
		})
		if err == nil && l.Command() == "311" {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("%s did not come back on IRC within %s", nick, timeout)
}

// testReconnectAfterIRCRestart: the IRC server restarts; the bridge
// reconnects by itself, a message sent while it was down is delivered or
// visibly failed, and the DM works afterwards.
func testReconnectAfterIRCRestart(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	peerNick := peer.Nick()
	room := u.portalFromIRC(t, peer, e.text("before the restart"))

	e.irc.Stop()
	u.replyContaining(t, longWait, "disconnect")
	meanwhile := e.text("sent while the server was down")
	id := u.sendPortal(t, room, meanwhile)
	time.Sleep(2 * time.Second)
	if err := e.irc.Start(); err != nil {
		t.Fatalf("restart InspIRCd: %v", err)
	}
	peer = teststack.DialIRC(t, e.irc.Addr(), peerNick, teststack.IRCClientOptions{})
	waitOnline(t, peer, u.nick, longWait)

	// The message sent meanwhile: delivered, or its status says it failed.
	st, err := u.mx.WaitEvent(longWait, func(ev teststack.MatrixEvent) bool {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		return ev.RoomID == room && ev.Type == "com.beeper.message_send_status" && rel != nil && rel["event_id"] == id
	})
	if err != nil {
		t.Fatalf("no delivery status for the message sent while disconnected: %v", err)
	}
	status := st.Str("status")
	if status == "SUCCESS" {
		l, err := peer.WaitPrivmsg(wait, u.nick, false)
		if err != nil || l.Text() != meanwhile {
			t.Fatalf("status SUCCESS but the peer got %q, %v", l.Text(), err)
		}
	} else {
		t.Logf("message sent while disconnected reported %s (reason %q)", status, st.Str("reason"))
	}
	after := e.text("after the reconnect")
	u.sendPortal(t, room, after)
	if l, err := peer.WaitPrivmsg(wait, u.nick, false); err != nil || l.Text() != after {
		t.Fatalf("after reconnect the peer got %q, %v", l.Text(), err)
	}
	back := e.text("reply after the reconnect")
	peer.Privmsg(u.nick, back)
	if ev := u.fromGhost(t, room, peer.Nick()); ev.Body() != back {
		t.Errorf("portal got %q", ev.Body())
	}
}

// testBridgeRestart: after a bridge restart the logins reconnect by
// themselves and existing portals keep working.
func testBridgeRestart(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	room := u.portalFromIRC(t, peer, e.text("before the bridge restart"))
	e.bridge.Restart(t)
	waitOnline(t, peer, u.nick, longWait)
	text := e.text("after the bridge restart")
	u.sendPortal(t, room, text)
	if l, err := peer.WaitPrivmsg(longWait, u.nick, false); err != nil || l.Text() != text {
		t.Fatalf("after the bridge restart the peer got %q, %v", l.Text(), err)
	}
	back := e.text("reply after the bridge restart")
	peer.Privmsg(u.nick, back)
	if ev := u.fromGhost(t, room, peer.Nick()); ev.Body() != back {
		t.Errorf("portal got %q", ev.Body())
	}
	r := u.command(t, "list-logins")
	if !strings.Contains(r.Body(), u.nick) {
		t.Errorf("list-logins after restart: %q", r.Body())
	}
}

// testConnectionStaysUp: a login's IRC connection stays up past the first
// minute (registration and ping timeouts must not fire on a healthy
// connection), without a disconnect notice, and messages still pass.
func testConnectionStaysUp(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	room := u.portalFromIRC(t, peer, e.text("start of a long connection"))
	const upFor = 75 * time.Second
	time.Sleep(upFor)
	for _, ev := range u.mx.Messages(u.control) {
		if ev.Sender == e.bridge.BotMXID && strings.Contains(strings.ToLower(ev.Body()), "disconnect") {
			t.Errorf("the connection dropped within %s: %q", upFor, ev.Body())
		}
	}
	text := e.text("still connected after a while")
	u.sendPortal(t, room, text)
	if l := u.atPeer(t, peer); l.Text() != text {
		t.Errorf("IRC got %q", l.Text())
	}
	// The same connection: the peer never saw the nick leave and come back.
	peer.Send("WHOIS " + u.nick)
	l, err := peer.WaitFor(shortWait, func(l teststack.IRCLine) bool {
		return l.Command() == "317" && strings.EqualFold(l.Param(1), u.nick)
	})
	if err != nil {
		t.Fatalf("no WHOIS idle line: %v", err)
	}
	// 317 <me> <nick> <idle> <signon>: signon must predate the wait.
	signon, _ := strconv.ParseInt(l.Param(3), 10, 64)
	if since := time.Since(time.Unix(signon, 0)); since < upFor {
		t.Errorf("the bridge's connection signed on %s ago, after the %s wait began: it reconnected", since.Round(time.Second), upFor)
	}
}
