package ircconn

// The channel state tracker: which channels we are in, their members,
// topic and modes, kept in sync by what the server reports on this
// connection. It belongs to one session: after a reconnect we are in no
// channel until we join again.

import (
	"slices"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
)

// ChannelConfig bounds what the tracker keeps: a stranger can fill a
// channel with clones, and the server can put us in channels.
type ChannelConfig struct {
	// MaxChannels is the most channels Join and JoinAll let us be in;
	// channels the server puts us in beyond it are tracked without members
	// (counts only). Default 50.
	MaxChannels int
	// MaxMembers is the most members tracked per channel (nick, user, host,
	// account, realname, status, away); beyond it only the count is kept.
	// Default 2000.
	MaxMembers int
}

func (cc *ChannelConfig) setDefaults() {
	if cc.MaxChannels <= 0 {
		cc.MaxChannels = 50
	}
	if cc.MaxMembers <= 0 {
		cc.MaxMembers = 2000
	}
}

// Member is one member of a channel as the server reported it.
type Member struct {
	Nick, User, Host string
	// Account is the services account, empty when not logged in or not
	// known (known from extended-join, account-notify and WHOX).
	Account  string
	Realname string
	// Prefixes are the member's status symbols, highest first ("@+"; all
	// of them with multi-prefix, else the highest).
	Prefixes string
	Away     bool
}

// Channel is the tracked state of a channel we are in.
type Channel struct {
	Name      string
	Topic     string
	TopicBy   Source
	TopicTime time.Time
	// Modes are the channel's flag and parameter modes (letter to
	// parameter, "" for flags). ModesKnown is false until the server
	// reported them all (RefreshModes); until then Modes holds the changes
	// seen since we joined.
	Modes      map[rune]string
	ModesKnown bool
	// Members are the tracked members, ordered by nick.
	Members []Member
	// Count is the number of members as far as we know. When it exceeds
	// len(Members) (Truncated), members beyond Config.Channels.MaxMembers
	// are not tracked, and Count may drift (the QUIT of an untracked member
	// cannot be attributed to a channel) until the next NAMES.
	Count     int
	Truncated bool
	// Synced is true once the server sent the member list (NAMES).
	Synced bool
}

// tracker is the channel state of one session, guarded by Conn.mu. Keys
// are casefolded names.
type tracker struct {
	max   ChannelConfig
	chans map[string]*chanState
	users map[string]*userState // users listed in at least one tracked channel
	names map[string]*memberAcc // NAMES replies being received
	topic *TopicChanged         // RPL_TOPIC waiting for RPL_TOPICWHOTIME
}

type chanState struct {
	name       string
	topic      string
	topicBy    Source
	topicTime  time.Time
	modes      map[rune]string
	modesKnown bool
	members    map[string]string // folded nick -> prefix symbols
	count      int
	capacity   int // members tracked at most
	synced     bool
}

type userState struct {
	nick, user, host string
	account          string
	realname         string
	away             bool
	refs             int // tracked channels listing the user
}

// memberAcc collects a NAMES or WHO reply.
type memberAcc struct {
	channel string
	members []Member
	count   int
}

// maxPendingLists bounds NAMES replies received at once (a bare NAMES
// lists every channel on some servers).
const maxPendingLists = 8

func newTracker(max ChannelConfig) tracker {
	return tracker{max: max, chans: map[string]*chanState{}, users: map[string]*userState{}, names: map[string]*memberAcc{}}
}

func (a *memberAcc) add(m Member, capacity int) {
	a.count++
	if len(a.members) < capacity {
		a.members = append(a.members, m)
	}
}

// selfJoin starts tracking a channel we joined.
func (t *tracker) selfJoin(fold func(string) string, name string, self Member) {
	k := fold(name)
	if old := t.chans[k]; old != nil {
		t.dropChannel(k)
	}
	capacity := t.max.MaxMembers
	if len(t.chans) >= t.max.MaxChannels {
		capacity = 0
	}
	k = strings.Clone(k)
	t.chans[k] = &chanState{name: strings.Clone(name), members: map[string]string{}, capacity: capacity, modes: map[rune]string{}}
	t.addMember(fold, t.chans[k], self)
}

