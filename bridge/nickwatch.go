package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// Following DM peers: their presence and their renames, from what the
// server reports and nothing else.
//
// The peers with a chat are watched (ircconn's Watch: MONITOR, or a bounded
// ISON poll where the server has none), so the bridge learns at once when
// a peer leaves the network. The watch list is shorter than the peers a
// login may have (maxPresenceWatched, less where the server's MONITOR
// limit is lower), so it holds the peers that matter most: first those
// with a private conversation (or one a restart cut off, whose messages
// are held), then those active most recently. A peer left off is noticed
// gone only when a message to it fails; a message from it puts it back
// on the list in place of the least active. A chat follows a rename only when the server
// reported it for the same connection: a NICK in a channel the bridge
// shares with the peer (ircconn.NickChanged). Without a shared channel the
// server says no more than "the old nick is gone" (PeerOffline without
// NewNick), exactly as for a quit.
//
// Then the bridge may look for the peer by the user name and host it last
// had (WHO). That is a guess: the user name is whatever the client sends,
// and hosts are shared (NAT, shells, webchat gateways, bouncers). A single
// match is only suggested in the chat, with the command that follows it
// (`follow <nick>`); until the user runs it, messages still go to the old
// nick (and fail while nobody has it), never to the suggested one.

const (
	// whoTimeout drops WHO queries whose end never came.
	whoTimeout = 30 * time.Second
	// presenceQuiet is the least time between two notices that a peer
	// left (each followed by at most one that it is back): a peer that
	// reconnects in a loop gets no more.
	presenceQuiet = 30 * time.Second
)

// watchedPeer is what the bridge knows of a peer with a chat.
type watchedPeer struct {
	uid        networkid.UserID
	nick       string
	user, host string
	// account is the peer's services account as the server last reported
	// it (account-tag, extended-join, account-notify, WHOX); "" if not
	// logged in or not known.
	account string
	// online is the presence last reported; known is false before the
	// first report.
	online, known bool
	// goneAt is when the chat was last told that the peer left;
	// goneShown: that notice was the last, so a return is told too.
	goneAt    time.Time
	goneShown bool
	// active is when the peer was last added, seen or renamed.
	active time.Time
	// engaged: the peer has a private conversation with the user, or
	// one a restart cut off (its OTR state is not plaintext).
	engaged bool
}

// outranks reports whether p comes before q on the watch list.
func (p *watchedPeer) outranks(q *watchedPeer) bool {
	if p.engaged != q.engaged {
		return p.engaged
	}
	if !p.active.Equal(q.active) {
		return p.active.After(q.active)
	}
	return p.uid < q.uid
}

// maxWatchedPeers bounds the peers followed per login: beyond it the one
// that ranks lowest (outranks) is no longer followed (its chat stays; a
// message from it follows it again). Chats come at the pace of the
// login's new peer budget, so only a login targeted for months gets there.
const maxWatchedPeers = 2048

// maxPresenceWatched bounds the nicks on the server's watch list per login
// (ircconn's Presence.MaxWatched): MONITOR lists are about this long on
// the big networks, and without MONITOR each one costs the ISON poll a
// share of the login's send pacing.
const maxPresenceWatched = 100

// whoQuery is a WHO for the user name a peer had when it went offline.
type whoQuery struct {
	uid              networkid.UserID
	oldNick, account string
	user, host       string
	matches          []whoMatch
	started          time.Time
}

type whoMatch struct{ nick, account string }

