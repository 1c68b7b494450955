package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// Channel portals on the real stack: bridged Matrix users and plain IRC
// clients in the same InspIRCd channel.

// ircJoin has an IRC client join channel and waits for the end of the
// member list; the server's refusal (471-477: full, invite only, banned,
// bad key, ...) fails at once.
func ircJoin(t testing.TB, c *teststack.IRCClient, channel string) {
	t.Helper()
	if err := c.Send("JOIN " + channel); err != nil {
		t.Fatal(err)
	}
	l, err := c.WaitFor(wait, func(l teststack.IRCLine) bool {
		return (l.Command() == "366" || l.Command() >= "471" && l.Command() <= "477") && strings.EqualFold(l.Param(1), channel)
	})
	if err != nil {
		t.Fatalf("%s did not join %s: %v", c.Nick(), channel, err)
	}
	if l.Command() != "366" {
		t.Fatalf("%s could not join %s: %s", c.Nick(), channel, l.Raw)
	}
}

// ircWaitChannel waits for a PRIVMSG or NOTICE from nick in channel at c.
func ircWaitChannel(t testing.TB, c *teststack.IRCClient, channel, from string) teststack.IRCLine {
	t.Helper()
	l, err := c.WaitFor(wait, func(l teststack.IRCLine) bool {
		return (l.Command() == "PRIVMSG" || l.Command() == "NOTICE") && strings.EqualFold(l.Param(0), channel) &&
			strings.EqualFold(l.From(), from)
	})
	if err != nil {
		t.Fatalf("nothing from %s in %s reached %s: %v", from, channel, c.Nick(), err)
	}
	return l
}

// ircWaitCommand waits for a line with command (JOIN, PART, KICK, MODE,
// TOPIC, ...) from nick about channel at c.
func ircWaitCommand(t testing.TB, c *teststack.IRCClient, command, from, channel string) teststack.IRCLine {
	t.Helper()
	l, err := c.WaitFor(longWait, func(l teststack.IRCLine) bool {
		return l.Command() == command && (from == "" || strings.EqualFold(l.From(), from)) && strings.EqualFold(l.Param(0), channel)
	})
	if err != nil {
		t.Fatalf("no %s from %s in %s at %s: %v", command, from, channel, c.Nick(), err)
	}
	return l
}

// joinChannel has u join channel with the `join` command and returns the
// channel's room, joined.
func (u *user) joinChannel(t testing.TB, channel string) string {
	t.Helper()
	id := u.say(t, "join "+channel)
	u.replyTo(t, id, "Joined "+channel, longWait)
	return u.acceptChannelInvite(t, channel)
}

// acceptChannelInvite waits for the invite to channel's room and joins it.
func (u *user) acceptChannelInvite(t testing.TB, channel string) string {
	t.Helper()
	inv, err := u.mx.WaitChatInvite(longWait, "")
	if err != nil {
		t.Fatalf("no invite to the room of %s: %v", channel, err)
	}
	if err := u.mx.Join(inv.RoomID); err != nil {
		t.Fatalf("join the room of %s: %v", channel, err)
	}
	if name := u.roomName(t, inv.RoomID); !strings.EqualFold(name, channel) {
		t.Fatalf("invited to room %q, want the room of %s", name, channel)
	}
	return inv.RoomID
}

func (u *user) roomName(t testing.TB, room string) string {
	t.Helper()
	var name string
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		st, err := u.mx.StateEvent(room, "m.room.name", "")
		if err == nil {
			name, _ = st["name"].(string)
			return name
		}
	}
	return name
}

// fromSender waits for a message in room from sender (a ghost or a Matrix
// user) with body text.
func (u *user) fromSender(t testing.TB, room, sender, text string) teststack.MatrixEvent {
	t.Helper()
	ev, err := u.mx.WaitMessage(wait, room, sender, func(ev teststack.MatrixEvent) bool { return ev.Body() == text })
	if err != nil {
		t.Fatalf("%q from %s not in the room: %v\nseen:%s", text, sender, err, u.roomTranscript(room))
	}
	return ev
}

// countBody counts the messages in room with body text.
func (u *user) countBody(room, text string) int {
	n := 0
	for _, ev := range u.mx.Messages(room) {
		if ev.Body() == text {
			n++
		}
	}
	return n
}