// addMember adds or updates a member, within the channel's capacity.
func (t *tracker) addMember(fold func(string) string, ch *chanState, m Member) {
	k := fold(m.Nick)
	if _, ok := ch.members[k]; ok {
		ch.members[k] = m.Prefixes
		t.updateUser(k, m)
		return
	}
	ch.count++
	if len(ch.members) >= ch.capacity {
		return
	}
	k = strings.Clone(k)
	ch.members[k] = m.Prefixes
	u := t.users[k]
	if u == nil {
		u = &userState{}
		t.users[k] = u
	}
	u.refs++
	t.updateUser(k, m)
}

// updateUser takes the fields m carries (empty ones leave what we know).
// They are copied: as parts of the server's line they would keep the whole
// line (tags included) alive for as long as the member stays.
func (t *tracker) updateUser(k string, m Member) {
	u := t.users[k]
	if u == nil {
		return
	}
	u.nick = keep(u.nick, m.Nick)
	if m.User != "" && m.Host != "" {
		u.user, u.host = keep(u.user, m.User), keep(u.host, m.Host)
	}
	if m.Account != "" {
		u.account = keep(u.account, m.Account)
	}
	if m.Realname != "" {
		u.realname = keep(u.realname, m.Realname)
	}
}

// keep returns s as a string of its own, or old when equal.
func keep(old, s string) string {
	if old == s {
		return old
	}
	return strings.Clone(s)
}

// removeMember takes a member off a channel. A nick that is not tracked
// lowers only the count, and only where members are untracked (beyond the
// capacity): otherwise it was not there.
func (t *tracker) removeMember(ch *chanState, k string) {
	if _, ok := ch.members[k]; !ok {
		if ch.count > len(ch.members) {
			ch.count--
		}
		return
	}
	ch.count--
	delete(ch.members, k)
	t.unref(k)
}

func (t *tracker) unref(k string) {
	if u := t.users[k]; u != nil {
		u.refs--
		if u.refs <= 0 {
			delete(t.users, k)
		}
	}
}

func (t *tracker) dropChannel(k string) {
	ch := t.chans[k]
	if ch == nil {
		return
	}
	for nk := range ch.members {
		t.unref(nk)
	}
	delete(t.chans, k)
}

// quit removes a user from every channel and returns their names.
func (t *tracker) quit(k string) []string {
	var out []string
	for _, ch := range t.chans {
		if _, ok := ch.members[k]; ok {
			out = append(out, ch.name)
			t.removeMember(ch, k)
		}
	}
	slices.Sort(out)
	return out
}

// rename follows a NICK and returns the channels the user is in.
func (t *tracker) rename(fold func(string) string, oldNick, newNick string) []string {
	ok, nk := fold(oldNick), fold(newNick)
	u := t.users[ok]
	if u == nil {
		return nil
	}
	u.nick = newNick
	if ok == nk {
		return t.channelsOf(nk)
	}
	if t.users[nk] != nil {
		// Someone we missed leaving still holds the new nick here: the
		// server says it is taken now, so that entry is stale.
		t.quit(nk)
	}
	nk = strings.Clone(nk)
	var out []string
	for _, ch := range t.chans {
		if p, in := ch.members[ok]; in {
			out = append(out, ch.name)
			delete(ch.members, ok)
			ch.members[nk] = p
		}
	}
	delete(t.users, ok)
	t.users[nk] = u
	slices.Sort(out)
	return out
}

// channelsOf lists the tracked channels a user is in.
func (t *tracker) channelsOf(k string) []string {
	if t.users[k] == nil {
		return nil
	}
	var out []string
	for _, ch := range t.chans {
		if _, in := ch.members[k]; in {
			out = append(out, ch.name)
		}
	}
	slices.Sort(out)
	return out
}

// applyModes applies parsed changes to a channel.
func (t *tracker) applyModes(fold func(string) string, is *ISupport, ch *chanState, changes []ModeChange) {
	for _, mc := range changes {
		switch mc.Kind {
		case ModePrefix:
			k := fold(mc.Param)
			p, ok := ch.members[k]
			if !ok {
				continue
			}
			ch.members[k] = setPrefix(is, p, is.prefixSymbol(mc.Mode), mc.Add)
		case ModeParam, ModeSetParam, ModeFlag:
			if mc.Add {
				ch.modes[mc.Mode] = strings.Clone(mc.Param)
			} else {
				delete(ch.modes, mc.Mode)
			}
		}
	}
}

