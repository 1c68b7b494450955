package bridge

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// Strangers are people on IRC who have no chat with the user yet. Anyone
// can message anyone on IRC, and each new person costs the bridge a room,
// a ghost, an invite and an OTR conversation, so one login lets only a
// budget of them in (network.limits.new_peers per new_peers_window).
// Beyond it their messages are dropped and counted in one control-room
// notice, at most one a minute; `pm <nick>` still opens a chat with any of
// them. With network.limits.message_requests a new person's messages wait
// as a request in the control room until the user accepts or declines
// them, for network.limits.request_expiry at most. What the gate holds
// for a stranger meanwhile is capped, and so is the number of requests
// and declined peers it remembers.

const (
	// maxOpeningLines bounds the lines kept while a new peer's room is
	// created (a key exchange and a fragmented message fit).
	maxOpeningLines = 64
	// maxRequests bounds the open message requests; maxRequestLines the
	// lines kept per request.
	maxRequests     = 20
	maxRequestLines = 20
	// maxDeclined bounds the declined peers remembered (the oldest is
	// forgotten first).
	maxDeclined = 256
	// summaryDelay gathers a burst of refused strangers into one notice;
	// summaryInterval is the least time between two such notices.
	summaryDelay    = 5 * time.Second
	summaryInterval = time.Minute
	// summaryNicks is how many refused nicks a summary names;
	// maxRefusedSeen bounds the refused peers remembered until the next
	// summary (each counted once, their lines refused at once); beyond
	// it every line is looked at and counted.
	summaryNicks   = 5
	maxRefusedSeen = 1000
)

// verdict is what the gate decided about one message.
type verdict int

const (
	// verdictDeliver: the peer has a chat; deliver the returned lines
	// (a request's kept lines first) now.
	verdictDeliver verdict = iota
	// verdictKept: the line waits in an opening or a request.
	verdictKept
	// verdictOpen: a new peer within the budget; the line waits in a new
	// opening, and the caller creates the room.
	verdictOpen
	// verdictRequest: a new peer within the budget with message requests
	// on; the line waits in a new request, and the caller announces it.
	verdictRequest
	// verdictRefused: over the budget (or too many requests); the line is
	// dropped and counted in the next summary.
	verdictRefused
	// verdictDeclined: the user declined this peer; the line is dropped.
	verdictDeclined
)

// peerLines are the lines kept for one new peer.
type peerLines struct {
	nick    string
	lines   []ircconn.Message
	dropped int // lines beyond the cap
	since   time.Time
}

func (p *peerLines) add(msg ircconn.Message, limit int) {
	p.nick = msg.From.Nick
	if len(p.lines) < limit {
		p.lines = append(p.lines, msg)
	} else {
		p.dropped++
	}
}

// strangerGate is the strangers policy of one login. It is safe for
// concurrent use; the clock is the real one (tests use testing/synctest).
type strangerGate struct {
	budget   *rate.Limiter
	requests bool
	// expiry is how long a message request waits, from its first line.
	expiry time.Duration
	// summarise shows a summary of refused strangers (in the control
	// room); it is called on a timer goroutine.
	summarise func(text string)
	// describe names the budget in summaries ("10 new people per 1h").
	describe string

	mu      sync.Mutex
	opening map[networkid.UserID]*peerLines
	pending map[networkid.UserID]*peerLines // message requests
	// declined and refusedSeen are keyed by the casemapped nick (the
	// peer ID's nick part), so that a line is dropped before the
	// database is asked who sent it (dropEarly).
	declined map[string]bool
	order    []string // declined, oldest first
	// refused strangers since the last summary; their later lines are
	// refused without a look at the database until then.
	refused      int
	refusedNicks []string
	refusedSeen  map[string]bool
	flush        *time.Timer
	lastSummary  time.Time
}

