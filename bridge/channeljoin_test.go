package bridge

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream" // registers sqlite3-fk-wal

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
)

// joinConn is a connection that records JOINs and is in every channel it
// joined.
type joinConn struct {
	fakeConn
	keys   []string
	joined map[string]bool
}

func (j *joinConn) ISupport() ircconn.ISupport {
	return ircconn.ISupport{Casemapping: ircconn.RFC1459, ChanTypes: "#"}
}
func (j *joinConn) Join(_ context.Context, channel, key string) error {
	j.keys = append(j.keys, key)
	j.joined[j.Casefold(channel)] = true
	return nil
}
func (j *joinConn) Channel(name string) (ircconn.Channel, bool) {
	return ircconn.Channel{Name: name}, j.joined[j.Casefold(name)]
}

// clientWithDB is a login on network "local" with a real SQLite database
// and the fake connection conn.
func clientWithDB(t *testing.T, conn ircConn) *IRCClient {
	t.Helper()
	parent, err := dbutil.NewWithDialect("file:"+filepath.Join(t.TempDir(), "b.db")+"?_txlock=immediate", "sqlite3-fk-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parent.Close() })
	h := testHub(t)
	h.ic.DB = db.New(parent, zerolog.Nop())
	if err := h.ic.DB.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ic.Config.Secret = "a test secret of enough length"
	h.ic.channels = h
	c := testClient("local/@a:x", "@a:x")
	c.ic = h.ic
	c.connOnce.Do(func() {})
	c.conn.Store(&conn)
	return c
}

// Accepting the room's invite joins again without a key: the stored key
// must stay (it is what the rejoin after a restart uses).
func TestJoinChannelKeepsKey(t *testing.T) {
	jc := &joinConn{joined: map[string]bool{}}
	c := clientWithDB(t, jc)
	ctx := context.Background()
	if err := c.joinChannel(ctx, "#Keyed", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := c.joinChannel(ctx, "#keyed", ""); err != nil {
		t.Fatal(err)
	}
	stored, err := c.ic.DB.Channels.List(ctx, c.login.UserMXID, "local")
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored %v, %v", stored, err)
	}
	key, err := c.openChannelKey(stored[0])
	if err != nil || key != "s3cret" {
		t.Errorf("stored key %q (%v) after joining again without one, want the first key", key, err)
	}
	if len(jc.keys) != 2 || jc.keys[1] != "s3cret" {
		t.Errorf("JOIN keys %q: the second join must use the stored key", jc.keys)
	}
	// A new key replaces it.
	if err := c.joinChannel(ctx, "#keyed", "n3w"); err != nil {
		t.Fatal(err)
	}
	stored, _ = c.ic.DB.Channels.List(ctx, c.login.UserMXID, "local")
	if key, _ := c.openChannelKey(stored[0]); key != "n3w" {
		t.Errorf("stored key %q after joining with a new one", key)
	}
}

// The per-login limit counts stored channels; joining one of them again
// is no new channel.
func TestJoinChannelLimit(t *testing.T) {
	jc := &joinConn{joined: map[string]bool{}}
	c := clientWithDB(t, jc)
	c.ic.Config.Channels.MaxPerUser = 2
	ctx := context.Background()
	for _, ch := range []string{"#a", "#b", "#a"} {
		if err := c.joinChannel(ctx, ch, ""); err != nil {
			t.Fatalf("join %s: %v", ch, err)
		}
	}
	err := c.joinChannel(ctx, "#c", "")
	if _, ok := err.(channelLimitError); !ok {
		t.Fatalf("third channel: %v, want the limit", err)
	}
	if len(jc.keys) != 3 {
		t.Errorf("%d JOINs, want 3 (nothing for the refused one)", len(jc.keys))
	}
}

// gatedJoinConn holds every JOIN until release is closed, so that joins
// overlap the way concurrent `join` commands do while the server answers.
type gatedJoinConn struct {
	joinConn
	mu      sync.Mutex
	entered chan string
	release chan struct{}
}

func (g *gatedJoinConn) Join(_ context.Context, channel, _ string) error {
	g.entered <- channel
	<-g.release
	g.mu.Lock()
	defer g.mu.Unlock()
	g.joined[g.Casefold(channel)] = true
	return nil
}

func (g *gatedJoinConn) Channel(name string) (ircconn.Channel, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ircconn.Channel{Name: name}, g.joined[g.Casefold(name)]
}

// Two joins at once with one channel left under the limit: the stored list
// only has a channel after the server confirmed it, so both would pass a
// check against it. Exactly one may join; the other is refused before
// anything goes on the wire.
func TestJoinChannelLimitConcurrent(t *testing.T) {
	gc := &gatedJoinConn{joinConn: joinConn{joined: map[string]bool{}}, entered: make(chan string, 4), release: make(chan struct{})}
	c := clientWithDB(t, gc)
	c.ic.Config.Channels.MaxPerUser = 2
	ctx := context.Background()
	close(gc.release)
	if err := c.joinChannel(ctx, "#a", ""); err != nil {
		t.Fatal(err)
	}
	<-gc.entered
	gc.release = make(chan struct{})

	errs := make(chan error, 2)
	for _, ch := range []string{"#b", "#c"} {
		go func() { errs <- c.joinChannel(ctx, ch, "") }()
	}
	// Either both JOINs are on their way (the race) or one is and the
	// other was refused.
	var results []error
	entered := 0
	for entered+len(results) < 2 {
		select {
		case <-gc.entered:
			entered++
		case err := <-errs:
			results = append(results, err)
		}
	}
	close(gc.release)
	for len(results) < 2 {
		results = append(results, <-errs)
	}
	refused := 0
	for _, err := range results {
		if _, ok := err.(channelLimitError); ok {
			refused++
		} else if err != nil {
			t.Fatalf("join: %v", err)
		}
	}
	stored, err := c.ic.DB.Channels.List(ctx, c.login.UserMXID, "local")
	if err != nil {
		t.Fatal(err)
	}
	if entered != 1 || refused != 1 || len(stored) != 2 {
		t.Fatalf("%d JOINs sent, %d refused, %d channels stored; want 1, 1 and the limit of 2", entered, refused, len(stored))
	}

	// A channel being joined is no new channel for a second join of it.
	gc.release = make(chan struct{})
	if _, err := c.ic.DB.Channels.Remove(ctx, c.login.UserMXID, "local", "#b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ic.DB.Channels.Remove(ctx, c.login.UserMXID, "local", "#c"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		go func() { errs <- c.joinChannel(ctx, "#D", "") }()
	}
	<-gc.entered
	<-gc.entered
	close(gc.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("joining one channel twice at once: %v", err)
		}
	}
}
