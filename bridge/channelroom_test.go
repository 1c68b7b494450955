package bridge

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// testHub is a channel hub without a homeserver, for the in-memory parts.
func testHub(t *testing.T) *channelHub {
	t.Helper()
	ic := &IRCConnector{Bridge: &bridgev2.Bridge{Log: zerolog.Nop()}}
	ic.Config.Channels.validate()
	return newChannelHub(ic)
}

// testClient is a login on network "local" without a connection.
func testClient(loginID, mxid string) *IRCClient {
	return &IRCClient{
		login: &bridgev2.UserLogin{UserLogin: &database.UserLogin{ID: networkid.UserLoginID(loginID), UserMXID: id.UserID(mxid)}},
		meta:  &LoginMetadata{Network: "local", Nick: loginID},
	}
}

func TestChannelObserver(t *testing.T) {
	h := testHub(t)
	r := h.room("local", "#otr")
	a, b := testClient("local/@a:x", "@a:x"), testClient("local/@b:x", "@b:x")

	// A member is not the observer before its member list arrived.
	if obs, changed := r.setMember(b, "#OTR", false); obs != nil || changed {
		t.Fatalf("observer %v before anyone is in the channel", obs)
	}
	if obs, changed := r.setMember(b, "", true); obs != b || !changed {
		t.Fatal("the only member in the channel is not the observer")
	}
	if r.channelName() != "#OTR" {
		t.Errorf("name %q, want the server's spelling", r.channelName())
	}
	// The lowest login ID observes; a higher one joining changes nothing.
	if _, changed := r.setMember(a, "", true); !changed || !r.isObserver(a) {
		t.Fatal("the lowest login ID did not become the observer")
	}
	// Its connection drops: the next one takes over, it stays a member.
	if obs, changed := r.setMember(a, "", false); obs != b || !changed || !r.isMember(a) || r.inChannel(a) {
		t.Fatal("failover to the next member failed")
	}
	if obs, changed := r.removeMember(b); obs != nil || !changed {
		t.Fatal("after the last connection left there must be no observer")
	}
	if got := h.roomsOf(a); len(got) != 1 || got[0] != r {
		t.Errorf("roomsOf = %v", got)
	}
}

func TestChannelOwnNicks(t *testing.T) {
	h := testHub(t)
	a := testClient("local/@a:x", "@a:x")
	h.setOwnNick(a, "alice")
	if h.bridgedNick("local", "alice") != a || h.bridgedNick("other", "alice") != nil {
		t.Fatal("own nick not recorded per network")
	}
	h.setOwnNick(a, "alice2")
	if h.bridgedNick("local", "alice") != nil || h.bridgedNick("local", "alice2") != a {
		t.Fatal("the old nick stayed a bridged user's after a rename")
	}
	// Someone else's entry is not removed by a's change.
	b := testClient("local/@b:x", "@b:x")
	h.setOwnNick(b, "bob")
	h.setOwnNick(a, "")
	if h.bridgedNick("local", "alice2") != nil || h.bridgedNick("local", "bob") != b {
		t.Fatal("disconnecting a changed another login's nick")
	}
}

func TestChannelBridgedMembers(t *testing.T) {
	h := testHub(t)
	r := h.room("local", "#otr")
	a, b := testClient("local/@a:x", "@a:x"), testClient("local/@b:x", "@b:x")
	r.setMember(a, "#otr", true)
	r.setMember(b, "#otr", false)
	got := r.bridgedMembers()
	if len(got) != 1 || got[a.fold(a.ownNick())] != "@a:x" {
		t.Errorf("bridgedMembers = %v, want only the member in the channel", got)
	}
}

// The IRC reader never waits: a full room queue refuses at once and
// counts what it refused.
func TestChannelEnqueueNeverBlocks(t *testing.T) {
	h := testHub(t)
	r := h.room("local", "#otr")
	r.working = true // no worker drains the queue
	c := testClient("local/@a:x", "@a:x")
	start := time.Now()
	for i := 0; i < roomQueueSize+500; i++ {
		r.enqueue(c, "line", func(context.Context) {})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("enqueueing into a full queue took %s", d)
	}
	if r.dropped != 500 || len(r.queue) != roomQueueSize {
		t.Errorf("dropped %d, queued %d", r.dropped, len(r.queue))
	}
}

func TestChannelLineDedupPerRoom(t *testing.T) {
	h := testHub(t)
	r := h.room("local", "#otr")
	a, b := testClient("local/@a:x", "@a:x"), testClient("local/@b:x", "@b:x")
	if !r.fresh(a, "", "carol", ircconn.Privmsg, "hi") || r.fresh(b, "", "carol", ircconn.Privmsg, "hi") {
		t.Fatal("the second connection's copy was not recognised")
	}
	// b reconnects: its copies count afresh without repeating a's line.
	r.setMember(b, "#otr", true)
	r.setMember(b, "", false)
	if r.fresh(b, "", "carol", ircconn.Privmsg, "hi") {
		t.Fatal("after a reconnect a copy was taken for a new line")
	}
}

// Invite notices are bounded per login; the ones beyond are counted and
// the next notice says how many.
func TestInviteNoticeBudget(t *testing.T) {
	h := testHub(t)
	c := testClient("local/@a:x", "@a:x")
	shown := 0
	for i := 0; i < 10; i++ {
		if ok, _ := h.inviteNotice(c); ok {
			shown++
		}
	}
	if shown != 3 {
		t.Fatalf("%d of 10 invites shown at once, want the burst of 3", shown)
	}
	// A token more, as after the wait.
	b := h.invites.per[string(c.login.ID)]
	b.lim = rate.NewLimiter(rate.Every(inviteNoticeEvery), 1)
	if ok, missed := h.inviteNotice(c); !ok || missed != 7 {
		t.Errorf("next notice: %v, %d missed; want the 7 in between", ok, missed)
	}
	if ok, _ := h.inviteNotice(testClient("local/@b:x", "@b:x")); !ok {
		t.Error("another login's budget was spent")
	}
}
