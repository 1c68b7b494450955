package bridge

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// fakeConn records raw lines and the watch list; everything else is inert.
type fakeConn struct {
	channelConn // channel operations: unused by these tests
	mu          sync.Mutex
	raw         []string
	watched     []string
	// limit is what WatchLimit reports (0: maxPresenceWatched).
	limit int
}

func (f *fakeConn) Start()            {}
func (f *fakeConn) Disconnect(string) {}
func (f *fakeConn) Reconnect()        {}
func (f *fakeConn) Close()            {}
func (f *fakeConn) Send(context.Context, string, ircconn.Kind, []string) (ircconn.Receipt, error) {
	return ircconn.Receipt{}, nil
}
func (f *fakeConn) SendWith(context.Context, string, ircconn.Kind, []string, ircconn.SendOptions) (ircconn.Receipt, error) {
	return ircconn.Receipt{}, nil
}
func (f *fakeConn) SetNick(context.Context, string) error { return nil }
func (f *fakeConn) Whois(context.Context, string) (ircconn.WhoisInfo, error) {
	return ircconn.WhoisInfo{}, nil
}
func (f *fakeConn) Raw(_ context.Context, line string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.raw = append(f.raw, line)
	return nil
}
func (f *fakeConn) Watch(nicks ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range nicks {
		if !slices.Contains(f.watched, n) {
			f.watched = append(f.watched, n)
		}
	}
	return nil
}
func (f *fakeConn) Unwatch(nicks ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watched = slices.DeleteFunc(f.watched, func(n string) bool { return slices.Contains(nicks, n) })
}
func (f *fakeConn) WatchLimit() int {
	if f.limit > 0 {
		return f.limit
	}
	return maxPresenceWatched
}
func (f *fakeConn) State() ircconn.State                { return ircconn.Connected }
func (f *fakeConn) Nick() string                        { return "me" }
func (f *fakeConn) LineBudget(string, ircconn.Kind) int { return 400 }
func (f *fakeConn) Casefold(s string) string            { return ircconn.RFC1459.Fold(s) }
func (f *fakeConn) HasCap(string) bool                  { return false }
func (f *fakeConn) QueueLen() (int, int)                { return 0, 0 }
func (f *fakeConn) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.raw...)
}
func (f *fakeConn) watchList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(slices.Values(f.watched))
}

type watchNotice struct {
	uid  networkid.UserID
	text string
}

func watchWithFake(t *testing.T) (*nickWatch, *fakeConn, *[]watchNotice) {
	t.Helper()
	fc := &fakeConn{}
	c := &IRCClient{aliases: map[string]networkid.UserID{}}
	var conn ircConn = fc
	c.conn.Store(&conn)
	w := newNickWatch(c)
	var notices []watchNotice
	w.notice = func(_ context.Context, uid networkid.UserID, text string) {
		notices = append(notices, watchNotice{uid, text})
	}
	w.hasChat = func(_ context.Context, nick string) bool { return strings.EqualFold(nick, "carol") }
	w.left = func(context.Context, networkid.UserID, string) {}
	w.restarted = func() []networkid.UserID { return nil }
	return w, fc, &notices
}

