package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// loggedIn is a Matrix user logged in to network and an IRC peer on the
// same server.
func (e *env) loggedIn(t testing.TB, network string) (*user, *teststack.IRCClient) {
	t.Helper()
	u := e.newUser(t, "")
	u.login(t, network, e.unique("mx"))
	peer := teststack.DialIRC(t, e.ircFor(network).Addr(), e.unique("peer"), teststack.IRCClientOptions{})
	return u, peer
}

// sendPortal sends text from the Matrix user into a portal and returns the
// event ID.
func (u *user) sendPortal(t testing.TB, room, text string) string {
	t.Helper()
	u.e.remember(text)
	id, err := u.mx.SendText(room, text)
	if err != nil {
		t.Fatalf("send into portal: %v", err)
	}
	return id
}

// fromGhost waits for the next message of peer's ghost in room (bridge
// notices such as "Private chat portal created" are skipped).
func (u *user) fromGhost(t testing.TB, room, peerNick string) teststack.MatrixEvent {
	t.Helper()
	ev, err := u.mx.WaitMessage(wait, room, u.e.ghost(u.network, peerNick), func(ev teststack.MatrixEvent) bool {
		return !(ev.MsgType() == "m.notice" && strings.HasPrefix(ev.Body(), "Private chat portal created"))
	})
	if err != nil {
		t.Fatalf("no message from %s's ghost in the portal: %v", peerNick, err)
	}
	return ev
}

// notice waits for a bridge notice in room (from the bot or a ghost, any
// msgtype m.notice) containing s. A notice the bridge did post but the
// homeserver's /sync never returned (Dendrite skips events now and then
// under load; the load test counts these) is found in the room's history
// and logged as the homeserver's fault.
func (u *user) notice(t testing.TB, room, s string, timeout time.Duration) teststack.MatrixEvent {
	t.Helper()
	match := func(ev teststack.MatrixEvent) bool {
		return ev.Sender != u.mx.UserID && ev.MsgType() == "m.notice" &&
			strings.Contains(strings.ToLower(ev.Body()), strings.ToLower(s))
	}
	ev, err := u.mx.WaitMessage(timeout, room, "", match)
	if err == nil {
		return ev
	}
	const historyLimit = 200
	if h, ok, herr := u.mx.HistoryMessage(room, historyLimit, match); ok {
		t.Logf("homeserver fault worked around: the notice containing %q is in the history of %s, but /sync did not return it within %s", s, room, timeout)
		return h
	} else if herr != nil {
		err = fmt.Errorf("%w; reading the room's history: %v", err, herr)
	} else {
		err = fmt.Errorf("%w; not in the room's newest %d events either", err, historyLimit)
	}
	var seen []string
	for _, m := range u.mx.Messages(room) {
		seen = append(seen, m.Sender+": "+m.Body())
	}
	t.Fatalf("no notice containing %q in %s: %v\nseen:\n  %s", s, room, err, strings.Join(seen, "\n  "))
	return ev
}

// atPeer waits for the next PRIVMSG from the user's nick at peer.
func (u *user) atPeer(t testing.TB, peer *teststack.IRCClient) teststack.IRCLine {
	t.Helper()
	l, err := peer.WaitPrivmsg(wait, u.nick, false)
	if err != nil {
		t.Fatalf("nothing reached %s on IRC: %v", peer.Nick(), err)
	}
	return l
}

// joinInvite waits for an invite to a portal and joins it.
func (u *user) joinInvite(t testing.TB) string {
	t.Helper()
	inv, err := u.mx.WaitChatInvite(wait, "")
	if err != nil {
		t.Fatalf("no portal invite: %v", err)
	}
	if inv.Content["is_direct"] != true {
		t.Fatalf("portal invite without is_direct: %v", inv.Content)
	}
	if err := u.mx.Join(inv.RoomID); err != nil {
		t.Fatalf("join portal: %v", err)
	}
	return inv.RoomID
}