// waitMember waits until userID's membership in room is membership.
func (u *user) waitMember(t testing.TB, room, userID, membership string) teststack.MatrixEvent {
	t.Helper()
	ev, err := u.mx.WaitEvent(longWait, func(ev teststack.MatrixEvent) bool {
		return ev.RoomID == room && ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == userID &&
			ev.Str("membership") == membership
	})
	if err != nil {
		t.Fatalf("%s never became %q in the room: %v", userID, membership, err)
	}
	return ev
}

// waitMembership polls room's state until userID's membership is
// membership.
func (u *user) waitMembership(t testing.TB, room, userID, membership string) {
	t.Helper()
	got := ""
	for deadline := time.Now().Add(longWait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if st, err := u.mx.StateEvent(room, "m.room.member", userID); err == nil {
			if got, _ = st["membership"].(string); got == membership {
				return
			}
		}
	}
	t.Fatalf("%s is %q in the room, want %q", userID, got, membership)
}

// powerLevel reads userID's power level in room.
func (u *user) powerLevel(t testing.TB, room, userID string) int {
	t.Helper()
	st, err := u.mx.StateEvent(room, "m.room.power_levels", "")
	if err != nil {
		t.Fatalf("power levels: %v", err)
	}
	users, _ := st["users"].(map[string]any)
	level, _ := users[userID].(float64)
	return int(level)
}

// waitPowerLevel polls until userID has level in room.
func (u *user) waitPowerLevel(t testing.TB, room, userID string, level int) {
	t.Helper()
	got := -1
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = u.powerLevel(t, room, userID); got == level {
			return
		}
	}
	t.Fatalf("%s has power level %d in the room, want %d", userID, got, level)
}

// sendStatus waits for the message status of event id in room.
func (u *user) sendStatus(t testing.TB, room, id string) teststack.MatrixEvent {
	t.Helper()
	ev, err := u.mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		if ev.RoomID != room || ev.Type != "com.beeper.message_send_status" {
			return false
		}
		rel, _ := ev.Content["m.relates_to"].(map[string]any)
		return rel != nil && rel["event_id"] == id
	})
	if err != nil {
		t.Fatalf("no message status for %s: %v", id, err)
	}
	return ev
}

// ircChannel makes a unique channel name.
func (e *env) ircChannel() string { return "#" + e.unique("chan") }

// testChannelJoinTalk: `join` creates the channel's room with its name,
// topic and the pinned plaintext notice; messages, emotes and notices pass
// both ways with formatting; `part` leaves.
func testChannelJoinTalk(t *testing.T, e *env) {
	u, carol := e.loggedIn(t, netLocal)
	channel := e.ircChannel()
	ircJoin(t, carol, channel)
	topic := "talk about " + e.unique("things")
	carol.Send("TOPIC " + channel + " :" + topic)
	ircWaitCommand(t, carol, "TOPIC", carol.Nick(), channel)

	room := u.joinChannel(t, channel)
	ircWaitCommand(t, carol, "JOIN", u.nick, channel)
	u.waitTopic(t, room, topic)
	pinned := u.notice(t, room, "plaintext on IRC", wait)
	var err error
	var st map[string]any
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if st, err = u.mx.StateEvent(room, "m.room.pinned_events", ""); err == nil {
			break
		}
	}
	if fmt.Sprint(st["pinned"]) != fmt.Sprint([]any{pinned.EventID}) {
		t.Errorf("pinned events %v (%v), want the plaintext notice %s", st["pinned"], err, pinned.EventID)
	}
	// The bridged user is themselves in the room, not their nick's ghost.
	members, err := u.mx.JoinedMembers(room)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m == e.ghost(netLocal, u.nick) {
			t.Errorf("the bridged user's nick has a ghost in the room: %v", members)
		}
	}

	// IRC → Matrix: text, emote, notice, from carol's ghost.
	ghost := e.ghost(netLocal, carol.Nick())
	text := e.text("hello channel")
	carol.Privmsg(channel, text)
	u.fromSender(t, room, ghost, text)
	emote := e.text("waves at the channel")
	carol.Action(channel, emote)
	if ev := u.fromSender(t, room, ghost, emote); ev.MsgType() != "m.emote" {
		t.Errorf("an ACTION arrived as %s", ev.MsgType())
	}
	notice := e.text("channel notice")
	carol.Notice(channel, notice)
	if ev := u.fromSender(t, room, ghost, notice); ev.MsgType() != "m.notice" {
		t.Errorf("a NOTICE arrived as %s", ev.MsgType())
	}

	// Matrix → IRC: text and formatting, emote.
	out := e.text("hello from matrix")
	u.sendPortal(t, room, out)
	if l := ircWaitChannel(t, carol, channel, u.nick); l.Text() != out || l.Command() != "PRIVMSG" {
		t.Errorf("IRC got %s %q, want PRIVMSG %q", l.Command(), l.Text(), out)
	}
	word := e.text("boldword")
	if _, err := u.mx.SendHTML(room, word, "<b>"+word+"</b>"); err != nil {
		t.Fatal(err)
	}
	if l := ircWaitChannel(t, carol, channel, u.nick); !strings.HasPrefix(l.Text(), "\x02"+word) {
		t.Errorf("IRC got %q for bold HTML", l.Text())
	}
	emoteOut := e.text("nods")
	if _, err := u.mx.SendEmote(room, emoteOut); err != nil {
		t.Fatal(err)
	}
	if l := ircWaitChannel(t, carol, channel, u.nick); l.Text() != "\x01ACTION "+emoteOut+"\x01" {
		t.Errorf("IRC got %q for an emote", l.Text())
	}

	// `part` in the control room leaves the channel and the room.
	u.command(t, "part "+channel+" see you")
	if l := ircWaitCommand(t, carol, "PART", u.nick, channel); l.Text() != "see you" {
		t.Errorf("PART reason %q", l.Text())
	}
	u.waitMember(t, room, u.mx.UserID, "leave")
	if r := u.command(t, "channels"); !strings.Contains(r.Body(), "no channel") {
		t.Errorf("channels after part: %q", r.Body())
	}
}