// A peer that goes offline is reported in its chat; one user found by WHO
// with its user name and host is only suggested (with the command that
// follows it and what services say about the accounts), never followed.
func TestNickWatchSuggestsNeverFollows(t *testing.T) {
	ctx := context.Background()
	w, fc, notices := watchWithFake(t)
	w.seen("local.bob", "Bob", "~bob", "host.example", "bobacct")
	w.seen("local.dave", "dave", "dave", "other.example", "")
	if got := fc.watchList(); !slices.Equal(got, []string{"Bob", "dave"}) {
		t.Fatalf("watched %q", got)
	}
	w.offline(ctx, "BOB", "")
	got := fc.lines()
	if len(got) != 1 || got[0] != "WHO ~bob u%tuhna,"+whoToken {
		t.Fatalf("after offline: %q", got)
	}
	if len(*notices) != 1 || !strings.Contains((*notices)[0].text, "no longer on IRC") {
		t.Fatalf("notices %v", *notices)
	}
	// MONITOR's report and the QUIT of one departure: one notice.
	w.offline(ctx, "Bob", "quit: bye")
	if len(*notices) != 1 || len(fc.lines()) != 1 {
		t.Fatalf("the second report of one departure did something: %v %q", *notices, fc.lines())
	}
	// One user with the same user name and host, one with another host.
	w.handleNumeric(ctx, ircconn.Numeric{Code: "354", Params: []string{"me", whoToken, "~bob", "HOST.example", "mallory", "0"}})
	w.handleNumeric(ctx, ircconn.Numeric{Code: "354", Params: []string{"me", whoToken, "~bob", "elsewhere", "impostor", "0"}})
	if !w.handleNumeric(ctx, ircconn.Numeric{Code: "315", Params: []string{"me", "~bob", "End of /WHO list."}}) {
		t.Fatal("end of WHO not consumed")
	}
	if len(*notices) != 2 {
		t.Fatalf("no suggestion: %v", *notices)
	}
	s := (*notices)[1]
	for _, want := range []string{"might now be mallory", "guess", "follow mallory", `identified to services as "bobacct"; mallory is not identified`} {
		if s.uid != "local.bob" || !strings.Contains(s.text, want) {
			t.Errorf("suggestion lacks %q: %s", want, s.text)
		}
	}
	if p := w.peers["local.bob"]; p.nick != "Bob" {
		t.Errorf("the peer's nick changed to %s on a guess", p.nick)
	}
	// Back online: told once, without claiming it is the same person,
	// and the watch did not move.
	w.online(ctx, "bob")
	if len(*notices) != 3 || !strings.Contains((*notices)[2].text, "Someone has the nick bob again") || strings.Contains((*notices)[2].text, "bob is on IRC") {
		t.Fatalf("notices %v", *notices)
	}
	if got := fc.watchList(); !slices.Equal(got, []string{"Bob", "dave"}) {
		t.Fatalf("watched %q", got)
	}
}

// No suggestion for a first report, nobody found, two users found, the
// same nick, or a nick the user has a chat with.
func TestNickWatchDoesNotGuess(t *testing.T) {
	ctx := context.Background()
	for name, matches := range map[string][]string{"gone": nil, "ambiguous": {"b1", "b2"}, "same nick": {"bob"}, "has a chat": {"Carol"}} {
		w, _, notices := watchWithFake(t)
		w.seen("local.bob", "bob", "bob", "h", "")
		w.offline(ctx, "bob", "")
		for _, m := range matches {
			w.handleNumeric(ctx, ircconn.Numeric{Code: "354", Params: []string{"me", whoToken, "bob", "h", m, "0"}})
		}
		w.handleNumeric(ctx, ircconn.Numeric{Code: "315", Params: []string{"me", "bob", "End"}})
		if len(*notices) != 1 {
			t.Errorf("%s: notices %v", name, *notices)
		}
	}
	w, fc, notices := watchWithFake(t)
	w.known("local.bob", "bob", "bob@h")
	w.offline(ctx, "bob", "")
	if len(*notices) != 0 || len(fc.lines()) != 0 {
		t.Errorf("the first report (offline) did something: %v %q", *notices, fc.lines())
	}
}

// A rename the server reported moves the watch to the new nick.
func TestNickWatchFollowsServerRename(t *testing.T) {
	w, fc, _ := watchWithFake(t)
	w.seen("local.bob", "bob", "bob", "h", "")
	w.renamed("local.bob", "bob", "bobby")
	if got := fc.watchList(); !slices.Equal(got, []string{"bobby"}) {
		t.Fatalf("watched %q", got)
	}
	if p := w.peers["local.bob"]; p.nick != "bobby" || !p.online {
		t.Errorf("peer after the rename: %+v", p)
	}
}