// testDMFromIRC: an IRC PM creates a DM portal; text, formatting, emotes
// and notices travel both ways.
func testDMFromIRC(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	first := e.text("hello from irc")
	room := u.portalFromIRC(t, peer, first)

	// Matrix → IRC: plain text.
	text := e.text("hello back from matrix")
	u.sendPortal(t, room, text)
	if l := u.atPeer(t, peer); l.Text() != text {
		t.Errorf("IRC got %q, want %q", l.Text(), text)
	}
	// Matrix HTML → IRC formatting codes.
	word := e.text("boldword")
	e.remember(word)
	if _, err := u.mx.SendHTML(room, word+" plain", "<b>"+word+"</b> plain"); err != nil {
		t.Fatal(err)
	}
	// Bold may be closed with ^B or with a reset (^O).
	if l := u.atPeer(t, peer); l.Text() != "\x02"+word+"\x02 plain" && l.Text() != "\x02"+word+"\x0f plain" {
		t.Errorf("IRC got %q for bold HTML", l.Text())
	}
	// Matrix emote → CTCP ACTION.
	emote := e.text("waves")
	if _, err := u.mx.SendEmote(room, emote); err != nil {
		t.Fatal(err)
	}
	if l := u.atPeer(t, peer); l.Text() != "\x01ACTION "+emote+"\x01" {
		t.Errorf("IRC got %q for an emote", l.Text())
	}
	// Matrix notice → IRC NOTICE.
	notice := e.text("a matrix notice")
	if _, err := u.mx.SendNotice(room, notice); err != nil {
		t.Fatal(err)
	}
	if l, err := peer.WaitPrivmsg(wait, u.nick, true); err != nil || l.Text() != notice {
		t.Errorf("IRC NOTICE: got %q, %v", l.Text(), err)
	}

	// IRC → Matrix: formatting codes become HTML.
	bold := e.text("ircbold")
	peer.Privmsg(u.nick, "\x02"+bold+"\x02 and \x1ditalic\x1d")
	ev := u.fromGhost(t, room, peer.Nick())
	if !strings.Contains(ev.Body(), bold) || (!strings.Contains(ev.HTML(), "<b>"+bold+"</b>") && !strings.Contains(ev.HTML(), "<strong>"+bold+"</strong>")) {
		t.Errorf("IRC bold arrived as body %q html %q", ev.Body(), ev.HTML())
	}
	if strings.ContainsAny(ev.Body(), "\x02\x1d") {
		t.Errorf("control codes leaked into the plain body: %q", ev.Body())
	}
	// CTCP ACTION → m.emote.
	act := e.text("dances")
	peer.Action(u.nick, act)
	if ev := u.fromGhost(t, room, peer.Nick()); ev.MsgType() != "m.emote" || ev.Body() != act {
		t.Errorf("ACTION arrived as %s %q", ev.MsgType(), ev.Body())
	}
	// NOTICE → m.notice.
	n := e.text("irc notice")
	peer.Notice(u.nick, n)
	if ev := u.fromGhost(t, room, peer.Nick()); ev.MsgType() != "m.notice" || ev.Body() != n {
		t.Errorf("NOTICE arrived as %s %q", ev.MsgType(), ev.Body())
	}
	// The same peer reuses the same portal.
	again := e.text("same room please")
	peer.Privmsg(u.nick, again)
	if ev := u.fromGhost(t, room, peer.Nick()); ev.Body() != again {
		t.Errorf("second PM: %q", ev.Body())
	}
}

// testDMStartChat: `pm <nick>` in the control room opens a portal.
func testDMStartChat(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	id := u.say(t, "pm "+peer.Nick())
	room := u.joinInvite(t)
	_ = id
	text := e.text("opened with pm")
	u.sendPortal(t, room, text)
	if l := u.atPeer(t, peer); l.Text() != text {
		t.Errorf("IRC got %q", l.Text())
	}
	reply := e.text("reply into pm portal")
	peer.Privmsg(u.nick, reply)
	if ev := u.fromGhost(t, room, peer.Nick()); ev.Body() != reply {
		t.Errorf("portal got %q", ev.Body())
	}
}

