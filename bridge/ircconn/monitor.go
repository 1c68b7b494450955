package ircconn

// Presence of watched nicks, from the server only: MONITOR where the
// server has it (it tells us at once when a watched nick comes or goes),
// else ISON polled in bounded chunks. A nick is only a name: a watched
// nick that goes offline and comes back may be someone else. The server
// says "the same connection" only with a NICK in a shared channel, which
// PeerOffline.NewNick carries.

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
)

// PresenceConfig bounds the presence watch.
type PresenceConfig struct {
	// MaxWatched is the most nicks Watch accepts; default 100. With MONITOR
	// the server's limit (less one slot, kept for taking our own nick back)
	// applies too.
	MaxWatched int
	// PollInterval is how often the ISON fallback asks about every watched
	// nick when the server has no MONITOR; default 30s.
	PollInterval time.Duration
}

func (pc *PresenceConfig) setDefaults() {
	if pc.MaxWatched <= 0 {
		pc.MaxWatched = 100
	}
	if pc.PollInterval <= 0 {
		pc.PollInterval = 30 * time.Second
	}
}

// watched is one nick of the watch list (Conn.watch, by folded nick).
type watched struct {
	nick string
	seq  uint64 // order of Watch calls: the newest give way first
}

// presence is the watch state of one session, guarded by Conn.mu.
type presence struct {
	monitored map[string]bool   // folded nicks on the server's MONITOR list
	online    map[string]bool   // last state reported, by folded nick
	renamed   map[string]string // folded old nick -> new nick, from a NICK just seen
	isonWait  [][]string        // ISON chunks asked, oldest first (folded)
	isonAt    time.Time         // when they were asked
	// The sync (syncWatch) runs on a goroutine of its own while there is
	// something to do; again asks it for one more round, full for one
	// that polls every nick. poll is the ISON fallback's timer.
	syncing, again, full bool
	poll                 *time.Timer
}

func newPresence() presence {
	return presence{monitored: map[string]bool{}, online: map[string]bool{}, renamed: map[string]string{}}
}

// maxISONLine keeps an ISON line (and the server's RPL_ISON, which adds
// its name and ours) well inside 512 bytes.
const maxISONLine = 400

// Watch adds nicks to the watch list and reports their presence as
// PeerOnline and PeerOffline events, now and after every reconnect, until
// Unwatch. It fails with ErrWatchFull, adding none, when the list would
// exceed Config.Presence.MaxWatched or the server's MONITOR limit.
//
// A watched peer who changes nick while sharing no channel with us is
// reported as PeerOffline of the old nick, without NewNick: the server
// sends MONITOR offline then, not NICK, and nothing else proves that the
// new nick is the same connection.
func (c *Conn) Watch(nicks ...string) error {
	for _, n := range nicks {
		if !validNick(n) {
			return fmt.Errorf("%w: %.50q is not a nick", ErrBadTarget, n)
		}
	}
	c.mu.Lock()
	fold := c.casemap.Fold
	var add []string
	for _, n := range nicks {
		k := fold(n)
		if _, ok := c.watch[k]; !ok && !slices.Contains(add, k) {
			add = append(add, k)
		}
	}
	if limit := c.watchLimitLocked(); len(c.watch)+len(add) > limit {
		c.mu.Unlock()
		return fmt.Errorf("%w: %d watched + %d > %d", ErrWatchFull, len(c.watch), len(add), limit)
	}
	for _, n := range nicks {
		k := fold(n)
		if w, ok := c.watch[k]; ok {
			w.nick = n
			c.watch[k] = w
			continue
		}
		c.watchSeq++
		c.watch[k] = watched{nick: n, seq: c.watchSeq}
	}
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		s.wakeWatch()
	}
	return nil
}

// Unwatch removes nicks from the watch list.
func (c *Conn) Unwatch(nicks ...string) {
	c.mu.Lock()
	for _, n := range nicks {
		k := c.casemap.Fold(n)
		delete(c.watch, k)
		if c.sess != nil {
			delete(c.sess.pres.online, k)
			delete(c.sess.pres.renamed, k)
		}
	}
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		s.wakeWatch()
	}
}

// Watched returns the watch list, sorted.
func (c *Conn) Watched() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.watch))
	for _, w := range c.watch {
		out = append(out, w.nick)
	}
	slices.Sort(out)
	return out
}

// Online reports the last presence the server reported for a watched nick
// on this connection; known is false before the first report.
func (c *Conn) Online(nick string) (online, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return false, false
	}
	online, known = c.sess.pres.online[c.casemap.Fold(nick)]
	return online, known
}

// WatchLimit is how many nicks Watch accepts on this connection now:
// Config.Presence.MaxWatched, or less where the server's MONITOR limit is
// lower.
func (c *Conn) WatchLimit() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.watchLimitLocked()
}