func TestNickWatchIgnoresForeignReplies(t *testing.T) {
	w, _, _ := watchWithFake(t)
	ctx := context.Background()
	if w.handleNumeric(ctx, ircconn.Numeric{Code: "354", Params: []string{"me", "999", "u", "h", "n", "0"}}) {
		t.Error("a WHOX reply with another token was consumed")
	}
	if w.handleNumeric(ctx, ircconn.Numeric{Code: "315", Params: []string{"me", "#chan", "End"}}) {
		t.Error("the end of someone else's WHO was consumed")
	}
	if w.handleNumeric(ctx, ircconn.Numeric{Code: "311", Params: []string{"me", "x"}}) {
		t.Error("an unrelated numeric was consumed")
	}
}

func TestAccountRemark(t *testing.T) {
	for _, tc := range []struct{ oldAcc, newAcc, want string }{
		{"frank", "frank", `Both are identified to the network's services as "frank"`},
		{"frank", "", `mallory is not identified`},
		{"frank", "mal", `not the same account`},
		{"", "mal", `frank's account was not known`},
		{"", "", ""},
	} {
		got := accountRemark("frank", tc.oldAcc, "mallory", tc.newAcc)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("accountRemark(%q, %q) = %q, want %q", tc.oldAcc, tc.newAcc, got, tc.want)
		}
	}
}

// The peers followed per login are bounded: beyond the cap the one active
// longest ago is no longer followed. The server's watch list holds the
// maxPresenceWatched peers active most recently.
func TestNickWatchBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, fc, _ := watchWithFake(t)
		var nicks []string
		for i := range maxWatchedPeers + 10 {
			nick := "peer" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + strconv.Itoa(i)
			nicks = append(nicks, nick)
			w.seen(networkid.UserID("local."+nick), nick, "u", "h", "")
			time.Sleep(time.Millisecond)
		}
		w.mu.Lock()
		n := len(w.peers)
		w.mu.Unlock()
		if n != maxWatchedPeers {
			t.Errorf("%d peers followed, want %d", n, maxWatchedPeers)
		}
		want := slices.Sorted(slices.Values(nicks[len(nicks)-maxPresenceWatched:]))
		if got := fc.watchList(); !slices.Equal(got, want) {
			t.Errorf("%d nicks watched, want the %d most recent", len(got), maxPresenceWatched)
		}
	})
}

// The watch list holds the peers that matter most: those with a private
// conversation first, then the most recently active; it follows what the
// server takes when its own list is shorter.
func TestNickWatchChoosesWhomToWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, fc, _ := watchWithFake(t)
		fc.limit = 3
		uid := func(nick string) networkid.UserID { return networkid.UserID("local." + nick) }
		for _, nick := range []string{"anna", "ben", "cleo", "dora", "emil"} {
			w.seen(uid(nick), nick, "u", "h", "")
			time.Sleep(time.Second)
		}
		check := func(step string, want ...string) {
			t.Helper()
			if got := fc.watchList(); !slices.Equal(got, want) {
				t.Errorf("%s: watching %q, want %q", step, got, want)
			}
		}
		check("the most recent", "cleo", "dora", "emil")
		// anna's conversation goes private: she takes the place of the
		// least active.
		w.conversation(uid("anna"), true)
		check("a private conversation", "anna", "dora", "emil")
		// A message from ben: he is the most recent now.
		w.seen(uid("ben"), "ben", "u", "h", "")
		time.Sleep(time.Second)
		check("a message", "anna", "ben", "emil")
		// A rename keeps the place under the new nick.
		w.renamed(uid("emil"), "emil", "emil_")
		check("a rename", "anna", "ben", "emil_")
		// Reconnected: the same choice.
		w.watchAll()
		check("after watchAll", "anna", "ben", "emil_")
		// The server takes only two: the private one and the most recent.
		fc.Unwatch("anna")
		w.watchFull(ircconn.WatchFull{Limit: 2, Nicks: []string{"anna"}})
		check("the server's list is full", "anna", "emil_")
		// Private conversations rank above activity even when older.
		w.seen(uid("cleo"), "cleo", "u", "h", "")
		check("a message with a full list", "anna", "cleo")
	})
}