// testDMInviteGhost: inviting the ghost MXID to a new DM opens a portal.
func testDMInviteGhost(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	ghost := e.ghost(netLocal, peer.Nick())
	room, err := u.mx.CreateDM(ghost)
	if err != nil {
		t.Fatalf("create DM with %s: %v", ghost, err)
	}
	if _, err := u.mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		return ev.RoomID == room && ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == ghost &&
			ev.Str("membership") == "join"
	}); err != nil {
		t.Fatalf("the ghost did not join the DM: %v", err)
	}
	u.notice(t, room, "portal created", wait)
	text := e.text("opened by inviting the ghost")
	u.sendPortal(t, room, text)
	if l := u.atPeer(t, peer); l.Text() != text {
		t.Errorf("IRC got %q", l.Text())
	}
	reply := e.text("reply into the invited DM")
	peer.Privmsg(u.nick, reply)
	if ev := u.fromGhost(t, room, peer.Nick()); ev.Body() != reply {
		t.Errorf("portal got %q", ev.Body())
	}
}

// testLongMessage: a long Matrix message is split into IRC lines that
// carry every byte in order, each within the 512-byte line limit.
func testLongMessage(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	room := u.portalFromIRC(t, peer, e.text("start"))
	var words []string
	for i := 0; len(strings.Join(words, " ")) < 3000; i++ {
		words = append(words, fmt.Sprintf("w%04d-ünïcødé", i))
	}
	long := strings.Join(words, " ")
	u.sendPortal(t, room, long)
	var got []string
	deadline := time.Now().Add(longWait)
	for len(strings.Join(got, " ")) < len(long) && time.Now().Before(deadline) {
		l, err := peer.WaitPrivmsg(time.Until(deadline), u.nick, false)
		if err != nil {
			break
		}
		if len(l.Raw)+2 > 512 {
			t.Errorf("line of %d bytes exceeds 512: %.60q", len(l.Raw)+2, l.Raw)
		}
		got = append(got, l.Text())
	}
	joined := strings.Join(got, " ")
	if joined != long && strings.Join(got, "") != long {
		t.Fatalf("the IRC side got %d lines, %d bytes, not the %d-byte message in order", len(got), len(joined), len(long))
	}
	if len(got) < 2 {
		t.Fatalf("a %d-byte message was not split (%d lines)", len(long), len(got))
	}
	t.Logf("%d bytes arrived in %d lines", len(long), len(got))
}

// testFloodPacing: 50 lines in a burst reach the peer complete and in order
// on a server that kills unpaced flooding.
func testFloodPacing(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netFlood)
	room := u.portalFromIRC(t, peer, e.text("flood start"))
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, e.text(fmt.Sprintf("burst line %02d", i)))
	}
	// One multi-line message with 25 lines and 25 single messages.
	u.sendPortal(t, room, strings.Join(lines[:25], "\n"))
	for _, l := range lines[25:] {
		u.sendPortal(t, room, l)
	}
	start := time.Now()
	for i, want := range lines {
		l, err := peer.WaitPrivmsg(2*longWait, u.nick, false)
		if err != nil {
			t.Fatalf("line %d of 50 never arrived: %v", i, err)
		}
		if l.Text() != want {
			t.Fatalf("line %d: got %q, want %q", i, l.Text(), want)
		}
	}
	t.Logf("50 lines arrived in %s", time.Since(start).Round(time.Millisecond))
	// The bridge's connection survived: the nick is still online.
	peer.Send("WHOIS " + u.nick)
	if _, err := peer.WaitFor(wait, func(l teststack.IRCLine) bool {
		return l.Command() == "311" && strings.EqualFold(l.Param(1), u.nick)
	}); err != nil {
		t.Fatalf("the bridge's connection did not survive the burst: %v", err)
	}
}

// testPeerNickChange: the portal follows the peer's new nick, which the
// server reports because the bridge shares a channel with the peer.
func testPeerNickChange(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	oldNick := peer.Nick()
	room := u.portalFromIRC(t, peer, e.text("before the nick change"))
	e.shareChannel(t, u, peer)
	newNick := e.unique("renamed")
	if err := peer.SetNick(newNick); err != nil {
		t.Fatal(err)
	}
	u.notice(t, room, newNick, wait)
	text := e.text("to the new nick")
	u.sendPortal(t, room, text)
	l, err := peer.WaitPrivmsg(wait, u.nick, false)
	if err != nil || l.Text() != text {
		t.Fatalf("message after the nick change: %q, %v", l.Text(), err)
	}
	if !strings.EqualFold(l.Param(0), newNick) {
		t.Errorf("sent to %q, want %q", l.Param(0), newNick)
	}
	reply := e.text("reply from the new nick")
	peer.Privmsg(u.nick, reply)
	ev, err := u.mx.WaitMessage(wait, room, "", func(ev teststack.MatrixEvent) bool { return ev.Body() == reply })
	if err != nil {
		t.Fatalf("reply from the new nick did not reach the same portal: %v", err)
	}
	t.Logf("old nick %s, new nick %s, reply sent by %s", oldNick, newNick, ev.Sender)
}