// nickWatch follows the peers of one client.
type nickWatch struct {
	c *IRCClient
	// notice posts a notice into a peer's chat; hasChat reports a nick
	// the user has a chat with; left ends the OTR session of a peer that
	// left; restarted lists the peers whose private conversation a
	// restart cut off. Tests replace them.
	notice    func(ctx context.Context, uid networkid.UserID, text string)
	hasChat   func(ctx context.Context, nick string) bool
	left      func(ctx context.Context, uid networkid.UserID, nick string)
	restarted func() []networkid.UserID

	// changeMu makes each change of the watch list (computed under mu,
	// applied to the connection without it) one step: two changes from
	// different goroutines cannot apply in the other order than they were
	// computed, which would leave the connection's list unlike watched.
	changeMu sync.Mutex
	mu       sync.Mutex
	peers    map[networkid.UserID]*watchedPeer
	queries  map[string]*whoQuery // by user name
	// watched is the peers on the connection's watch list, with the nick
	// each is watched under.
	watched map[networkid.UserID]string
	// serverCap, once the server said its list is full, is how many
	// nicks it took.
	serverCap int
	fullSaid  bool // "watch list full" logged
}

func newNickWatch(c *IRCClient) *nickWatch {
	return &nickWatch{c: c, notice: c.peerNotice,
		hasChat: func(ctx context.Context, nick string) bool {
			portal, _ := c.existingPortal(ctx, nick)
			return portal != nil
		},
		left: func(ctx context.Context, uid networkid.UserID, nick string) {
			c.otr.PeerGone(ctx, c.link(uid, nick))
		},
		restarted: func() []networkid.UserID { return c.otr.RestartedPeers() },
		peers:     make(map[networkid.UserID]*watchedPeer), queries: make(map[string]*whoQuery),
		watched: make(map[networkid.UserID]string)}
}

// peerLocked returns the peer state of uid, creating it. Called with mu
// held.
func (w *nickWatch) peerLocked(uid networkid.UserID, nick string) *watchedPeer {
	p := w.peers[uid]
	if p == nil {
		if len(w.peers) >= maxWatchedPeers {
			w.forgetOldestLocked()
		}
		p = &watchedPeer{uid: uid, nick: nick}
		w.peers[uid] = p
	}
	p.active = time.Now()
	return p
}

// forgetOldestLocked stops following the peer that ranks lowest. Called
// with mu held.
func (w *nickWatch) forgetOldestLocked() {
	var oldest *watchedPeer
	for _, p := range w.peers {
		if oldest == nil || oldest.outranks(p) {
			oldest = p
		}
	}
	if oldest == nil {
		return
	}
	delete(w.peers, oldest.uid)
	delete(w.queries, oldest.user)
	if nick, ok := w.watched[oldest.uid]; ok {
		delete(w.watched, oldest.uid)
		if conn := w.c.connection(); conn != nil {
			conn.Unwatch(nick)
		}
	}
}

// byNickLocked finds the peer that has nick now. Called with mu held.
func (w *nickWatch) byNickLocked(nick string) *watchedPeer {
	folded := w.c.fold(nick)
	for _, p := range w.peers {
		if w.c.fold(p.nick) == folded {
			return p
		}
	}
	return nil
}

// known registers a peer from a stored chat (presence not known yet).
func (w *nickWatch) known(uid networkid.UserID, nick, userHost string) {
	user, host, _ := strings.Cut(userHost, "@")
	w.mu.Lock()
	p := w.peerLocked(uid, nick)
	if user != "" && host != "" {
		p.user, p.host = user, host
	}
	w.mu.Unlock()
}

// seen records a message from a peer with a chat: its nick, user@host and
// account now, and that it is online.
func (w *nickWatch) seen(uid networkid.UserID, nick, user, host, account string) {
	w.mu.Lock()
	p := w.peerLocked(uid, nick)
	p.nick, p.online, p.known = nick, true, true
	if user != "" && host != "" {
		p.user, p.host = user, host
	}
	if account != "" {
		p.account = account
	}
	w.mu.Unlock()
	w.admit(uid)
}

// conversation records whether the peer has a private conversation (or
// one a restart cut off): such peers come first on the watch list.
func (w *nickWatch) conversation(uid networkid.UserID, engaged bool) {
	w.mu.Lock()
	p := w.peers[uid]
	changed := p != nil && p.engaged != engaged
	if changed {
		p.engaged = engaged
	}
	w.mu.Unlock()
	if changed && engaged {
		w.admit(uid)
	}
}