// testChannelBadInput: invalid names and keys, and more channels than the
// limit, get a clear error and nothing on the wire.
func testChannelBadInput(t *testing.T, e *env) {
	u, watcher := e.loggedIn(t, netLocal)
	for _, tc := range []struct{ cmd, want string }{
		{"join nochanprefix", "channel"},
		{"join #a,#b", "channel"},
		{"join #" + strings.Repeat("x", 600), "channel"},
		{"join #ok key\x07bell", "key"},
		{"join #ok a,b", "key"},
	} {
		r := u.command(t, tc.cmd)
		t.Logf("%.40q → %q", tc.cmd, r.Body())
		if !strings.Contains(strings.ToLower(r.Body()), "not joined") || !strings.Contains(strings.ToLower(r.Body()), tc.want) {
			t.Errorf("%.40q: reply %q, want a clear error about the %s", tc.cmd, r.Body(), tc.want)
		}
	}
	// A key with a space is two arguments too many.
	if r := u.command(t, "join #ok key with spaces"); !strings.Contains(r.Body(), "Usage") {
		t.Errorf("a key with spaces: %q", r.Body())
	}
	info, err := whoisChannels(watcher, u.nick)
	if err != nil || info != "" {
		t.Errorf("after bad joins the bridge user is in channels %q (%v), want none", info, err)
	}
}

// whoisChannels returns the channel list WHOIS shows for nick.
func whoisChannels(c *teststack.IRCClient, nick string) (string, error) {
	if err := c.Send("WHOIS " + nick); err != nil {
		return "", err
	}
	chans := ""
	_, err := c.WaitFor(wait, func(l teststack.IRCLine) bool {
		if l.Command() == "319" && strings.EqualFold(l.Param(1), nick) {
			chans = strings.TrimSpace(l.Text())
		}
		return l.Command() == "318"
	})
	return chans, err
}

// channelLimit is the stack's network.channels.max_per_user.
const channelLimit = 4

// testChannelLimit: beyond max_per_user a join is refused with a clear
// error and the server never sees it.
func testChannelLimit(t *testing.T, e *env) {
	u, watcher := e.loggedIn(t, netLocal)
	var joined []string
	for i := 0; i < channelLimit; i++ {
		ch := e.ircChannel()
		u.joinChannel(t, ch)
		joined = append(joined, ch)
	}
	over := e.ircChannel()
	r := u.command(t, "join "+over)
	if !strings.Contains(r.Body(), "Not joined") || !strings.Contains(r.Body(), "max_per_user") {
		t.Errorf("join beyond the limit: %q", r.Body())
	}
	chans, err := whoisChannels(watcher, u.nick)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(chans), strings.ToLower(over)) || len(strings.Fields(chans)) != channelLimit {
		t.Errorf("WHOIS shows %q, want exactly the %d joined channels %v", chans, channelLimit, joined)
	}
	// Parting one makes room again.
	u.command(t, "part "+joined[0])
	u.joinChannel(t, over)
}

