package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

type renameSummaries struct {
	mu    sync.Mutex
	texts map[networkid.UserID][]string
}

func (s *renameSummaries) add(uid networkid.UserID, n int, nick string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.texts[uid] = append(s.texts[uid], renameSummary(n, nick))
}

func (s *renameSummaries) of(uid networkid.UserID) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts[uid]...)
}

// A peer renaming in a loop gets renameBurst renames shown, then one
// summary per renameQuiet with the latest nick; another peer's renames
// are counted apart; after a quiet interval renames are shown at once
// again.
func TestRenameNoticesAreCoalesced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := &renameSummaries{texts: map[networkid.UserID][]string{}}
		r := newRenameNotices(got.add)
		defer r.stop()
		shown := 0
		for i := range 500 {
			if r.admit("local.loop", fmt.Sprintf("loop%d", i)) {
				shown++
			}
		}
		if !r.admit("local.other", "other_") {
			t.Error("another peer's first rename was not shown")
		}
		if shown != renameBurst {
			t.Fatalf("%d of 500 renames shown at once, want %d", shown, renameBurst)
		}
		time.Sleep(renameQuiet + time.Second)
		want := "The peer changed nick 497 more times in the last minute (the server reported each). This chat continues with loop499."
		if s := got.of("local.loop"); len(s) != 1 || s[0] != want {
			t.Fatalf("summaries %q", s)
		}
		if s := got.of("local.other"); len(s) != 0 {
			t.Errorf("a peer that renamed once got a summary: %q", s)
		}
		// Still renaming: counted until the next interval ends.
		if r.admit("local.loop", "again") {
			t.Error("a rename right after a summary was shown at once")
		}
		time.Sleep(renameQuiet)
		if s := got.of("local.loop"); len(s) != 2 || s[1] != "The peer changed nick 1 more time in the last minute (the server reported each). This chat continues with again." {
			t.Fatalf("second summary %q", s)
		}
		// A quiet interval: the next rename is shown at once.
		time.Sleep(2 * renameQuiet)
		if !r.admit("local.loop", "calm") {
			t.Error("a rename after a quiet interval was not shown")
		}
		r.mu.Lock()
		n := len(r.peers)
		r.mu.Unlock()
		if n != 1 {
			t.Errorf("%d peers counted, want only the one renaming", n)
		}
	})
}

// The portal's nick changes at once (lookups that follow see it), its
// database write happens off the caller, and a peer that renames while a
// write is slow costs one more write, which has its latest nick.
func TestPortalNickIsWrittenOffTheReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient("local/@a:x", "@a:x")
		c.log = zerolog.Nop()
		c.ic = &IRCConnector{Bridge: &bridgev2.Bridge{Log: zerolog.Nop(), BackgroundCtx: context.Background()}}
		release := make(chan struct{})
		var mu sync.Mutex
		var written []string
		c.portalNicks.write = func(_ context.Context, _ networkid.PortalKey, meta *PortalMetadata) error {
			<-release
			mu.Lock()
			written = append(written, meta.peerNick())
			mu.Unlock()
			return nil
		}
		portal := &bridgev2.Portal{Portal: &database.Portal{Metadata: &PortalMetadata{Nick: "bob"}}}
		c.setPortalNick("local.bob", portal, "bob0")
		synctest.Wait() // the first write waits for release; the caller did not
		for i := 1; i < 100; i++ {
			c.setPortalNick("local.bob", portal, fmt.Sprintf("bob%d", i))
		}
		if nick := portalNick(portal); nick != "bob99" {
			t.Fatalf("portal nick %q right after the renames", nick)
		}
		close(release)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(written) != 2 || written[1] != "bob99" {
			t.Fatalf("writes %q, want two, the last with the latest nick", written)
		}
	})
}