// sent records that a message reached a peer: it is online.
func (w *nickWatch) sent(uid networkid.UserID, nick string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.peers[uid]; p != nil && w.c.fold(p.nick) == w.c.fold(nick) {
		p.online, p.known = true, true
	}
}

// watchAll puts the peers that rank highest on the connection's watch
// list (after the connection exists; ircconn keeps the list across
// reconnects). The peers whose private conversation a restart cut off
// rank with the private ones.
func (w *nickWatch) watchAll() {
	w.mu.Lock()
	for _, uid := range w.restarted() {
		if p := w.peers[uid]; p != nil {
			p.engaged = true
		}
	}
	w.mu.Unlock()
	w.rebalance()
}

// watchLimit is how many peers the connection's watch list holds.
func (w *nickWatch) watchLimit(conn ircConn) int {
	limit := conn.WatchLimit()
	if w.serverCap > 0 {
		limit = min(limit, w.serverCap)
	}
	return limit
}

// rebalance makes the watch list the limit's worth of peers that rank
// highest.
func (w *nickWatch) rebalance() {
	conn := w.c.connection()
	if conn == nil {
		return
	}
	w.changeMu.Lock()
	defer w.changeMu.Unlock()
	w.mu.Lock()
	ranked := make([]*watchedPeer, 0, len(w.peers))
	for _, p := range w.peers {
		ranked = append(ranked, p)
	}
	slices.SortFunc(ranked, func(a, b *watchedPeer) int {
		if a.outranks(b) {
			return -1
		}
		return 1
	})
	keep := ranked[:min(w.watchLimit(conn), len(ranked))]
	want := make(map[networkid.UserID]string, len(keep))
	for _, p := range keep {
		want[p.uid] = p.nick
	}
	var drop, add []string
	for uid, nick := range w.watched {
		if now, ok := want[uid]; !ok || w.c.fold(now) != w.c.fold(nick) {
			drop = append(drop, nick)
		}
	}
	for uid, nick := range want {
		if was, ok := w.watched[uid]; !ok || w.c.fold(was) != w.c.fold(nick) {
			add = append(add, nick)
		}
	}
	w.watched = want
	w.mu.Unlock()
	w.apply(conn, drop, add, len(ranked)-len(keep))
}

// admit puts a peer that was just active (or whose conversation just
// became private) on the watch list under its current nick: in a free
// place, else in place of the watched peer that ranks lowest if it ranks
// above that one.
func (w *nickWatch) admit(uid networkid.UserID) {
	conn := w.c.connection()
	if conn == nil {
		return
	}
	w.changeMu.Lock()
	defer w.changeMu.Unlock()
	w.mu.Lock()
	p := w.peers[uid]
	if p == nil {
		w.mu.Unlock()
		return
	}
	old, watched := w.watched[uid]
	if watched && w.c.fold(old) == w.c.fold(p.nick) {
		w.watched[uid] = p.nick
		w.mu.Unlock()
		return
	}
	var drop []string
	if watched {
		drop = append(drop, old)
		delete(w.watched, uid)
	}
	unwatched := 0
	if len(w.watched) >= w.watchLimit(conn) {
		var lowest *watchedPeer
		for id := range w.watched {
			if q := w.peers[id]; q != nil && (lowest == nil || lowest.outranks(q)) {
				lowest = q
			}
		}
		if lowest == nil || !p.outranks(lowest) {
			w.mu.Unlock()
			w.apply(conn, drop, nil, 1)
			return
		}
		drop = append(drop, w.watched[lowest.uid])
		delete(w.watched, lowest.uid)
		unwatched = 1
	}
	w.watched[uid] = p.nick
	w.mu.Unlock()
	w.apply(conn, drop, []string{p.nick}, unwatched)
}