// testChannelShared: two bridged users and two IRC users in one channel.
// The room is shared; the bridged users are themselves; a line both
// connections receive appears once; mentions become pills and pills nicks;
// joins, nick changes, parts and quits of IRC members follow.
func testChannelShared(t *testing.T, e *env) {
	alice, carol := e.loggedIn(t, netLocal)
	bob := e.newUser(t, "")
	bob.login(t, netLocal, e.unique("mx"))
	dave := teststack.DialIRC(t, e.irc.Addr(), e.unique("dave"), teststack.IRCClientOptions{})
	channel := e.ircChannel()
	ircJoin(t, carol, channel)
	room := alice.joinChannel(t, channel)
	if r := bob.joinChannel(t, channel); r != room {
		t.Fatalf("bob got room %s, alice %s: one room per channel", r, room)
	}
	ircJoin(t, dave, channel)
	carolGhost, daveGhost := e.ghost(netLocal, carol.Nick()), e.ghost(netLocal, dave.Nick())
	alice.waitMember(t, room, bob.mx.UserID, "join")
	alice.waitMember(t, room, carolGhost, "join")
	alice.waitMember(t, room, daveGhost, "join")
	members, _ := alice.mx.JoinedMembers(room)
	for _, m := range members {
		if m == e.ghost(netLocal, alice.nick) || m == e.ghost(netLocal, bob.nick) {
			t.Errorf("a bridged user's nick has a ghost in the room: %s", m)
		}
	}

	// One line, two bridged connections: one event.
	once := e.text("said once")
	carol.Privmsg(channel, once)
	marker := e.text("marker after it")
	carol.Privmsg(channel, marker)
	alice.fromSender(t, room, carolGhost, marker)
	bob.fromSender(t, room, carolGhost, marker)
	if n := alice.countBody(room, once); n != 1 {
		t.Errorf("a line both bridged connections received appears %d times", n)
	}
	// The same text twice is two lines, not one.
	carol.Privmsg(channel, once)
	carol.Privmsg(channel, marker+" 2")
	alice.fromSender(t, room, carolGhost, marker+" 2")
	if n := alice.countBody(room, once); n != 2 {
		t.Errorf("a line said twice appears %d times", n)
	}
	// A bridged user's message is their Matrix event only: alice's
	// connection sees it on IRC and must not post it again.
	fromBob := e.text("bob from matrix")
	bob.sendPortal(t, room, fromBob)
	if l := ircWaitChannel(t, carol, channel, bob.nick); l.Text() != fromBob {
		t.Errorf("IRC got %q from bob", l.Text())
	}
	carol.Privmsg(channel, marker+" 3")
	alice.fromSender(t, room, carolGhost, marker+" 3")
	if n := alice.countBody(room, fromBob); n != 1 {
		t.Errorf("bob's message appears %d times in the room", n)
	}

	// IRC → Matrix mention: alice's nick highlights alice.
	mention := alice.nick + ": " + e.text("are you there")
	carol.Privmsg(channel, mention)
	ev := alice.fromSender(t, room, carolGhost, mention)
	m, _ := ev.Content["m.mentions"].(map[string]any)
	if ids, _ := m["user_ids"].([]any); len(ids) != 1 || ids[0] != alice.mx.UserID {
		t.Errorf("m.mentions = %v, want alice", ev.Content["m.mentions"])
	}
	if !strings.Contains(ev.HTML(), "https://matrix.to/#/"+alice.mx.UserID) {
		t.Errorf("no pill for alice in %q", ev.HTML())
	}
	// Matrix → IRC: pills become nicks.
	word := e.text("pills")
	html := fmt.Sprintf(`<a href="https://matrix.to/#/%s">Carol (Local IRC)</a> and <a href="https://matrix.to/#/%s">Bob</a>: %s`, carolGhost, bob.mx.UserID, word)
	if _, err := alice.mx.SendHTML(room, "Carol (Local IRC) and Bob: "+word, html); err != nil {
		t.Fatal(err)
	}
	if l := ircWaitChannel(t, dave, channel, alice.nick); l.Text() != carol.Nick()+" and "+bob.nick+": "+word {
		t.Errorf("IRC got %q for pills", l.Text())
	}

	// NICK: the old ghost leaves, the new one joins.
	newNick := e.unique("dave")
	if err := dave.SetNick(newNick); err != nil {
		t.Fatal(err)
	}
	alice.waitMember(t, room, daveGhost, "leave")
	daveGhost = e.ghost(netLocal, newNick)
	alice.waitMember(t, room, daveGhost, "join")
	renamed := e.text("after my nick change")
	dave.Privmsg(channel, renamed)
	alice.fromSender(t, room, daveGhost, renamed)
	// PART and QUIT.
	dave.Send("PART " + channel + " :bye")
	alice.waitMember(t, room, daveGhost, "leave")
	ircJoin(t, dave, channel)
	alice.waitMember(t, room, daveGhost, "join")
	dave.Quit("gone")
	alice.waitMember(t, room, daveGhost, "leave")

	// The last bridged user leaving the room parts the channel on IRC.
	if err := bob.mx.Leave(room); err != nil {
		t.Fatal(err)
	}
	ircWaitCommand(t, carol, "PART", bob.nick, channel)
	// The room goes on for alice.
	still := e.text("still here")
	carol.Privmsg(channel, still)
	alice.fromSender(t, room, carolGhost, still)
}