// testNoSuchNick: a message to an absent nick fails visibly in the portal.
func testNoSuchNick(t *testing.T, e *env) {
	u := e.newUser(t, "")
	u.login(t, netLocal, e.unique("mx"))
	absent := e.unique("absent")
	u.say(t, "pm "+absent)
	room := u.joinInvite(t)
	id := u.sendPortal(t, room, e.text("anyone there"))
	u.notice(t, room, "not on IRC", wait)
	// The message status says it failed.
	ev, err := u.mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		if ev.RoomID != room || ev.Type != "com.beeper.message_send_status" {
			return false
		}
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		return rel != nil && rel["event_id"] == id
	})
	if err != nil {
		t.Fatalf("no message status for the failed message: %v", err)
	}
	if st := ev.Str("status"); st == "SUCCESS" {
		t.Errorf("message to an absent nick reported %s", st)
	}
}

// testDMRejoin: a user who left a DM portal is invited back by the peer's
// messages, which are all there after rejoining. (The first message after
// the leave brings the invite if the bridge has seen the leave by then;
// otherwise the next one does: the test sends a second after 10 s.)
func testDMRejoin(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	room := u.portalFromIRC(t, peer, e.text("before leaving"))
	if err := u.mx.Leave(room); err != nil {
		t.Fatal(err)
	}
	texts := []string{e.text("come back")}
	peer.Privmsg(u.nick, texts[0])
	rejoined := false
	for start := time.Now(); !rejoined && time.Since(start) < longWait; time.Sleep(500 * time.Millisecond) {
		if len(texts) == 1 && time.Since(start) > 10*time.Second {
			texts = append(texts, e.text("still there?"))
			peer.Privmsg(u.nick, texts[1])
		}
		rejoined = u.mx.Join(room) == nil
	}
	if !rejoined {
		t.Fatalf("not invited back to the portal after %d messages from the peer", len(texts))
	}
	hist, err := u.mx.RoomHistory(room, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range texts {
		found := false
		for _, ev := range hist {
			found = found || ev.Body() == text
		}
		if !found {
			t.Errorf("message %q from while the user was away is not in the portal", text)
		}
	}
}

// testLogoutTellsRooms: after `logout` the login's rooms stay, and bridgev2
// would drop what is sent there without a word; each room says that it no
// longer reaches IRC, a message sent there gets a notice saying it was not
// bridged, and nothing sent there reaches the peer.
func testLogoutTellsRooms(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	room := u.portalFromIRC(t, peer, e.text("hello before the logout"))
	// bridgev2 answers "Logged out", the bridge state notice may come first.
	u.replyTo(t, u.say(t, "logout "+u.network+"/"+u.mx.UserID), "Logged out", wait)
	u.notice(t, room, "You are no longer logged in to", wait)
	after := e.text("sent after the logout")
	id := u.sendPortal(t, room, after)
	notice, err := u.mx.WaitMessageAfter(wait, id, room, e.bridge.BotMXID, func(ev teststack.MatrixEvent) bool {
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		inReply, _ := rel["m.in_reply_to"].(map[string]any)
		return ev.MsgType() == "m.notice" && inReply != nil && inReply["event_id"] == id
	})
	if err != nil {
		t.Fatalf("no notice about the message sent after the logout: %v\nseen:%s", err, u.roomTranscript(room))
	}
	if !strings.Contains(notice.Body(), "not bridged") || !strings.Contains(notice.Body(), "logged out") {
		t.Errorf("notice %q", notice.Body())
	}
	for _, l := range peer.Lines() {
		if strings.Contains(l.Raw, after) {
			t.Errorf("the peer got a message sent after the logout: %.80q", l.Raw)
		}
	}
}