// apply changes the connection's watch list; unwatched is how many peers
// are left off it. Called without mu.
func (w *nickWatch) apply(conn ircConn, drop, add []string, unwatched int) {
	if len(drop) > 0 {
		conn.Unwatch(drop...)
	}
	if len(add) > 0 {
		if err := conn.Watch(add...); err != nil {
			w.c.log.Warn().Err(err).Msg("Failed to watch peers' presence")
		}
	}
	if unwatched == 0 {
		return
	}
	w.mu.Lock()
	said := w.fullSaid
	w.fullSaid = true
	n := len(w.watched)
	w.mu.Unlock()
	if !said {
		w.c.log.Warn().Int("watched", n).Msg("The presence watch list is full: the peers active longest ago are not watched (their departure is noticed when a message to them fails)")
	}
}

// watchFull handles the server's report that it dropped watched nicks
// (its MONITOR list is full, or shorter after a reconnect): the list is
// kept at what the server took, with the peers that rank highest.
func (w *nickWatch) watchFull(e ircconn.WatchFull) {
	w.mu.Lock()
	for _, n := range e.Nicks {
		folded := w.c.fold(n)
		for uid, nick := range w.watched {
			if w.c.fold(nick) == folded {
				delete(w.watched, uid)
			}
		}
	}
	w.serverCap = max(len(w.watched), 1)
	w.mu.Unlock()
	w.rebalance()
}

// renamed follows a rename the server reported for the same connection.
func (w *nickWatch) renamed(uid networkid.UserID, oldNick, newNick string) {
	w.mu.Lock()
	p := w.peerLocked(uid, newNick)
	p.nick, p.online, p.known = newNick, true, true
	w.mu.Unlock()
	w.admit(uid)
}

// accountOf returns the services account last reported for a peer's
// current nick.
func (w *nickWatch) accountOf(nick string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.byNickLocked(nick); p != nil {
		return p.account
	}
	return ""
}

// setAccount records a services login (account) or logout ("") of a nick.
func (w *nickWatch) setAccount(nick, account string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.byNickLocked(nick); p != nil {
		p.account = account
	}
}

// online handles the server's report that a watched nick is on IRC.
func (w *nickWatch) online(ctx context.Context, nick string) {
	w.mu.Lock()
	p := w.byNickLocked(nick)
	if p == nil {
		w.mu.Unlock()
		return
	}
	tell := p.known && !p.online && p.goneShown
	p.online, p.known, p.goneShown = true, true, false
	uid := p.uid
	delete(w.queries, p.user)
	w.mu.Unlock()
	if tell {
		// The same nick, not proven the same person: the server reports
		// a name, only an OTR key says who holds it.
		w.notice(ctx, uid, fmt.Sprintf("Someone has the nick %s again. IRC cannot tell whether it is the same person; "+
			"in a private conversation the OTR key does (a key you do not know %s by is announced as NEW, and messages waiting for %s are not sent to it).", nick, nick, nick))
	}
}

// offline handles the server's report that a peer left: quit (why is the
// server's reason), disconnected, or renamed without a shared channel.
// Only a peer known to be online has left: the first report of a nick and
// the second report of one departure (MONITOR's and the QUIT) change
// nothing.
func (w *nickWatch) offline(ctx context.Context, nick, why string) {
	w.mu.Lock()
	p := w.byNickLocked(nick)
	if p == nil {
		w.mu.Unlock()
		return
	}
	left := p.known && p.online
	p.online, p.known = false, true
	if !left {
		w.mu.Unlock()
		return
	}
	now := time.Now()
	tell := now.Sub(p.goneAt) >= presenceQuiet
	if tell {
		p.goneAt, p.goneShown = now, true
	}
	uid := p.uid
	var q *whoQuery
	if p.user != "" && w.queries[p.user] == nil {
		q = &whoQuery{uid: uid, oldNick: p.nick, account: p.account, user: p.user, host: p.host, started: time.Now()}
		w.queries[p.user] = q
	}
	w.mu.Unlock()
	if tell {
		w.notice(ctx, uid, goneText(nick, why))
	}
	w.left(ctx, uid, nick)
	if q != nil {
		w.ask(ctx, q)
	}
}