// testChannelDedupNoMsgid: on a server without IRCv3 msgid nothing names
// a channel line, so bridgev2 cannot drop copies by message ID: the two
// bridged connections' copies of a line must become one event by the
// bridge's own dedup, and the same text said twice on purpose two.
func testChannelDedupNoMsgid(t *testing.T, e *env) {
	alice, carol := e.loggedIn(t, netNoMsgid)
	bob := e.newUser(t, "")
	bob.login(t, netNoMsgid, e.unique("mx"))
	channel := e.ircChannel()
	ircJoin(t, carol, channel)
	room := alice.joinChannel(t, channel)
	if r := bob.joinChannel(t, channel); r != room {
		t.Fatalf("bob got room %s, alice %s: one room per channel", r, room)
	}
	ircWaitCommand(t, carol, "JOIN", bob.nick, channel)
	carolGhost := e.ghost(netNoMsgid, carol.Nick())
	// A sync point after which both connections have read, and handed to
	// the room, every line carol sent before it: carol invites both users
	// to another channel (each connection reads the INVITE after the
	// lines), then a marker line goes through the room queue behind any
	// copy.
	side := e.ircChannel()
	ircJoin(t, carol, side)
	rounds := 0
	caughtUp := func() {
		t.Helper()
		rounds++
		carol.Send("INVITE " + alice.nick + " " + side)
		carol.Send("INVITE " + bob.nick + " " + side)
		alice.replyContaining(t, wait, "invites you to "+side)
		bob.replyContaining(t, wait, "invites you to "+side)
		marker := e.text(fmt.Sprintf("marker %d", rounds))
		carol.Privmsg(channel, marker)
		alice.fromSender(t, room, carolGhost, marker)
	}

	once := e.text("said once without msgid")
	carol.Privmsg(channel, once)
	caughtUp()
	if n := alice.countBody(room, once); n != 1 {
		t.Errorf("a line both bridged connections received appears %d times", n)
	}
	twice := e.text("said twice without msgid")
	carol.Privmsg(channel, twice)
	carol.Privmsg(channel, twice)
	caughtUp()
	if n := alice.countBody(room, twice); n != 2 {
		t.Errorf("a line said twice appears %d times", n)
	}
}

