package bridge

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// memberConn is a connection in one channel with a fixed member list.
type memberConn struct {
	fakeConn
	mu sync.Mutex
	ch ircconn.Channel
}

func (m *memberConn) ISupport() ircconn.ISupport {
	return ircconn.ISupport{Casemapping: ircconn.RFC1459, ChanTypes: "#", PrefixModes: "ov", PrefixSymbols: "@+"}
}

func (m *memberConn) Channel(string) (ircconn.Channel, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := m.ch
	ch.Members = slices.Clone(m.ch.Members)
	return ch, true
}

// ghostRoom is a channel room whose observer is a login with a memberConn;
// the events the room hands to bridgev2 are recorded, not sent.
type ghostRoom struct {
	h      *channelHub
	r      *channelRoom
	obs    *IRCClient
	events []bridgev2.RemoteEvent
}

func newGhostRoom(t *testing.T, cc ChannelsConfig, members ...ircconn.Member) *ghostRoom {
	t.Helper()
	h := testHub(t)
	if err := cc.validate(); err != nil {
		t.Fatal(err)
	}
	h.ic.Config.Channels = cc
	g := &ghostRoom{h: h}
	h.queueRemote = func(_ *IRCClient, evt bridgev2.RemoteEvent) bridgev2.EventHandlingResult {
		g.events = append(g.events, evt)
		return bridgev2.EventHandlingResultQueued
	}
	var conn ircConn = &memberConn{ch: ircconn.Channel{Name: "#big", Members: members, Count: len(members), Synced: true}}
	g.obs = testClient("local/@a:x", "@a:x")
	g.obs.ic = h.ic
	g.obs.connOnce.Do(func() {})
	g.obs.conn.Store(&conn)
	g.r = h.room("local", "#big")
	g.r.setMember(g.obs, "#big", true)
	g.r.st.loaded = true
	return g
}

// take returns the events recorded since the last call.
func (g *ghostRoom) take() []bridgev2.RemoteEvent {
	out := g.events
	g.events = nil
	return out
}

// ghostsJoined lists the nicks (casemapped, from the ghost IDs) that the
// events add to the room, in event order, sorted within one event.
func ghostsJoined(t *testing.T, events []bridgev2.RemoteEvent) []string {
	t.Helper()
	var out []string
	for _, evt := range events {
		ic, ok := evt.(*simplevent.ChatInfoChange)
		if !ok || ic.ChatInfoChange.MemberChanges == nil {
			continue
		}
		var batch []string
		for uid, m := range ic.ChatInfoChange.MemberChanges.MemberMap {
			if m.Membership == event.MembershipJoin {
				batch = append(batch, ghostNick(t, uid))
			}
		}
		slices.Sort(batch)
		out = append(out, batch...)
	}
	return out
}

func ghostNick(t *testing.T, uid networkid.UserID) string {
	t.Helper()
	_, folded, ok := parseUserID(uid)
	if !ok {
		t.Fatalf("not a ghost ID: %s", uid)
	}
	return folded
}

// roomNotices returns the texts of the bridge notices among events.
func roomNotices(events []bridgev2.RemoteEvent) []string {
	var out []string
	for _, evt := range events {
		if m, ok := evt.(*simplevent.Message[string]); ok && strings.HasPrefix(string(m.ID), "notice:") {
			out = append(out, m.Data)
		}
	}
	return out
}

// postedLines returns the channel lines among events.
func postedLines(events []bridgev2.RemoteEvent) []*simplevent.Message[channelLine] {
	var out []*simplevent.Message[channelLine]
	for _, evt := range events {
		if m, ok := evt.(*simplevent.Message[channelLine]); ok {
			out = append(out, m)
		}
	}
	return out
}

// fillOnce waits (in simulated time) for the filler's timer and runs it.
func (g *ghostRoom) fillOnce(t *testing.T, ctx context.Context) {
	t.Helper()
	c := g.r.st.fillC()
	if c == nil {
		t.Fatal("the filler is not scheduled")
	}
	<-c
	g.r.fillMembers(ctx)
}

// With the ghost budget spent, a member who speaks gets no ghost now: the
// line is posted by the bot with the nick in front, and the speaker is the
// next to get a ghost once the budget allows, after the operators and
// before the members who only wait.
func TestChannelSpeakerWithoutBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		g := newGhostRoom(t, ChannelsConfig{GhostsPerSecond: 1, GhostBurst: 1},
			ircconn.Member{Nick: "dave"}, ircconn.Member{Nick: "erin"}, ircconn.Member{Nick: "Carol", Prefixes: "@"}, ircconn.Member{Nick: "Frank"})
		for _, m := range []struct {
			nick  string
			level int
		}{{"dave", 0}, {"erin", 0}, {"Carol", powerOperator}, {"Frank", 0}} {
			g.r.st.addPending(g.obs.fold(m.nick), m.nick, m.level)
		}
		budget := g.h.budget("local")
		if !budget.Allow() {
			t.Fatal("a fresh budget has no token")
		}

		for _, text := range []string{"hello from a stranger", "and again"} {
			g.r.postLine(ctx, g.obs, channelLine{Kind: ircconn.Privmsg, Nick: "Frank", Text: text, Fold: g.obs.fold}, "", time.Now())
		}
		events := g.take()
		if got := ghostsJoined(t, events); len(got) != 0 {
			t.Fatalf("ghosts %v made with the budget spent", got)
		}
		lines := postedLines(events)
		if len(lines) != 2 {
			t.Fatalf("%d lines posted, want 2: a line is never dropped", len(lines))
		}
		for _, l := range lines {
			if l.Sender.Sender != "" || !l.Data.Relay {
				t.Fatalf("line from %q (relay %v), want the bot relaying it", l.Sender.Sender, l.Data.Relay)
			}
		}
		conv, err := convertChannelLine(ctx, nil, nil, lines[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if body := conv.Parts[0].Content.Body; body != "<Frank> hello from a stranger" {
			t.Errorf("relayed body %q, want the nick in front", body)
		}

		// The filler waits for the budget, one ghost per token.
		g.r.fillMembers(ctx)
		if got := ghostsJoined(t, g.take()); len(got) != 0 {
			t.Fatalf("the filler made ghosts %v without budget", got)
		}
		var order []string
		for g.r.st.hasPending() {
			g.fillOnce(t, ctx)
			got := ghostsJoined(t, g.take())
			if len(got) != 1 {
				t.Fatalf("one token gave ghosts %v, want one", got)
			}
			order = append(order, got...)
		}
		if want := []string{"carol", "frank", "dave", "erin"}; !slices.Equal(order, want) {
			t.Errorf("ghosts made in the order %v, want %v (operators, then whoever spoke, then by arrival)", order, want)
		}

		// Now Frank has a ghost: his lines come from it.
		g.r.postLine(ctx, g.obs, channelLine{Kind: ircconn.Privmsg, Nick: "frank", Text: "hi", Fold: g.obs.fold}, "", time.Now())
		lines = postedLines(g.take())
		if len(lines) != 1 || lines[0].Data.Relay || ghostNick(t, lines[0].Sender.Sender) != "frank" {
			t.Errorf("after his ghost joined the line is not from it: %+v", lines)
		}
	})
}