// watchLimitLocked is how many nicks may be watched on this server.
func (c *Conn) watchLimitLocked() int {
	limit := c.cfg.Presence.MaxWatched
	if c.isup.Monitor && c.isup.MonitorLimit > 0 {
		limit = min(limit, c.isup.MonitorLimit-1)
	}
	return max(limit, 0)
}

func (s *session) wakeWatch() { s.syncWatch(false) }

// startWatch begins the watch once the session is ready: a first sync
// (every nick), and without MONITOR an ISON poll every PollInterval.
func (s *session) startWatch() {
	c := s.c
	c.mu.Lock()
	if !c.isup.Monitor {
		s.pres.poll = time.AfterFunc(c.cfg.Presence.PollInterval, s.pollWatch)
	}
	c.mu.Unlock()
	s.syncWatch(true)
}

// pollWatch is the ISON fallback's timer: a poll of every nick, then the
// next one, for as long as the session lives.
func (s *session) pollWatch() {
	select {
	case <-s.done:
		return
	default:
	}
	s.syncWatch(true)
	c := s.c
	c.mu.Lock()
	s.pres.poll.Reset(c.cfg.Presence.PollInterval)
	c.mu.Unlock()
}

// syncWatch keeps the server's MONITOR list equal to the watch list, or
// polls ISON (full: about every nick, else those not known yet), from a
// goroutine that runs while there is something to do: an idle connection
// has none. Its lines go through the send queue, paced like messages.
// Call it without holding Conn.mu.
func (s *session) syncWatch(full bool) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s.pres.full = s.pres.full || full
	if s.pres.syncing {
		s.pres.again = true
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.pres.syncing = true
	go s.runWatchSync()
}