// testChannelOps: membership modes become power levels; topic, kick and ban
// work both ways for who has the IRC privilege; an IRC INVITE becomes a
// Matrix invite; the server's refusals (+m, a ban) fail the Matrix message
// with the reason.
func testChannelOps(t *testing.T, e *env) {
	alice, carol := e.loggedIn(t, netLocal)
	bob := e.newUser(t, "")
	bob.login(t, netLocal, e.unique("mx"))
	dave := teststack.DialIRC(t, e.irc.Addr(), e.unique("dave"), teststack.IRCClientOptions{})
	channel := e.ircChannel()
	ircJoin(t, carol, channel) // carol creates the channel: its operator
	room := alice.joinChannel(t, channel)
	ircJoin(t, dave, channel)
	if r := bob.joinChannel(t, channel); r != room {
		t.Fatalf("two rooms for one channel")
	}
	carolGhost, daveGhost := e.ghost(netLocal, carol.Nick()), e.ghost(netLocal, dave.Nick())
	alice.waitMember(t, room, carolGhost, "join")
	alice.waitMember(t, room, daveGhost, "join")

	// Membership modes → power levels, for ghosts and bridged users.
	alice.waitPowerLevel(t, room, carolGhost, 50)
	carol.Send("MODE " + channel + " +v " + dave.Nick())
	alice.waitPowerLevel(t, room, daveGhost, 10)
	carol.Send("MODE " + channel + " +o " + alice.nick)
	alice.waitPowerLevel(t, room, alice.mx.UserID, 50)
	carol.Send("MODE " + channel + " -v " + dave.Nick())
	alice.waitPowerLevel(t, room, daveGhost, 0)

	// Topic both ways.
	topic := "irc topic " + e.unique("t")
	carol.Send("TOPIC " + channel + " :" + topic)
	alice.waitTopic(t, room, topic)
	mxTopic := "matrix topic " + e.unique("t")
	if err := alice.mx.Do("PUT", "/_matrix/client/v3/rooms/"+room+"/state/m.room.topic", map[string]any{"topic": mxTopic}, nil); err != nil {
		t.Fatal(err)
	}
	if l := ircWaitCommand(t, carol, "TOPIC", alice.nick, channel); l.Text() != mxTopic {
		t.Errorf("IRC topic %q, want %q", l.Text(), mxTopic)
	}
	// bob has no privilege: under +t the server refuses, the room keeps
	// the IRC topic.
	if err := bob.mx.Do("PUT", "/_matrix/client/v3/rooms/"+room+"/state/m.room.topic", map[string]any{"topic": "not allowed"}, nil); err == nil {
		t.Error("the homeserver let bob (power 0) set the topic of a +t channel")
	}

	// +m: bob (no voice) cannot speak; the message fails with the reason.
	carol.Send("MODE " + channel + " +m")
	bob.notice(t, room, "+m", wait)
	id := bob.sendPortal(t, room, e.text("muted"))
	if st := bob.sendStatus(t, room, id); st.Str("status") == "SUCCESS" {
		t.Errorf("a message into +m without voice reported %s", st.Str("status"))
	}
	bob.notice(t, room, "404", wait)
	carol.Send("MODE " + channel + " -m")

	// IRC KICK of a member: the ghost leaves, the reason is a notice
	// (membership events are never encrypted).
	carol.Send("KICK " + channel + " " + dave.Nick() + " :" + "no spam")
	ev := alice.waitMember(t, room, daveGhost, "leave")
	if r := ev.Str("reason"); !strings.Contains(r, "kicked by "+carol.Nick()) || strings.Contains(r, "spam") {
		t.Errorf("the ghost's leave reason %q: want the kicker, and no IRC text", r)
	}
	alice.notice(t, room, "kicked "+dave.Nick(), wait)
	ircJoin(t, dave, channel)
	alice.waitMember(t, room, daveGhost, "join")

	// Kick from Matrix (alice is an operator) → KICK on IRC.
	if err := alice.mx.Do("POST", "/_matrix/client/v3/rooms/"+room+"/kick", map[string]any{"user_id": daveGhost, "reason": "behave"}, nil); err != nil {
		t.Fatal(err)
	}
	if l := ircWaitCommand(t, carol, "KICK", alice.nick, channel); !strings.EqualFold(l.Param(1), dave.Nick()) || l.Text() != "behave" {
		t.Errorf("KICK %q :%q", l.Param(1), l.Text())
	}
	// Ban from Matrix → MODE +b and KICK.
	ircJoin(t, dave, channel)
	alice.waitMember(t, room, daveGhost, "join")
	if err := alice.mx.Do("POST", "/_matrix/client/v3/rooms/"+room+"/ban", map[string]any{"user_id": daveGhost, "reason": "enough"}, nil); err != nil {
		t.Fatal(err)
	}
	l := ircWaitCommand(t, carol, "MODE", alice.nick, channel)
	if l.Param(1) != "+b" || !strings.HasPrefix(l.Param(2), "*!*@") {
		t.Errorf("ban MODE %v", l.Msg.Params)
	}
	mask := l.Param(2)
	ircWaitCommand(t, carol, "KICK", alice.nick, channel)
	// Unban from Matrix → MODE -b of the mask the ban set (dave is no
	// longer in the channel, so the bridge cannot recompute it); dave can
	// come back.
	if err := alice.mx.Do("POST", "/_matrix/client/v3/rooms/"+room+"/unban", map[string]any{"user_id": daveGhost}, nil); err != nil {
		t.Fatal(err)
	}
	if l := ircWaitCommand(t, carol, "MODE", alice.nick, channel); l.Param(1) != "-b" || l.Param(2) != mask {
		t.Errorf("unban MODE %v, want -b %s", l.Msg.Params, mask)
	}
	ircJoin(t, dave, channel)
	alice.waitMember(t, room, daveGhost, "join")

	// IRC KICK of bob: he leaves the room and is told how to come back.
	carol.Send("KICK " + channel + " " + bob.nick + " :out")
	ev = alice.waitMember(t, room, bob.mx.UserID, "leave")
	if r := ev.Str("reason"); !strings.Contains(r, "Kicked") || !strings.Contains(r, carol.Nick()) {
		t.Errorf("bob's leave reason %q", r)
	}
	if r := bob.replyContaining(t, wait, "kicked you from "+channel); !strings.Contains(r.Body(), "(out)") {
		t.Errorf("the control room notice %q does not give the reason", r.Body())
	}
	// An IRC INVITE becomes a Matrix invite; accepting it joins.
	carol.Send("INVITE " + bob.nick + " " + channel)
	alice.waitMembership(t, room, bob.mx.UserID, "invite")
	bob.replyContaining(t, wait, "accept the invite")
	if err := bob.mx.Join(room); err != nil {
		t.Fatal(err)
	}
	ircWaitCommand(t, carol, "JOIN", bob.nick, channel)

	// A ban of bob on IRC: his message fails with the server's reason.
	carol.Send("MODE " + channel + " +b " + bob.nick + "!*@*")
	ircWaitCommand(t, carol, "MODE", carol.Nick(), channel)
	id = bob.sendPortal(t, room, e.text("banned"))
	if st := bob.sendStatus(t, room, id); st.Str("status") == "SUCCESS" {
		t.Errorf("a message from a banned user reported %s", st.Str("status"))
	}

	// `!otr part` in the channel's room parts the channel.
	if _, err := alice.mx.SendText(room, "!otr part done here"); err != nil {
		t.Fatal(err)
	}
	if l := ircWaitCommand(t, carol, "PART", alice.nick, channel); l.Text() != "done here" {
		t.Errorf("PART reason %q", l.Text())
	}
	alice.waitMember(t, room, alice.mx.UserID, "leave")
}