// At channels.max_room_members the filler stops and says so once; a member
// who speaks then is relayed by the bot without spending the budget, and is
// the first to get the place someone leaving frees.
func TestChannelMemberCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		g := newGhostRoom(t, ChannelsConfig{MaxRoomMembers: 2, InitialMembers: 2, GhostsPerSecond: 5, GhostBurst: 20},
			ircconn.Member{Nick: "a1"}, ircconn.Member{Nick: "a2"}, ircconn.Member{Nick: "a3"}, ircconn.Member{Nick: "a4"}, ircconn.Member{Nick: "talker"})
		for _, n := range []string{"a1", "a2", "a3", "a4"} {
			g.r.memberJoined(g.obs, n)
		}
		g.fillOnce(t, ctx)
		events := g.take()
		if got := ghostsJoined(t, events); !slices.Equal(got, []string{"a1", "a2"}) {
			t.Fatalf("ghosts %v, want the first two up to the cap", got)
		}
		if n := roomNotices(events); len(n) != 1 || !strings.Contains(n[0], "more members than this bridge shows (2)") {
			t.Fatalf("notices %q, want one about the cap", n)
		}
		if g.r.st.fillC() != nil {
			t.Error("the filler is still scheduled at the cap")
		}

		// More members and more fills: no second notice.
		g.r.memberJoined(g.obs, "talker")
		g.fillOnce(t, ctx)
		g.r.memberJoined(g.obs, "a5")
		g.fillOnce(t, ctx)
		events = g.take()
		if got, n := ghostsJoined(t, events), roomNotices(events); len(got) != 0 || len(n) != 0 {
			t.Fatalf("at the cap: ghosts %v, notices %q", got, n)
		}

		tokens := g.h.budget("local").Tokens()
		g.r.postLine(ctx, g.obs, channelLine{Kind: ircconn.Privmsg, Nick: "talker", Text: "anyone?", Fold: g.obs.fold}, "", time.Now())
		lines := postedLines(g.take())
		if len(lines) != 1 || !lines[0].Data.Relay || lines[0].Sender.Sender != "" {
			t.Fatalf("the line at the cap: %+v, want it relayed by the bot", lines)
		}
		if left := g.h.budget("local").Tokens(); left < tokens {
			t.Errorf("a relayed line at the cap spent the ghost budget (%v → %v tokens)", tokens, left)
		}

		// a1 parts: its ghost leaves and the speaker takes the place.
		g.r.memberGone(ctx, g.obs, "a1", "", "", "")
		g.fillOnce(t, ctx)
		if got := ghostsJoined(t, g.take()); !slices.Equal(got, []string{"talker"}) {
			t.Errorf("the freed place went to %v, want the member who spoke", got)
		}
	})
}

// A new room starts with the ghosts the budget allows, operators and
// voiced members first, never the bridged users; the rest wait and the
// filler is scheduled.
func TestChannelInitialMembersBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		members := []ircconn.Member{{Nick: "alice", Prefixes: "@"}, {Nick: "bob"}, {Nick: "carol", Prefixes: "+"}, {Nick: "dave", Prefixes: "@"}, {Nick: "erin"}}
		g := newGhostRoom(t, ChannelsConfig{InitialMembers: 10, GhostsPerSecond: 1, GhostBurst: 2}, members...)
		g.h.setOwnNick(g.obs, "alice") // alice is the bridged user herself
		ch, is, _ := g.r.snapshot(g.obs)
		list := &bridgev2.ChatMemberList{MemberMap: bridgev2.ChatMemberMap{}}
		levels := map[id.UserID]int{}
		g.r.initialMembers(ctx, g.obs, ch, is, list, levels)
		var got []string
		for uid := range list.MemberMap {
			got = append(got, ghostNick(t, uid))
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"carol", "dave"}) {
			t.Errorf("initial ghosts %v, want the operator and the voiced member (budget 2)", got)
		}
		if levels[g.obs.login.UserMXID] != powerOperator {
			t.Errorf("the bridged user's level %d, want operator", levels[g.obs.login.UserMXID])
		}
		if len(g.r.st.pending) != 2 || g.r.st.fillC() == nil {
			t.Errorf("%d members waiting (want bob and erin), filler scheduled: %v", len(g.r.st.pending), g.r.st.fillC() != nil)
		}
	})
}