// setPrefix adds or removes one status symbol, keeping PREFIX order.
func setPrefix(is *ISupport, prefixes string, sym byte, add bool) string {
	if sym == 0 {
		return prefixes
	}
	has := strings.IndexByte(prefixes, sym) >= 0
	if has == add {
		return prefixes
	}
	if !add {
		return strings.Replace(prefixes, string(sym), "", 1)
	}
	var b strings.Builder
	for i := 0; i < len(is.PrefixSymbols); i++ {
		s := is.PrefixSymbols[i]
		if s == sym || strings.IndexByte(prefixes, s) >= 0 {
			b.WriteByte(s)
		}
	}
	return b.String()
}

// replaceMembers installs a complete member list (NAMES), keeping what
// we knew about users who are still there.
func (t *tracker) replaceMembers(fold func(string) string, ch *chanState, list *memberAcc) {
	old := ch.members
	ch.members = make(map[string]string, min(len(list.members), ch.capacity))
	for _, m := range list.members {
		if len(ch.members) >= ch.capacity {
			break
		}
		k := fold(m.Nick)
		if _, dup := ch.members[k]; dup {
			continue
		}
		k = strings.Clone(k)
		ch.members[k] = m.Prefixes
		if _, had := old[k]; had {
			delete(old, k)
		} else {
			if t.users[k] == nil {
				t.users[k] = &userState{}
			}
			t.users[k].refs++
		}
		t.updateUser(k, m)
	}
	for k := range old {
		t.unref(k)
	}
	ch.count = max(list.count, len(ch.members))
	ch.synced = true
}

// member returns a member of a tracked channel.
func (t *tracker) member(ch *chanState, k string) Member {
	m := Member{Prefixes: ch.members[k]}
	if u := t.users[k]; u != nil {
		m.Nick, m.User, m.Host, m.Account, m.Realname, m.Away = u.nick, u.user, u.host, u.account, u.realname, u.away
	}
	return m
}

func (t *tracker) snapshot(ch *chanState) Channel {
	out := Channel{
		Name: ch.name, Topic: ch.topic, TopicBy: ch.topicBy, TopicTime: ch.topicTime,
		ModesKnown: ch.modesKnown, Count: ch.count, Synced: ch.synced,
		Modes:   make(map[rune]string, len(ch.modes)),
		Members: make([]Member, 0, len(ch.members)),
	}
	for k, v := range ch.modes {
		out.Modes[k] = v
	}
	keys := make([]string, 0, len(ch.members))
	for k := range ch.members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out.Members = append(out.Members, t.member(ch, k))
	}
	out.Truncated = out.Count > len(out.Members)
	return out
}

// Channels returns the names of the channels we are in (none while
// disconnected), sorted.
func (c *Conn) Channels() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil
	}
	out := make([]string, 0, len(c.sess.track.chans))
	for _, ch := range c.sess.track.chans {
		out = append(out, ch.name)
	}
	slices.Sort(out)
	return out
}

// Channel returns the tracked state of a channel we are in.
func (c *Conn) Channel(name string) (Channel, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return Channel{}, false
	}
	t := &c.sess.track
	ch := t.chans[c.casemap.Fold(name)]
	if ch == nil {
		return Channel{}, false
	}
	return t.snapshot(ch), true
}

// Member returns what we know about nick in a channel we are in; false if
// the nick is not a tracked member.
func (c *Conn) Member(channel, nick string) (Member, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return Member{}, false
	}
	t := &c.sess.track
	ch := t.chans[c.casemap.Fold(channel)]
	if ch == nil {
		return Member{}, false
	}
	k := c.casemap.Fold(nick)
	if _, ok := ch.members[k]; !ok {
		return Member{}, false
	}
	return t.member(ch, k), true
}

// SharedChannels returns the tracked channels we share with nick.
func (c *Conn) SharedChannels(nick string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil
	}
	return c.sess.track.channelsOf(c.casemap.Fold(nick))
}