// testChannelRestartRejoin: the stored channel list brings the user back
// into the channel after a bridge restart, in the same room, with its key.
func testChannelRestartRejoin(t *testing.T, e *env) {
	u, carol := e.loggedIn(t, netLocal)
	channel := e.ircChannel()
	ircJoin(t, carol, channel)
	key := "k" + e.unique("key")
	carol.Send("MODE " + channel + " +k " + key)
	ircWaitCommand(t, carol, "MODE", carol.Nick(), channel)
	id := u.say(t, "join "+channel+" "+key)
	u.replyTo(t, id, "Joined "+channel, longWait)
	room := u.acceptChannelInvite(t, channel)
	ircWaitCommand(t, carol, "JOIN", u.nick, channel)

	e.bridge.Restart(t)
	// The server may not have seen the old connection go yet: the new one
	// then registers as nick_ until it can take its nick back.
	l, err := carol.WaitFor(longWait, func(l teststack.IRCLine) bool {
		return l.Command() == "JOIN" && strings.HasPrefix(strings.ToLower(l.From()), strings.ToLower(u.nick)) &&
			strings.EqualFold(l.Param(0), channel)
	})
	if err != nil {
		t.Fatalf("the bridge did not rejoin %s after its restart: %v", channel, err)
	}
	text := e.text("after the restart")
	carol.Privmsg(channel, text)
	u.fromSender(t, room, e.ghost(netLocal, carol.Nick()), text)
	back := e.text("back in the channel")
	u.sendPortal(t, room, back)
	got, err := carol.WaitFor(wait, func(m teststack.IRCLine) bool {
		return m.Command() == "PRIVMSG" && strings.EqualFold(m.Param(0), channel) &&
			strings.HasPrefix(strings.ToLower(m.From()), strings.ToLower(u.nick))
	})
	if err != nil || got.Text() != back {
		t.Errorf("IRC got %q (%v) from %s, want %q", got.Text(), err, l.From(), back)
	}
	// The key is stored sealed, never in plain text.
	e.remember(key)
}