// A message the peer sent just before renaming is prepared on the portal
// loop after the rename: the portal keeps the nick the server reported
// last, and the user's messages go there, not to the old nick (which
// someone else may hold by now). Only the current nick's case and
// user@host, or an empty nick, are taken from a message.
func TestQueuedMessageKeepsTheRename(t *testing.T) {
	c := testClient("local/@a:x", "@a:x")
	c.log = zerolog.Nop()
	c.ic = &IRCConnector{Bridge: &bridgev2.Bridge{Log: zerolog.Nop(), BackgroundCtx: context.Background()}}
	c.portalNicks.write = func(context.Context, networkid.PortalKey, *PortalMetadata) error { return nil }
	ctx := context.Background()
	portal := &bridgev2.Portal{Portal: &database.Portal{
		PortalKey: portalKeyFor("local.bob", c.login.ID),
		Metadata:  &PortalMetadata{Nick: "bob", UserHost: "~bob@host"},
	}}
	c.setPortalNick("local.bob", portal, "bobby")
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("the portal was saved for a message from the old nick: %v", r)
			}
		}()
		c.preparePortal(ctx, portal, "bob", "~bob@host")
	}()
	if nick := portalNick(portal); nick != "bobby" {
		t.Fatalf("portal nick %q after a queued message from the old nick, want bobby", nick)
	}
	p, err := c.portalPeer(ctx, portal)
	if err != nil || p.nick != "bobby" {
		t.Fatalf("the user's messages go to %v (%v), want bobby", p, err)
	}

	meta := portal.Metadata.(*PortalMetadata)
	if meta.seen("bob", "~other@elsewhere", c.fold) {
		t.Error("a message from the old nick changed the portal")
	}
	if !meta.seen("BobBy", "~bob@new.host", c.fold) {
		t.Error("the current nick's case and user@host were not recorded")
	}
	if nick, userHost := meta.peer(); nick != "BobBy" || userHost != "~bob@new.host" {
		t.Errorf("peer %s %s", nick, userHost)
	}
	empty := &PortalMetadata{}
	if !empty.seen("carol", "~c@h", c.fold) || empty.peerNick() != "carol" {
		t.Error("an empty nick was not filled")
	}
}

// Renames on the IRC event loop and saves of the portal (which encode its
// metadata) on the portal loop run at the same time without a race (run
// with -race).
func TestPortalNickRenameWhileSaving(t *testing.T) {
	c := testClient("local/@a:x", "@a:x")
	c.log = zerolog.Nop()
	c.ic = &IRCConnector{Bridge: &bridgev2.Bridge{Log: zerolog.Nop(), BackgroundCtx: context.Background()}}
	c.portalNicks.write = func(context.Context, networkid.PortalKey, *PortalMetadata) error { return nil }
	portal := &bridgev2.Portal{Portal: &database.Portal{Metadata: &PortalMetadata{Nick: "bob"}}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			c.setPortalNick("local.bob", portal, fmt.Sprintf("bob%d", i))
		}
	}()
	for range 200 {
		if _, err := json.Marshal(portal.Metadata); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	out, err := json.Marshal(portal.Metadata)
	if err != nil || string(out) != `{"nick":"bob199"}` {
		t.Fatalf("metadata %s (%v)", out, err)
	}
}

// The nick is written to bridgev2's portal table (SQLite here, PostgreSQL
// in the e2e suite) in the metadata column only: the row's other columns
// stay as bridgev2 saved them.
func TestPortalNickIsStored(t *testing.T) {
	ctx := context.Background()
	parent, err := dbutil.NewWithDialect("file:"+filepath.Join(t.TempDir(), "b.db")+"?_txlock=immediate", "sqlite3-fk-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parent.Close() })
	bdb := database.New("otrbridge", database.MetaTypes{Portal: func() any { return &PortalMetadata{} }}, parent)
	if err := bdb.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	c := testClient("local/@a:x", "@a:x")
	c.log = zerolog.Nop()
	c.ic = &IRCConnector{Bridge: &bridgev2.Bridge{Log: zerolog.Nop(), BackgroundCtx: ctx, DB: bdb}}
	key := portalKeyFor("local.bob", c.login.ID)
	row := &database.Portal{BridgeID: "otrbridge", PortalKey: key, Name: "bob (local)", Metadata: &PortalMetadata{Nick: "bob", UserHost: "~bob@host"}}
	if err := bdb.Portal.Insert(ctx, row); err != nil {
		t.Fatal(err)
	}
	portal := &bridgev2.Portal{Portal: row}
	c.setPortalNick("local.bob", portal, "bobby")
	var stored *database.Portal
	deadline := time.Now().Add(10 * time.Second)
	for {
		if stored, err = bdb.Portal.GetByKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		if nick, _ := stored.Metadata.(*PortalMetadata).peer(); nick == "bobby" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	nick, userHost := stored.Metadata.(*PortalMetadata).peer()
	if nick != "bobby" || userHost != "~bob@host" || stored.Name != "bob (local)" {
		t.Fatalf("stored %s %s %q", nick, userHost, stored.Name)
	}
}
