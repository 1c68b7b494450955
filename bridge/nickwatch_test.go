package bridge

import (
	"context"
	"sync"
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// fakeConn records raw lines; everything else is inert.
type fakeConn struct {
	mu  sync.Mutex
	raw []string
}

func (f *fakeConn) Start()            {}
func (f *fakeConn) Disconnect(string) {}
func (f *fakeConn) Reconnect()        {}
func (f *fakeConn) Close()            {}
func (f *fakeConn) Send(context.Context, string, ircconn.Kind, []string) (ircconn.Receipt, error) {
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
func (f *fakeConn) State() ircconn.State                { return ircconn.Connected }
func (f *fakeConn) Nick() string                        { return "me" }
func (f *fakeConn) LineBudget(string, ircconn.Kind) int { return 400 }
func (f *fakeConn) Casefold(s string) string            { return ircconn.RFC1459.Fold(s) }
func (f *fakeConn) HasCap(string) bool                  { return false }
func (f *fakeConn) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.raw...)
}

func watchWithFake(t *testing.T) (*nickWatch, *fakeConn, *[][2]string) {
	t.Helper()
	fc := &fakeConn{}
	c := &IRCClient{aliases: map[string]networkid.UserID{}}
	var conn ircConn = fc
	c.conn.Store(&conn)
	w := newNickWatch(c)
	var renames [][2]string
	w.rename = func(_ context.Context, oldNick, newNick string) {
		renames = append(renames, [2]string{oldNick, newNick})
	}
	return w, fc, &renames
}

func TestNickWatchFindsRenamedPeer(t *testing.T) {
	ctx := context.Background()
	w, fc, renames := watchWithFake(t)
	w.seen("local.bob", "Bob", "~bob", "host.example")
	w.seen("local.carol", "carol", "carol", "other.example")

	w.poll()
	if got := fc.lines(); len(got) != 1 || (got[0] != "ISON Bob carol" && got[0] != "ISON carol Bob") {
		t.Fatalf("poll sent %q", got)
	}
	// Bob is gone, carol is still there (case-insensitively).
	if !w.handleNumeric(ctx, ircconn.Numeric{Code: "303", Params: []string{"me", "CAROL"}}) {
		t.Fatal("ISON reply not consumed")
	}
	got := fc.lines()
	if len(got) != 2 || got[1] != "WHO ~bob u%tuhn,"+whoToken {
		t.Fatalf("after ISON: %q", got)
	}
	// One user with the same user name and host, one with another host.
	w.handleNumeric(ctx, ircconn.Numeric{Code: "354", Params: []string{"me", whoToken, "~bob", "HOST.example", "Bobby"}})
	w.handleNumeric(ctx, ircconn.Numeric{Code: "354", Params: []string{"me", whoToken, "~bob", "elsewhere", "impostor"}})
	if !w.handleNumeric(ctx, ircconn.Numeric{Code: "315", Params: []string{"me", "~bob", "End of /WHO list."}}) {
		t.Fatal("end of WHO not consumed")
	}
	if len(*renames) != 1 || (*renames)[0] != [2]string{"Bob", "Bobby"} {
		t.Fatalf("renames = %v", *renames)
	}
	// A second ISON without Bob does not ask again: he is already offline.
	w.handleNumeric(ctx, ircconn.Numeric{Code: "303", Params: []string{"me", "carol"}})
	if n := len(fc.lines()); n != 2 {
		t.Errorf("asked WHO again for a peer already known offline (%d lines)", n)
	}
}

func TestNickWatchDoesNotGuess(t *testing.T) {
	ctx := context.Background()
	for name, matches := range map[string][]string{"quit": nil, "ambiguous": {"b1", "b2"}, "same nick": {"bob"}} {
		w, _, renames := watchWithFake(t)
		w.seen("local.bob", "bob", "bob", "h")
		w.handleNumeric(ctx, ircconn.Numeric{Code: "303", Params: []string{"me", ""}})
		for _, m := range matches {
			w.handleNumeric(ctx, ircconn.Numeric{Code: "354", Params: []string{"me", whoToken, "bob", "h", m}})
		}
		w.handleNumeric(ctx, ircconn.Numeric{Code: "315", Params: []string{"me", "bob", "End"}})
		if len(*renames) != 0 {
			t.Errorf("%s: renamed %v", name, *renames)
		}
	}
}

func TestNickWatchIgnoresForeignReplies(t *testing.T) {
	w, _, _ := watchWithFake(t)
	ctx := context.Background()
	if w.handleNumeric(ctx, ircconn.Numeric{Code: "354", Params: []string{"me", "999", "u", "h", "n"}}) {
		t.Error("a WHOX reply with another token was consumed")
	}
	if w.handleNumeric(ctx, ircconn.Numeric{Code: "315", Params: []string{"me", "#chan", "End"}}) {
		t.Error("the end of someone else's WHO was consumed")
	}
	if w.handleNumeric(ctx, ircconn.Numeric{Code: "311", Params: []string{"me", "x"}}) {
		t.Error("an unrelated numeric was consumed")
	}
}
