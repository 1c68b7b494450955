package ircconn

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestWatchWithMonitor(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	// Watched before the connection is up: sent once registered.
	if err := c.Watch("Bob", "carol"); err != nil {
		t.Fatal(err)
	}
	fc := fn.next(t)
	fc.registerWith(t, "me", "", stateISupport) // MONITOR=5: 4 for the user
	rec.waitState(t, 2*time.Second, Connected)
	if m := fc.expect(t, "MONITOR"); strings.Join(m.Params, " ") != "+ Bob,carol" {
		t.Fatalf("MONITOR %v", m.Params)
	}
	fc.send(":srv.test 730 me :bob!b@bob.example", ":srv.test 731 me :carol")
	if on := waitEvent[PeerOnline](t, rec, "online", nil); on != (PeerOnline{Nick: "bob", User: "b", Host: "bob.example"}) {
		t.Errorf("%+v", on)
	}
	if off := waitEvent[PeerOffline](t, rec, "offline", nil); off != (PeerOffline{Nick: "carol"}) {
		t.Errorf("%+v", off)
	}
	if on, known := c.Online("BOB"); !on || !known {
		t.Errorf("Online(BOB) %v %v", on, known)
	}
	if _, known := c.Online("dave"); known {
		t.Error("an unwatched nick is known")
	}

	// The server's limit (less the slot for our own nick) is respected.
	if err := c.Watch("d1", "d2", "d3"); !errors.Is(err, ErrWatchFull) {
		t.Errorf("Watch beyond MONITOR=5: %v", err)
	}
	if got := c.Watched(); !slices.Equal(got, []string{"Bob", "carol"}) {
		t.Errorf("Watched %v (a refused Watch must add none)", got)
	}
	if err := c.Watch("d1", "bob"); err != nil {
		t.Fatal(err)
	}
	if m := fc.expect(t, "MONITOR"); strings.Join(m.Params, " ") != "+ d1" {
		t.Fatalf("MONITOR %v", m.Params)
	}
	c.Unwatch("CAROL")
	if m := fc.expect(t, "MONITOR"); strings.Join(m.Params, " ") != "- carol" {
		t.Fatalf("MONITOR %v", m.Params)
	}
	// Reports about nicks no longer watched are not events.
	fc.send(":srv.test 730 me :carol!c@h", ":srv.test 734 me 5 d1 :Monitor list is full.")
	if wf := waitEvent[WatchFull](t, rec, "WatchFull", nil); wf.Limit != 5 || !slices.Equal(wf.Nicks, []string{"d1"}) {
		t.Errorf("%+v", wf)
	}
	for _, e := range rec.all() {
		if on, ok := e.(PeerOnline); ok && on.Nick == "carol" {
			t.Error("PeerOnline for an unwatched nick")
		}
	}
	if got := c.Watched(); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("Watched %v", got)
	}
	for _, bad := range []string{"", "a b", "#chan", "x\r\ny"} {
		if err := c.Watch(bad); !errors.Is(err, ErrBadTarget) {
			t.Errorf("Watch(%q): %v", bad, err)
		}
	}
	fc.nothing(t, 100*time.Millisecond)

	// After a reconnect, the list goes to the server again.
	fc.send("ERROR :Closing link: (u@h) [Ping timeout]")
	fc2 := fn.next(t)
	fc2.registerWith(t, "me", "", "MONITOR=100")
	if m := fc2.expect(t, "MONITOR"); strings.Join(m.Params, " ") != "+ bob" {
		t.Fatalf("MONITOR after reconnect %v", m.Params)
	}
}

// A watched peer's NICK in a shared channel comes before the server's
// MONITOR offline for the old nick: PeerOffline says who it became. Without
// a shared channel, only the offline comes, and nothing names a new nick.
func TestWatchedPeerRenames(t *testing.T) {
	c, rec, fc, _ := stateConn(t, stateCaps, nil)
	if err := c.Watch("bob", "carol"); err != nil {
		t.Fatal(err)
	}
	fc.expect(t, "MONITOR")
	joinChannel(t, c, fc) // bob is in #Chan, carol too
	fc.send(":bob!b@bob.example NICK :robert", ":srv.test 731 me :bob")
	if n := waitEvent[NickChanged](t, rec, "nick", nil); n.Old != "bob" || n.New != "robert" {
		t.Errorf("%+v", n)
	}
	if off := waitEvent[PeerOffline](t, rec, "offline", nil); off != (PeerOffline{Nick: "bob", NewNick: "robert"}) {
		t.Errorf("%+v", off)
	}
	fc.send(":srv.test 731 me :carol") // renamed or quit elsewhere: the server does not say
	if off := waitEvent[PeerOffline](t, rec, "offline", nil); off != (PeerOffline{Nick: "carol"}) {
		t.Errorf("%+v", off)
	}
}

