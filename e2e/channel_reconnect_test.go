package e2e

import (
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// testChannelReconnectRejoin: the server drops the bridged user's
// connection (an oper's KILL, a transient loss for the bridge) while she is
// in a channel with a key; meanwhile an IRC member parts. The bridge
// reconnects by itself and rejoins with the stored key, the departed
// member's ghost leaves the room (nobody else reported the PART: the room
// follows from the fresh member list), and the channel's lines arrive
// again.
func testChannelReconnectRejoin(t *testing.T, e *env) {
	u, carol := e.loggedIn(t, netLocal)
	bob := teststack.DialIRC(t, e.ircFor(netLocal).Addr(), e.unique("bob"), teststack.IRCClientOptions{})
	channel := e.ircChannel()
	ircJoin(t, carol, channel)
	key := "k" + e.unique("key")
	e.remember(key)
	carol.Send("MODE " + channel + " +k " + key)
	ircWaitCommand(t, carol, "MODE", carol.Nick(), channel)
	bob.Send("JOIN " + channel + " " + key)
	ircWaitCommand(t, carol, "JOIN", bob.Nick(), channel)

	id := u.say(t, "join "+channel+" "+key)
	u.replyTo(t, id, "Joined "+channel, longWait)
	room := u.acceptChannelInvite(t, channel)
	ircWaitCommand(t, carol, "JOIN", u.nick, channel)
	bobGhost := e.ghost(netLocal, bob.Nick())
	before := e.text("bob before the connection drops")
	bob.Privmsg(channel, before)
	u.fromSender(t, room, bobGhost, before)
	u.waitMembership(t, room, bobGhost, "join")

	// The server drops the bridge's connection; bob parts while it is away.
	op := e.oper(t, u)
	if err := op.Send("KILL " + u.nick + " :connection reset for a test"); err != nil {
		t.Fatal(err)
	}
	isSelf := func(l teststack.IRCLine) bool {
		return strings.HasPrefix(strings.ToLower(l.From()), strings.ToLower(u.nick))
	}
	if _, err := carol.WaitFor(wait, func(l teststack.IRCLine) bool { return l.Command() == "QUIT" && isSelf(l) }); err != nil {
		t.Fatalf("the server did not drop %s: %v", u.nick, err)
	}
	bob.Send("PART " + channel + " :gone while the bridge was away")
	ircWaitCommand(t, carol, "PART", bob.Nick(), channel)
	// The bridge waits at least a second before reconnecting: the PART
	// must have come first, or this tests the ordinary PART instead.
	if joinAfterQuit(carol, u.nick) {
		t.Fatal("the bridge rejoined before bob parted: the scenario did not happen as intended")
	}

	// It reconnects and rejoins; +k refuses a JOIN without the key.
	if _, err := carol.WaitFor(longWait, func(l teststack.IRCLine) bool {
		return l.Command() == "JOIN" && isSelf(l) && strings.EqualFold(l.Param(0), channel)
	}); err != nil {
		t.Fatalf("the bridge did not rejoin %s after its connection dropped: %v\ncontrol room:%s", channel, err, u.controlTranscript())
	}
	u.waitMembership(t, room, bobGhost, "leave")

	after := e.text("carol after the rejoin")
	carol.Privmsg(channel, after)
	u.fromSender(t, room, e.ghost(netLocal, carol.Nick()), after)
	back := e.text("alice back in the channel")
	u.sendPortal(t, room, back)
	if got := ircWaitChannel(t, carol, channel, u.nick); got.Text() != back {
		t.Errorf("IRC got %q from %s, want %q", got.Text(), u.nick, back)
	}
}

// joinAfterQuit reports whether c saw nick JOIN after nick's last QUIT.
func joinAfterQuit(c *teststack.IRCClient, nick string) bool {
	quit := -1
	lines := c.Lines()
	for i, l := range lines {
		if l.Command() == "QUIT" && strings.EqualFold(l.From(), nick) {
			quit = i
		}
	}
	for _, l := range lines[quit+1:] {
		if l.Command() == "JOIN" && strings.HasPrefix(strings.ToLower(l.From()), strings.ToLower(nick)) {
			return true
		}
	}
	return false
}