func newStrangerGate(perWindow int, window time.Duration, requests bool, expiry time.Duration, summarise func(string)) *strangerGate {
	return &strangerGate{
		budget:    rate.NewLimiter(rate.Every(window/time.Duration(perWindow)), perWindow),
		requests:  requests,
		expiry:    expiry,
		summarise: summarise,
		describe:  fmt.Sprintf("%d new people per %s", perWindow, durationText(window)),
		opening:   map[networkid.UserID]*peerLines{},
		pending:   map[networkid.UserID]*peerLines{},
		declined:  map[string]bool{},
	}
}

// route decides about one message from uid. known reports (without the
// gate's lock, it may query the database) whether the peer has a chat.
// The caller drops the lines of declined and refused nicks before it
// looks uid up (dropEarly) unless a peer with a chat uses the nick.
func (g *strangerGate) route(uid networkid.UserID, msg ircconn.Message, known func() bool) ([]ircconn.Message, verdict) {
	g.mu.Lock()
	if o := g.opening[uid]; o != nil {
		o.add(msg, maxOpeningLines)
		g.mu.Unlock()
		return nil, verdictKept
	}
	g.mu.Unlock()
	isKnown := known()

	g.mu.Lock()
	defer g.mu.Unlock()
	if o := g.opening[uid]; o != nil { // accepted meanwhile
		o.add(msg, maxOpeningLines)
		return nil, verdictKept
	}
	// The declined and refused sets are keyed by nick, and a nick is
	// anyone's to take: they drop only a peer without a chat, never the
	// peer with a chat that takes its nick back from a stranger.
	if !isKnown {
		if v, drop := g.dropLocked(nickKey(uid)); drop {
			return nil, v
		}
	}
	g.expireLocked()
	req := g.pending[uid]
	switch {
	case isKnown && req != nil:
		// The user opened the chat (`pm`) instead of accepting.
		delete(g.pending, uid)
		return append(req.lines, msg), verdictDeliver
	case isKnown:
		return []ircconn.Message{msg}, verdictDeliver
	case req != nil:
		req.add(msg, maxRequestLines)
		return nil, verdictKept
	case g.requests && len(g.pending) >= maxRequests:
		g.refuseLocked(uid, msg.From.Nick)
		return nil, verdictRefused
	case !g.budget.Allow():
		g.refuseLocked(uid, msg.From.Nick)
		return nil, verdictRefused
	case g.requests:
		p := &peerLines{since: time.Now()}
		p.add(msg, maxRequestLines)
		g.pending[uid] = p
		return nil, verdictRequest
	}
	o := &peerLines{since: time.Now()}
	o.add(msg, maxOpeningLines)
	g.opening[uid] = o
	return nil, verdictOpen
}

// dropEarly reports whether the lines of the casemapped nick are dropped
// (declined, or refused until the next summary) without knowing who the
// peer is: the caller asks it before looking the sender up in the
// database. A known peer now using that nick (renamed, in the caller's
// aliases) must be routed without asking.
func (g *strangerGate) dropEarly(folded string) (verdict, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dropLocked(folded)
}

func (g *strangerGate) dropLocked(folded string) (verdict, bool) {
	switch {
	case g.declined[folded]:
		return verdictDeclined, true
	case g.refusedSeen[folded]:
		return verdictRefused, true
	}
	return 0, false
}

// nickKey is the casemapped nick of a peer ID, the key of the declined
// and refused sets.
func nickKey(uid networkid.UserID) string {
	if _, folded, ok := parseUserID(uid); ok {
		return folded
	}
	return string(uid)
}

// nextOpened takes the next line kept while uid's room was created; when
// there is none left the opening ends (later lines are delivered at once).
func (g *strangerGate) nextOpened(uid networkid.UserID) (ircconn.Message, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.opening[uid]
	if o == nil || len(o.lines) == 0 {
		delete(g.opening, uid)
		return ircconn.Message{}, false
	}
	msg := o.lines[0]
	o.lines = o.lines[1:]
	return msg, true
}