// sourceOf is the sender of a line.
func sourceOf(m *ircmsg.Message) Source {
	nuh, _ := ircmsg.ParseNUH(m.Source)
	src := Source{Nick: nuh.Name, User: nuh.User, Host: nuh.Host}
	src.Server = m.Source == "" || (nuh.User == "" && nuh.Host == "" && strings.Contains(nuh.Name, "."))
	return src
}

// accountName maps the "not logged in" markers of extended-join ("*"),
// ACCOUNT ("*") and WHOX ("0") to "".
func accountName(a string) string {
	if a == "*" || a == "0" {
		return ""
	}
	return a
}

func (s *session) handleJoin(m *ircmsg.Message) {
	c := s.c
	name := param(m, 0)
	if name == "" || m.Source == "" {
		return
	}
	src := sourceOf(m)
	ev := Joined{Channel: name, User: src, Time: serverTime(m)}
	s.lockReader()
	if c.caps["extended-join"] && len(m.Params) >= 3 {
		ev.Account, ev.Realname = accountName(m.Params[1]), m.Params[2]
	}
	fold := c.casemap.Fold
	ev.Self = fold(src.Nick) == fold(c.nick)
	mem := Member{Nick: src.Nick, User: src.User, Host: src.Host, Account: ev.Account, Realname: ev.Realname}
	if ev.Self {
		s.learnSelfLocked(m)
		s.track.selfJoin(fold, name, mem)
	} else if ch := s.track.chans[fold(name)]; ch != nil {
		s.track.addMember(fold, ch, mem)
	}
	s.unlockReader()
	c.emit(ev)
}

func (s *session) handlePart(m *ircmsg.Message) {
	c := s.c
	name := param(m, 0)
	if name == "" || m.Source == "" {
		return
	}
	src := sourceOf(m)
	ev := Parted{Channel: name, User: src}
	if len(m.Params) > 1 {
		ev.Reason = m.Params[1]
	}
	s.lockReader()
	fold := c.casemap.Fold
	ev.Self = fold(src.Nick) == fold(c.nick)
	if ev.Self {
		s.track.dropChannel(fold(name))
	} else if ch := s.track.chans[fold(name)]; ch != nil {
		s.track.removeMember(ch, fold(src.Nick))
	}
	s.unlockReader()
	c.emit(ev)
}

func (s *session) handleKick(m *ircmsg.Message) {
	c := s.c
	name, nick := param(m, 0), param(m, 1)
	if name == "" || nick == "" {
		return
	}
	ev := Kicked{Channel: name, Nick: nick, By: sourceOf(m)}
	if len(m.Params) > 2 {
		ev.Reason = m.Params[2]
	}
	s.lockReader()
	fold := c.casemap.Fold
	ev.Self = fold(nick) == fold(c.nick)
	if ev.Self {
		s.track.dropChannel(fold(name))
	} else if ch := s.track.chans[fold(name)]; ch != nil {
		s.track.removeMember(ch, fold(nick))
	}
	s.unlockReader()
	c.emit(ev)
}

func (s *session) handleTopic(m *ircmsg.Message) {
	c := s.c
	name := param(m, 0)
	if name == "" || len(m.Params) < 2 {
		return
	}
	ev := TopicChanged{Channel: name, Topic: m.Params[1], By: sourceOf(m), Time: serverTime(m)}
	s.lockReader()
	s.track.setTopic(c.casemap.Fold, ev)
	s.unlockReader()
	c.emit(ev)
}

func (t *tracker) setTopic(fold func(string) string, ev TopicChanged) {
	if ch := t.chans[fold(ev.Channel)]; ch != nil {
		by := Source{Nick: strings.Clone(ev.By.Nick), User: strings.Clone(ev.By.User), Host: strings.Clone(ev.By.Host), Server: ev.By.Server}
		ch.topic, ch.topicBy, ch.topicTime = strings.Clone(ev.Topic), by, ev.Time
	}
}

// flushTopic reports an RPL_TOPIC that no RPL_TOPICWHOTIME followed.
func (s *session) flushTopic() {
	c := s.c
	s.lockReader()
	ev := s.track.topic
	s.track.topic = nil
	if ev != nil {
		s.track.setTopic(c.casemap.Fold, *ev)
	}
	s.unlockReader()
	if ev != nil {
		c.emit(*ev)
	}
}