func (s *session) runWatchSync() {
	c := s.c
	for {
		c.mu.Lock()
		full, monitor := s.pres.full, c.isup.Monitor
		s.pres.full, s.pres.again = false, false
		c.mu.Unlock()
		var lines []string
		if monitor {
			lines = s.monitorSync()
		} else {
			lines = s.isonLines(full)
		}
		var err error
		if len(lines) > 0 {
			m := &outMsg{raw: true, lines: lines, done: make(chan sendResult, 1)}
			_, err = c.submit(s.ctx, m, 0)
		}
		c.mu.Lock()
		if err != nil || !s.pres.again {
			s.pres.syncing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// monitorSync returns the MONITOR lines that bring the server's list to
// the watch list. Nicks beyond the server's limit (after a reconnect to a
// server with a lower one) are dropped from the watch list and reported.
func (s *session) monitorSync() []string {
	c := s.c
	c.mu.Lock()
	limit := c.watchLimitLocked()
	var dropped []string
	if len(c.watch) > limit {
		order := make([]string, 0, len(c.watch))
		for k := range c.watch {
			order = append(order, k)
		}
		slices.SortFunc(order, func(a, b string) int { return cmp.Compare(c.watch[a].seq, c.watch[b].seq) })
		for _, k := range order[limit:] {
			dropped = append(dropped, c.watch[k].nick)
			delete(c.watch, k)
		}
	}
	want := c.casemap.Fold(c.wantNickLocked())
	reclaiming := want != c.casemap.Fold(c.nick)
	var add, del []string
	for k, w := range c.watch {
		if !s.pres.monitored[k] {
			s.pres.monitored[k] = true
			add = append(add, w.nick)
		}
	}
	for k := range s.pres.monitored {
		if _, ok := c.watch[k]; !ok {
			delete(s.pres.monitored, k)
			if !(reclaiming && k == want) {
				del = append(del, k)
			}
		}
	}
	c.mu.Unlock()
	if len(dropped) > 0 {
		slices.Sort(dropped)
		c.emit(WatchFull{Limit: limit, Nicks: dropped})
	}
	slices.Sort(add)
	slices.Sort(del)
	return append(listLines("MONITOR + ", add, 510), listLines("MONITOR - ", del, 510)...)
}

// isonLines returns the ISON lines of one poll: every watched nick (all),
// or those whose presence is not known yet. While a poll is unanswered no
// other goes out, so that a slow server cannot make them pile up; after
// two intervals it is given up (a reply lost or taken by someone's Raw
// ISON must not stop the watch).
func (s *session) isonLines(all bool) []string {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(s.pres.isonWait) > 0 {
		if time.Since(s.pres.isonAt) < 2*c.cfg.Presence.PollInterval {
			return nil
		}
		s.pres.isonWait = nil
	}
	var nicks []string
	for k, w := range c.watch {
		if _, known := s.pres.online[k]; all || !known {
			nicks = append(nicks, w.nick)
		}
	}
	slices.Sort(nicks)
	lines := listLines("ISON ", nicks, maxISONLine)
	for _, l := range lines {
		var chunk []string
		for _, n := range strings.Fields(strings.TrimPrefix(l, "ISON ")) {
			chunk = append(chunk, c.casemap.Fold(n))
		}
		s.pres.isonWait = append(s.pres.isonWait, chunk)
	}
	s.pres.isonAt = time.Now()
	return lines
}

// listLines packs items into lines "<prefix>a,b,c" (space-separated for
// ISON) of at most limit bytes.
func listLines(prefix string, items []string, limit int) []string {
	sep := ","
	if prefix == "ISON " {
		sep = " "
	}
	var lines []string
	cur := ""
	for _, it := range items {
		if cur != "" && len(prefix)+len(cur)+len(sep)+len(it) > limit {
			lines = append(lines, prefix+cur)
			cur = ""
		}
		if cur != "" {
			cur += sep
		}
		cur += it
	}
	if cur != "" {
		lines = append(lines, prefix+cur)
	}
	return lines
}

// isonReply takes an RPL_ISON answering our oldest ISON line. A reply
// naming a nick that line did not ask about is someone else's (Raw) and
// left to the caller.
func (s *session) isonReply(m *ircmsg.Message) bool {
	c := s.c
	s.lockReader()
	if len(s.pres.isonWait) == 0 {
		s.unlockReader()
		return false
	}
	chunk := s.pres.isonWait[0]
	on := map[string]string{}
	for _, n := range strings.Fields(lastParam(m)) {
		k := c.casemap.Fold(n)
		if !slices.Contains(chunk, k) {
			s.unlockReader()
			return false
		}
		on[k] = n
	}
	s.pres.isonWait = s.pres.isonWait[1:]
	var evs []Event
	for _, k := range chunk {
		w, watchedNow := c.watch[k]
		if !watchedNow {
			continue
		}
		n, online := on[k]
		if was, known := s.pres.online[k]; known && was == online {
			continue
		}
		s.pres.online[k] = online
		if online {
			delete(s.pres.renamed, k)
			evs = append(evs, PeerOnline{Nick: n})
		} else {
			evs = append(evs, PeerOffline{Nick: w.nick, NewNick: s.pres.renamed[k]})
			delete(s.pres.renamed, k)
		}
	}
	s.unlockReader()
	for _, ev := range evs {
		c.emit(ev)
	}
	return true
}

// monitorReply handles RPL_MONONLINE (730), RPL_MONOFFLINE (731) and
// ERR_MONLISTFULL (734). RPL_MONLIST/RPL_ENDOFMONLIST (732/733) answer
// MONITOR L, which we never send: the watch list is ours.
func (s *session) monitorReply(m *ircmsg.Message) {
	c := s.c
	switch m.Command {
	case "730", "731":
		online := m.Command == "730"
		var evs []Event
		var gone []string
		s.lockReader()
		for _, t := range strings.Split(lastParam(m), ",") {
			nuh, err := ircmsg.ParseNUH(t)
			if err != nil || nuh.Name == "" {
				continue
			}
			if !online {
				gone = append(gone, nuh.Name)
			}
			k := c.casemap.Fold(nuh.Name)
			w, ok := c.watch[k]
			if !ok {
				continue
			}
			s.pres.online[k] = online
			if online {
				delete(s.pres.renamed, k)
				evs = append(evs, PeerOnline{Nick: nuh.Name, User: nuh.User, Host: nuh.Host})
			} else {
				evs = append(evs, PeerOffline{Nick: w.nick, NewNick: s.pres.renamed[k]})
				delete(s.pres.renamed, k)
			}
		}
		s.unlockReader()
		for _, ev := range evs {
			c.emit(ev)
		}
		for _, n := range gone {
			// the nick we want may be free now
			s.maybeReclaim(n)
		}
	case "734": // <me> <limit> <targets> :Monitor list is full.
		ev := WatchFull{Limit: atoiOr0(param(m, 1))}
		s.lockReader()
		for _, n := range strings.Split(param(m, 2), ",") {
			k := c.casemap.Fold(n)
			if w, ok := c.watch[k]; ok {
				ev.Nicks = append(ev.Nicks, w.nick)
				delete(c.watch, k)
			}
			delete(s.pres.monitored, k)
		}
		s.unlockReader()
		if len(ev.Nicks) > 0 {
			c.emit(ev)
		}
	}
}

// noteRenameLocked remembers a watched nick's NICK change, which the
// server reports before the MONITOR offline of the old nick.
func (s *session) noteRenameLocked(oldNick, newNick string) {
	k := s.c.casemap.Fold(oldNick)
	if _, ok := s.c.watch[k]; ok {
		s.pres.renamed[k] = newNick
	}
}