// accept turns uid's request into an opening; it returns the sender of
// the request's first line and whether there was a request.
func (g *strangerGate) accept(uid networkid.UserID) (ircconn.Source, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expireLocked()
	req := g.pending[uid]
	if req == nil || len(req.lines) == 0 {
		return ircconn.Source{}, false
	}
	delete(g.pending, uid)
	if o := g.opening[uid]; o != nil {
		o.lines = append(req.lines, o.lines...)
	} else {
		g.opening[uid] = req
	}
	return req.lines[0].From, true
}

// decline drops uid's request and every later line from uid; it reports
// whether there was a request.
func (g *strangerGate) decline(uid networkid.UserID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, had := g.pending[uid]
	delete(g.pending, uid)
	if key := nickKey(uid); !g.declined[key] {
		if len(g.order) >= maxDeclined {
			delete(g.declined, g.order[0])
			g.order = g.order[1:]
		}
		g.declined[key] = true
		g.order = append(g.order, key)
	}
	return had
}

// opened forgets that uid was declined or refused: the user opened a
// chat with them.
func (g *strangerGate) opened(uid networkid.UserID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := nickKey(uid)
	delete(g.refusedSeen, key)
	if !g.declined[key] {
		return
	}
	delete(g.declined, key)
	for i, d := range g.order {
		if d == key {
			g.order = append(g.order[:i:i], g.order[i+1:]...)
			break
		}
	}
}

// request is one open message request, for the `requests` command.
type request struct {
	uid   networkid.UserID
	nick  string
	lines int
	since time.Time
}

func (g *strangerGate) listRequests() []request {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expireLocked()
	out := make([]request, 0, len(g.pending))
	for uid, p := range g.pending {
		out = append(out, request{uid: uid, nick: p.nick, lines: len(p.lines) + p.dropped, since: p.since})
	}
	return out
}

// expireLocked drops the message requests older than expiry, with their
// lines: the user did not take them up, and each holds one of the
// maxRequests places. Their senders are not declined: a later message is
// a new request. Called with mu held.
func (g *strangerGate) expireLocked() {
	now := time.Now()
	for uid, p := range g.pending {
		if now.Sub(p.since) >= g.expiry {
			delete(g.pending, uid)
		}
	}
}

// refuseLocked counts a refused stranger and schedules the summary.
// Called with mu held.
func (g *strangerGate) refuseLocked(uid networkid.UserID, nick string) {
	if g.refusedSeen == nil {
		g.refusedSeen = map[string]bool{}
	}
	if len(g.refusedSeen) < maxRefusedSeen {
		g.refusedSeen[nickKey(uid)] = true
	}
	g.refused++
	if len(g.refusedNicks) < summaryNicks {
		g.refusedNicks = append(g.refusedNicks, nick)
	}
	if g.flush != nil {
		return
	}
	delay := summaryDelay
	if next := time.Until(g.lastSummary.Add(summaryInterval)); next > delay {
		delay = next
	}
	g.flush = time.AfterFunc(delay, g.flushSummary)
}

// flushSummary shows the refused strangers counted since the last summary.
func (g *strangerGate) flushSummary() {
	g.mu.Lock()
	n, nicks := g.refused, g.refusedNicks
	g.refused, g.refusedNicks, g.refusedSeen = 0, nil, nil
	g.flush = nil
	g.lastSummary = time.Now()
	g.mu.Unlock()
	if n > 0 {
		g.summarise(refusedSummary(n, nicks, g.describe))
	}
}

// stop cancels a pending summary (the login is going away).
func (g *strangerGate) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.flush != nil {
		g.flush.Stop()
		g.flush = nil
	}
}

// refusedSummary is the control-room notice about n refused strangers,
// naming some of them.
func refusedSummary(n int, nicks []string, budget string) string {
	people := "people"
	if n == 1 {
		people = "person"
	}
	names := strings.Join(nicks, ", ")
	if n > len(nicks) {
		names += fmt.Sprintf(" and %d more", n-len(nicks))
	}
	return fmt.Sprintf("%d more %s tried to message you (%s); their messages were not delivered, because the bridge opens chats for at most %s. `pm <nick>` to answer one of them.",
		n, people, names, budget)
}

// durationText writes a duration the way the config does ("1h", "30m").
func durationText(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	return s
}
