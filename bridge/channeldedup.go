package bridge

import (
	"hash/maphash"
	"time"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

// Every bridged user in a channel has their own connection in it, so every
// line of the channel reaches the bridge once per bridged member. lineDedup
// lets the first copy through and recognises the others. It works on what
// the connections saw, never on a guess about the sender:
//
//   - With an IRCv3 msgid the server names each message; a msgid seen
//     before is a copy.
//   - Without one, a line is its (sender, kind, text). Lines with the same
//     content form a run while they keep coming less than dedupWindow
//     apart. Within a run, a connection's k-th copy is new only if no
//     connection has delivered k copies yet: two connections that saw the
//     same three "lol" lines deliver three, not six and not one.
//
// The content form can mistake one line for another only when a sender
// repeats the same text within the window while another connection joins
// or reconnects; networks with msgid have no such case.
type lineDedup struct {
	seed      maphash.Seed
	runs      map[uint64]*lineRun
	lastSweep time.Time
}

type lineRun struct {
	last      time.Time
	delivered int
	seen      map[networkid.UserLoginID]int
}

// dedupWindow is how long copies of a line are expected to trail the first:
// the connections share one server, so they receive a line within
// milliseconds; the window covers a busy reader.
const dedupWindow = 30 * time.Second

// maxDedupRuns bounds the memory of one channel's dedup. Beyond it lines
// count as new: a duplicate shown is better than a line lost.
const maxDedupRuns = 8192

func newLineDedup() *lineDedup {
	return &lineDedup{seed: maphash.MakeSeed(), runs: make(map[uint64]*lineRun)}
}

// fresh reports whether a line delivered by login's connection is the first
// copy. msgID is the server's msgid tag, "" if none.
func (d *lineDedup) fresh(login networkid.UserLoginID, msgID, sender, kind, text string, now time.Time) bool {
	if now.Sub(d.lastSweep) > dedupWindow || len(d.runs) >= maxDedupRuns {
		d.sweep(now)
	}
	key := d.key(msgID, sender, kind, text)
	run := d.runs[key]
	if run == nil || now.Sub(run.last) > dedupWindow {
		if run == nil && len(d.runs) >= maxDedupRuns {
			return true
		}
		run = &lineRun{seen: make(map[networkid.UserLoginID]int, 2)}
		d.runs[key] = run
	}
	run.last = now
	run.seen[login]++
	if run.seen[login] <= run.delivered {
		return false
	}
	run.delivered = run.seen[login]
	return true
}

// forget drops what a connection saw: after it parted or reconnected, its
// next copies start counting from zero again like everyone else's.
func (d *lineDedup) forget(login networkid.UserLoginID) {
	for _, run := range d.runs {
		delete(run.seen, login)
	}
}

func (d *lineDedup) key(msgID, sender, kind, text string) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	if msgID != "" {
		h.WriteString("m\x00")
		h.WriteString(msgID)
		return h.Sum64()
	}
	h.WriteString("c\x00")
	h.WriteString(sender)
	h.WriteByte(0)
	h.WriteString(kind)
	h.WriteByte(0)
	h.WriteString(text)
	return h.Sum64()
}

func (d *lineDedup) sweep(now time.Time) {
	d.lastSweep = now
	for k, run := range d.runs {
		if now.Sub(run.last) > dedupWindow {
			delete(d.runs, k)
		}
	}
}