func (s *session) handleMode(m *ircmsg.Message) {
	c := s.c
	target := param(m, 0)
	s.lockReader()
	if len(m.Params) < 2 || !c.isChannelLocked(target) {
		s.unlockReader()
		return
	}
	is := c.isupportLocked()
	ev := ModeChanged{Channel: target, By: sourceOf(m), Changes: parseModes(&is, m.Params[1], m.Params[2:])}
	if ch := s.track.chans[c.casemap.Fold(target)]; ch != nil {
		s.track.applyModes(c.casemap.Fold, &is, ch, ev.Changes)
	}
	s.unlockReader()
	c.emit(ev)
}

func (s *session) handleInvite(m *ircmsg.Message) {
	c := s.c
	nick, name := param(m, 0), param(m, 1)
	if nick == "" || name == "" {
		return
	}
	s.lockReader()
	toMe := c.casemap.Fold(nick) == c.casemap.Fold(c.nick)
	s.unlockReader()
	c.emit(Invited{By: sourceOf(m), Nick: nick, Channel: name, ToMe: toMe})
}

// userChanged applies a change to a user we may track and reports it.
func (s *session) userChanged(nick string, f func(u *userState), ev Event) {
	c := s.c
	s.lockReader()
	if u := s.track.users[c.casemap.Fold(nick)]; u != nil {
		f(u)
	}
	s.unlockReader()
	c.emit(ev)
}

func (s *session) handleAway(m *ircmsg.Message) {
	nick := m.Nick()
	if nick == "" {
		return
	}
	msg := param(m, 0)
	away := msg != ""
	s.userChanged(nick, func(u *userState) { u.away = away }, AwayChanged{Nick: nick, Away: away, Message: msg})
}

func (s *session) handleAccount(m *ircmsg.Message) {
	nick := m.Nick()
	if nick == "" || len(m.Params) < 1 {
		return
	}
	acct := accountName(m.Params[0])
	s.userChanged(nick, func(u *userState) { u.account = acct }, AccountChanged{Nick: nick, Account: acct})
}

func (s *session) handleSetname(m *ircmsg.Message) {
	nick := m.Nick()
	if nick == "" || len(m.Params) < 1 {
		return
	}
	rn := m.Params[0]
	s.userChanged(nick, func(u *userState) { u.realname = rn }, RealnameChanged{Nick: nick, Realname: rn})
}

// handleChghost follows a user name or host change, ours included (our
// host is part of LineBudget).
func (s *session) handleChghost(m *ircmsg.Message) {
	c := s.c
	nick := m.Nick()
	if nick == "" || len(m.Params) < 2 {
		return
	}
	user, host := m.Params[0], m.Params[1]
	s.lockReader()
	self := c.casemap.Fold(nick) == c.casemap.Fold(c.nick)
	if self {
		c.setHostLocked(user, host, hostShown)
	}
	s.unlockReader()
	s.userChanged(nick, func(u *userState) { u.user, u.host = user, host }, HostChanged{Nick: nick, User: user, Host: host, Self: self})
}

// parseNamesEntry splits one RPL_NAMREPLY entry: status symbols (all of
// them with multi-prefix), then the nick, and with userhost-in-names
// "!user@host".
func parseNamesEntry(entry, symbols string) Member {
	i := 0
	for i < len(entry) && strings.IndexByte(symbols, entry[i]) >= 0 {
		i++
	}
	m := Member{Prefixes: entry[:i]}
	rest := entry[i:]
	nick, uh, ok := strings.Cut(rest, "!")
	m.Nick = nick
	if ok {
		m.User, m.Host, _ = strings.Cut(uh, "@")
	}
	return m
}