// Without MONITOR, ISON polls the watched nicks in chunks.
func TestWatchISONFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(cfg *Config) { cfg.Presence = PresenceConfig{MaxWatched: 80, PollInterval: 10 * time.Second} })
		var nicks []string
		for i := range 60 {
			nicks = append(nicks, fmt.Sprintf("peer%02d_%s", i, strings.Repeat("x", 15)))
		}
		if err := c.Watch(nicks...); err != nil {
			t.Fatal(err)
		}
		if err := c.Watch("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "13", "14", "15", "16", "17", "18", "19", "20", "21"); !errors.Is(err, ErrWatchFull) {
			t.Errorf("Watch beyond MaxWatched: %v", err)
		}
		fc := fn.next(t)
		fc.registerWith(t, "me", "", "CHANTYPES=#")
		rec.waitState(t, time.Second, Connected)
		start := time.Now()
		poll := func() [][]string {
			var chunks [][]string
			total := 0
			for total < len(nicks) {
				m := fc.expect(t, "ISON")
				if l := len("ISON " + strings.Join(m.Params, " ")); l > maxISONLine {
					t.Fatalf("ISON line of %d bytes", l)
				}
				chunks = append(chunks, m.Params)
				total += len(m.Params)
			}
			return chunks
		}
		chunks := poll()
		if len(chunks) < 2 {
			t.Fatalf("60 nicks in %d ISON lines", len(chunks))
		}
		// peer00 online, every other offline: all are reported the first time.
		fc.send(":srv.test 303 me :" + strings.ToUpper(chunks[0][0]))
		for range chunks[1:] {
			fc.send(":srv.test 303 me :")
		}
		on := waitEvent[PeerOnline](t, rec, "online", nil)
		if on.Nick != strings.ToUpper(nicks[0]) {
			t.Errorf("%+v", on)
		}
		offline := 0
		for offline < 59 {
			waitEvent[PeerOffline](t, rec, "offline", nil)
			offline++
		}
		// An ISON reply that is not ours (a nick we did not ask about) is a Numeric.
		fc.send(":srv.test 303 me :stranger")
		if n := waitEvent[Numeric](t, rec, "foreign 303", nil); n.Code != "303" {
			t.Errorf("%+v", n)
		}

		// Next poll, PollInterval later: only changes are reported.
		time.Sleep(9 * time.Second)
		chunks = poll()
		if d := time.Since(start); d < 9*time.Second || d > 11*time.Second {
			t.Errorf("poll after %v, want 10s", d)
		}
		mark := len(rec.all())
		fc.send(":srv.test 303 me :" + chunks[0][1])
		for range chunks[1:] {
			fc.send(":srv.test 303 me :")
		}
		if off := waitEvent[PeerOffline](t, rec, "peer00 offline", nil); off.Nick != nicks[0] {
			t.Errorf("%+v", off)
		}
		if on := waitEvent[PeerOnline](t, rec, "peer01 online", nil); on.Nick != nicks[1] {
			t.Errorf("%+v", on)
		}
		synctest.Wait()
		if n := len(rec.all()) - mark; n != 2 {
			t.Errorf("%d events for two changes: unchanged nicks reported again", n)
		}
		// A nick watched now is asked about at once, alone.
		if err := c.Watch("newcomer"); err != nil {
			t.Fatal(err)
		}
		if m := fc.expect(t, "ISON"); strings.Join(m.Params, " ") != "newcomer" {
			t.Errorf("ISON %v", m.Params)
		}
		// Unanswered, a poll holds the next ones back until it is two
		// intervals old; then it is given up and the poll goes out again.
		time.Sleep(35 * time.Second)
		asked := 0
		for {
			select {
			case l := <-fc.lines:
				if strings.HasPrefix(l, "ISON ") {
					asked += len(strings.Fields(l)) - 1
				}
				continue
			default:
			}
			break
		}
		if asked != 61 {
			t.Errorf("%d nicks asked in 35s without answers, want one poll of 61", asked)
		}
	})
}