// whoToken marks our WHOX queries.
const whoToken = "317"

// ask sends the WHO for the user name a peer had.
func (w *nickWatch) ask(ctx context.Context, q *whoQuery) {
	conn := w.c.connection()
	if conn == nil {
		return
	}
	// "u" matches the mask against user names; %tuhna asks for token,
	// user, host, nick and account.
	qctx, cancel := context.WithTimeout(ctx, whoTimeout)
	defer cancel()
	if err := conn.Raw(qctx, "WHO "+q.user+" u%tuhna,"+whoToken); err != nil {
		w.mu.Lock()
		delete(w.queries, q.user)
		w.mu.Unlock()
	}
}

// handleNumeric consumes the replies to our WHO queries; it reports
// whether the numeric was one.
func (w *nickWatch) handleNumeric(ctx context.Context, e ircconn.Numeric) bool {
	switch e.Code {
	case "354": // WHOX: <me> <token> <user> <host> <nick> <account>
		if len(e.Params) < 6 || e.Params[1] != whoToken {
			return false
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if q := w.queries[e.Params[2]]; q != nil && strings.EqualFold(q.host, e.Params[3]) && len(q.matches) < 2 {
			q.matches = append(q.matches, whoMatch{nick: e.Params[4], account: whoxAccount(e.Params[5])})
		}
		return true
	case "315": // RPL_ENDOFWHO: <me> <mask> :End of /WHO list.
		if len(e.Params) < 2 {
			return false
		}
		w.mu.Lock()
		q := w.queries[e.Params[1]]
		delete(w.queries, e.Params[1])
		for mask, old := range w.queries {
			if time.Since(old.started) > whoTimeout {
				delete(w.queries, mask)
			}
		}
		w.mu.Unlock()
		if q == nil {
			return false
		}
		w.suggest(ctx, q)
		return true
	}
	return false
}

// whoxAccount reads WHOX's account field ("0": not logged in).
func whoxAccount(s string) string {
	if s == "0" || s == "*" {
		return ""
	}
	return s
}

// suggest offers the one user WHO found under another nick with the
// user name and host the peer had: it may be the peer, and the user
// decides (`follow`).
func (w *nickWatch) suggest(ctx context.Context, q *whoQuery) {
	c := w.c
	if len(q.matches) != 1 {
		return // gone, or ambiguous: nothing to offer
	}
	m := q.matches[0]
	if c.fold(m.nick) == c.fold(q.oldNick) || validateNick(m.nick) != nil {
		return
	}
	if w.hasChat(ctx, m.nick) {
		return // someone the user already has a chat with
	}
	text := fmt.Sprintf("%s might now be %s: that user has the same user name and host (%s@%s). Anyone can use the same user name, "+
		"and many people share a host, so this is a guess: messages keep going to %s only. If you know that %s is %s, "+
		"`%s follow %s` moves this chat to %s.",
		q.oldNick, m.nick, q.user, q.host, q.oldNick, m.nick, q.oldNick, c.commandPrefix(), m.nick, m.nick)
	if said := accountRemark(q.oldNick, q.account, m.nick, m.account); said != "" {
		text += " " + said
	}
	w.notice(ctx, q.uid, text)
}

// accountRemark says what the network's services report about two nicks'
// accounts: the same account on both is the services' word that they are
// one person (not the bridge's, and no substitute for OTR's fingerprint).
func accountRemark(oldNick, oldAccount, newNick, newAccount string) string {
	switch {
	case oldAccount != "" && oldAccount == newAccount:
		return fmt.Sprintf("Both are identified to the network's services as %q.", oldAccount)
	case oldAccount != "" && newAccount == "":
		return fmt.Sprintf("%s was identified to services as %q; %s is not identified.", oldNick, oldAccount, newNick)
	case oldAccount != "":
		return fmt.Sprintf("%s was identified to services as %q, %s as %q: not the same account.", oldNick, oldAccount, newNick, newAccount)
	case newAccount != "":
		return fmt.Sprintf("%s is identified to services as %q; %s's account was not known.", newNick, newAccount, oldNick)
	}
	return ""
}

// goneText tells a peer's chat that the peer left IRC.
func goneText(nick, why string) string {
	text := fmt.Sprintf("%s is no longer on IRC (quit, disconnected, or changed nick where the bridge cannot see it).", nick)
	if why != "" {
		text = fmt.Sprintf("%s has left IRC (%s).", nick, why)
	}
	return text + fmt.Sprintf(" Messages to %s fail until someone has that nick again.", nick)
}

// peerNotice posts a notice into a peer's existing chat, through the
// peer's effect queue: in order with the peer's messages, and without the
// IRC event loop waiting for the homeserver.
func (c *IRCClient) peerNotice(ctx context.Context, uid networkid.UserID, text string) {
	portal, err := c.ic.Bridge.GetExistingPortalByKey(ctx, portalKeyFor(uid, c.login.ID))
	if err != nil {
		c.log.Err(err).Msg("Failed to look up a peer's chat")
		return
	}
	if portal == nil || portal.MXID == "" {
		return
	}
	_, nick, _ := parseUserID(uid)
	if current := portalNick(portal); current != "" {
		nick = current
	}
	c.otr.Tell(ctx, c.link(uid, nick), text)
}

// commandPrefix is what commands in a chat start with.
func (c *IRCClient) commandPrefix() string {
	if c.ic != nil && c.ic.Bridge != nil && c.ic.Bridge.Config != nil && c.ic.Bridge.Config.CommandPrefix != "" {
		return c.ic.Bridge.Config.CommandPrefix
	}
	return "!otr"
}

// fnFollow is `follow`: the user says that a peer now has another nick
// (told out of band, or confirming the bridge's suggestion). The chat then
// goes to the new nick; OTR decides whether it is the same person (a key
// the peer never had is announced as NEW).
func fnFollow(ce *commands.Event) {
	c, args := commandClient(ce, 1)
	if c == nil {
		return
	}
	var oldNick, newNick string
	switch {
	case ce.Portal != nil && len(args) == 1:
		p, err := c.portalPeer(ce.Ctx, ce.Portal)
		if err != nil {
			ce.Reply("%v", err)
			return
		}
		oldNick, newNick = p.nick, args[0]
	case ce.Portal == nil && len(args) == 2:
		oldNick, newNick = args[0], args[1]
	default:
		ce.Reply("Usage: in the chat `%s follow <new nick>`; in the control room `follow <old nick> <new nick>`.", c.commandPrefix())
		return
	}
	if err := validateNick(newNick); err != nil {
		ce.Reply("%v", err)
		return
	}
	if c.fold(oldNick) == c.fold(newNick) {
		ce.Reply("The chat already goes to %s.", oldNick)
		return
	}
	if portal, _ := c.existingPortal(ce.Ctx, oldNick); portal == nil {
		ce.Reply("You have no chat with %s.", oldNick)
		return
	}
	if other, _ := c.existingPortal(ce.Ctx, newNick); other != nil {
		ce.Reply("You already have a chat with %s; the chat with %s stays as it is.", newNick, oldNick)
		return
	}
	text := fmt.Sprintf("This chat now goes to %s instead of %s, because you said so (`follow`). The bridge cannot confirm that %s is %s: "+
		"verify it with OTR (`%s init`; a key %s never had is announced as NEW), and `%s follow %s` goes back.",
		newNick, oldNick, newNick, oldNick, c.commandPrefix(), oldNick, c.commandPrefix(), oldNick)
	if account := c.watch.accountOf(oldNick); account != "" {
		text += fmt.Sprintf(" %s was identified to the network's services as %q.", oldNick, account)
	}
	c.renamePeer(ce.Ctx, oldNick, newNick, text, false)
	if ce.Portal == nil {
		ce.Reply("The chat with %s now goes to %s.", oldNick, newNick)
	}
}