// orderPrefixes sorts status symbols by rank (PREFIX order) and drops
// duplicates and unknown ones. The result never shares memory with got
// (a part of the server's line).
func orderPrefixes(symbols, got string) string {
	switch len(got) {
	case 0:
		return ""
	case 1:
		if i := strings.IndexByte(symbols, got[0]); i >= 0 {
			return symbols[i : i+1]
		}
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(symbols); i++ {
		if strings.IndexByte(got, symbols[i]) >= 0 {
			b.WriteByte(symbols[i])
		}
	}
	return b.String()
}

// namesReply collects one RPL_NAMREPLY: "<me> [=*@] <channel> :<entries>".
func (s *session) namesReply(m *ircmsg.Message) {
	c := s.c
	if len(m.Params) < 3 {
		return
	}
	name := m.Params[len(m.Params)-2]
	s.lockReader()
	defer s.unlockReader()
	k := c.casemap.Fold(name)
	acc := s.track.names[k]
	if acc == nil {
		if len(s.track.names) >= maxPendingLists {
			return
		}
		acc = &memberAcc{channel: name}
		s.track.names[k] = acc
	}
	symbols := c.isup.PrefixSymbols
	for _, e := range strings.Fields(lastParam(m)) {
		mem := parseNamesEntry(e, symbols)
		if mem.Nick == "" {
			continue
		}
		mem.Prefixes = orderPrefixes(symbols, mem.Prefixes)
		acc.add(mem, s.track.max.MaxMembers)
	}
}

// namesEnd completes a NAMES reply: "<me> <channel> :End of /NAMES list."
func (s *session) namesEnd(m *ircmsg.Message) {
	c := s.c
	name := param(m, 1)
	s.lockReader()
	k := c.casemap.Fold(name)
	acc := s.track.names[k]
	delete(s.track.names, k)
	if name == "*" {
		clear(s.track.names)
	}
	if acc == nil {
		acc = &memberAcc{channel: name}
	}
	if ch := s.track.chans[k]; ch != nil {
		s.track.replaceMembers(c.casemap.Fold, ch, acc)
		if len(acc.members) > ch.capacity {
			acc.members = acc.members[:ch.capacity]
		}
	}
	s.unlockReader()
	c.emit(Names{Channel: acc.channel, Members: acc.members, Count: acc.count})
}

// topicReply handles RPL_NOTOPIC, RPL_TOPIC and RPL_TOPICWHOTIME.
func (s *session) topicReply(m *ircmsg.Message) {
	c := s.c
	name := param(m, 1)
	switch m.Command {
	case "331":
		ev := TopicChanged{Channel: name, Current: true}
		s.lockReader()
		s.track.setTopic(c.casemap.Fold, ev)
		s.unlockReader()
		c.emit(ev)
	case "332":
		s.lockReader()
		s.track.topic = &TopicChanged{Channel: name, Topic: lastParam(m), Current: true}
		s.unlockReader()
	case "333":
		s.lockReader()
		ev := s.track.topic
		s.track.topic = nil
		if ev == nil || c.casemap.Fold(ev.Channel) != c.casemap.Fold(name) {
			s.unlockReader()
			return
		}
		nuh, _ := ircmsg.ParseNUH(param(m, 2))
		ev.By = Source{Nick: nuh.Name, User: nuh.User, Host: nuh.Host}
		if n := atoiOr0(param(m, 3)); n > 0 {
			ev.Time = time.Unix(int64(n), 0)
		}
		s.track.setTopic(c.casemap.Fold, *ev)
		s.unlockReader()
		c.emit(*ev)
	}
}

// modesReply handles RPL_CHANNELMODEIS: "<me> <channel> <modes> [params]".
func (s *session) modesReply(m *ircmsg.Message) {
	c := s.c
	name := param(m, 1)
	if name == "" || len(m.Params) < 3 {
		return
	}
	s.lockReader()
	is := c.isupportLocked()
	ev := ModeChanged{Channel: name, Changes: parseModes(&is, m.Params[2], m.Params[3:]), Current: true}
	if ch := s.track.chans[c.casemap.Fold(name)]; ch != nil {
		clear(ch.modes)
		s.track.applyModes(c.casemap.Fold, &is, ch, ev.Changes)
		ch.modesKnown = true
	}
	s.unlockReader()
	c.emit(ev)
}

func (s *session) handleQuit(m *ircmsg.Message) {
	c := s.c
	nick := m.Nick()
	s.lockReader()
	chans := s.track.quit(c.casemap.Fold(nick))
	s.unlockReader()
	c.emit(Quit{Nick: nick, Reason: param(m, 0), Channels: chans})
	s.maybeReclaim(nick)
}
