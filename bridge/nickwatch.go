package bridge

import (
	"context"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// Following a peer's nick change without a shared channel.
//
// IRC tells us about a NICK only when we share a channel with the peer,
// and DM partners usually share none. So the bridge watches its DM peers:
// every presenceInterval it asks ISON which of them are online. When a peer
// that was online disappears, it asks WHO for users with the peer's last
// seen user name (ident) and host; if exactly one user has both, under a
// nick that belongs to no other portal, that is the peer under a new nick,
// and the portal follows it as it does for a NICK seen in a channel.
// Users who are invisible (+i) are not listed by WHO to strangers, so this
// finds only visible ones; a NICK seen in a shared channel always works.

const (
	presenceInterval = 5 * time.Second
	// isonChunk keeps ISON lines far below 512 bytes.
	isonChunk = 20
	// whoTimeout drops WHO queries whose end never came.
	whoTimeout = 30 * time.Second
)

type watchedPeer struct {
	uid        networkid.UserID
	nick       string
	user, host string
	online     bool
}

type whoQuery struct {
	peer       *watchedPeer
	oldNick    string
	user, host string
	matches    []string
	started    time.Time
}

// nickWatch is the presence watch of one client.
type nickWatch struct {
	c *IRCClient
	// rename is called when a peer was found under a new nick.
	rename func(ctx context.Context, oldNick, newNick string)

	mu      sync.Mutex
	peers   map[networkid.UserID]*watchedPeer
	queries map[string]*whoQuery // by WHO mask (the ident)
	stop    chan struct{}
}

func newNickWatch(c *IRCClient) *nickWatch {
	w := &nickWatch{c: c, peers: make(map[networkid.UserID]*watchedPeer), queries: make(map[string]*whoQuery)}
	w.rename = func(ctx context.Context, oldNick, newNick string) {
		// The new nick must not already be another peer of this login.
		if other, _ := c.existingPortal(ctx, newNick); other != nil {
			return
		}
		c.renamePeer(ctx, oldNick, newNick, "same user name and host")
	}
	return w
}

// seen records a peer's current nick and user@host (from a message).
func (w *nickWatch) seen(uid networkid.UserID, nick, user, host string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.peers[uid]
	if p == nil {
		p = &watchedPeer{uid: uid}
		w.peers[uid] = p
	}
	p.nick = nick
	if user != "" && host != "" {
		p.user, p.host = user, host
	}
	p.online = true
}

// renamed updates a peer after a nick change.
func (w *nickWatch) renamed(uid networkid.UserID, nick string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.peers[uid]; p != nil {
		p.nick = nick
		p.online = true
	}
}

// start begins polling; it is called when the connection is registered.
func (w *nickWatch) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		return
	}
	w.stop = make(chan struct{})
	go w.loop(w.stop)
}

// halt stops polling (connection lost or closed).
func (w *nickWatch) halt() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
	w.queries = make(map[string]*whoQuery)
}

func (w *nickWatch) loop(stop chan struct{}) {
	t := time.NewTicker(presenceInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			w.poll()
		}
	}
}

func (w *nickWatch) poll() {
	conn := w.c.connection()
	if conn == nil || conn.State() != ircconn.Connected {
		return
	}
	w.mu.Lock()
	var nicks []string
	for _, p := range w.peers {
		if p.online && p.user != "" {
			nicks = append(nicks, p.nick)
		}
	}
	for mask, q := range w.queries {
		if time.Since(q.started) > whoTimeout {
			delete(w.queries, mask)
		}
	}
	w.mu.Unlock()
	for len(nicks) > 0 {
		n := min(len(nicks), isonChunk)
		ctx, cancel := context.WithTimeout(context.Background(), presenceInterval)
		err := conn.Raw(ctx, "ISON "+strings.Join(nicks[:n], " "))
		cancel()
		if err != nil {
			return
		}
		nicks = nicks[n:]
	}
}

// handleNumeric consumes ISON and WHO replies; it reports whether the
// numeric belonged to the watch.
func (w *nickWatch) handleNumeric(ctx context.Context, e ircconn.Numeric) bool {
	switch e.Code {
	case "303": // RPL_ISON: <me> :<nicks online>
		if len(e.Params) < 2 {
			return false
		}
		w.isonReply(ctx, strings.Fields(e.Params[len(e.Params)-1]))
		return true
	case "354": // WHOX: <me> <token> <user> <host> <nick>
		if len(e.Params) < 5 || e.Params[1] != whoToken {
			return false
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if q := w.queries[e.Params[2]]; q != nil && q.user == e.Params[2] && strings.EqualFold(q.host, e.Params[3]) {
			q.matches = append(q.matches, e.Params[4])
		}
		return true
	case "315": // RPL_ENDOFWHO: <me> <mask> :End of /WHO list.
		if len(e.Params) < 2 {
			return false
		}
		w.mu.Lock()
		q := w.queries[e.Params[1]]
		delete(w.queries, e.Params[1])
		w.mu.Unlock()
		if q == nil {
			return false
		}
		w.whoDone(ctx, q)
		return true
	}
	return false
}

// whoToken marks our WHOX queries.
const whoToken = "317"

func (w *nickWatch) isonReply(ctx context.Context, online []string) {
	c := w.c
	isOnline := make(map[string]bool, len(online))
	for _, n := range online {
		isOnline[c.fold(n)] = true
	}
	var gone []*whoQuery
	w.mu.Lock()
	for _, p := range w.peers {
		if !p.online || p.user == "" || isOnline[c.fold(p.nick)] {
			continue
		}
		p.online = false
		if _, busy := w.queries[p.user]; busy {
			continue
		}
		q := &whoQuery{peer: p, oldNick: p.nick, user: p.user, host: p.host, started: time.Now()}
		w.queries[p.user] = q
		gone = append(gone, q)
	}
	w.mu.Unlock()
	conn := c.connection()
	if conn == nil {
		return
	}
	for _, q := range gone {
		// "u" matches the mask against user names; %tnuh asks for token, user, host, nick.
		line := "WHO " + q.user + " u%tuhn," + whoToken
		qctx, cancel := context.WithTimeout(ctx, presenceInterval)
		if err := conn.Raw(qctx, line); err != nil {
			w.mu.Lock()
			delete(w.queries, q.user)
			w.mu.Unlock()
		}
		cancel()
	}
}

func (w *nickWatch) whoDone(ctx context.Context, q *whoQuery) {
	c := w.c
	if len(q.matches) != 1 {
		return // gone, or ambiguous: do not guess
	}
	newNick := q.matches[0]
	if c.fold(newNick) == c.fold(q.oldNick) || validateNick(newNick) != nil {
		return
	}
	w.rename(ctx, q.oldNick, newNick)
}

// known registers a peer from a stored portal (not known to be online).
func (w *nickWatch) known(uid networkid.UserID, nick, userHost string) {
	user, host, ok := strings.Cut(userHost, "@")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.peers[uid] != nil {
		return
	}
	p := &watchedPeer{uid: uid, nick: nick}
	if ok && user != "" && host != "" {
		p.user, p.host = user, host
	}
	w.peers[uid] = p
}

// sent marks a peer online after a message reached it.
func (w *nickWatch) sent(uid networkid.UserID, nick string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.peers[uid]; p != nil && p.nick == nick {
		p.online = true
	}
}
