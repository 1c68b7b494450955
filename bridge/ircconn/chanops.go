package ircconn

// Channel commands: JOIN, PART, TOPIC, KICK, MODE, INVITE, and the
// queries that refresh the tracker (MODE, WHO). Input is validated before
// anything is written. Each command goes through the send queue like a
// message, followed by "PING :<token>": a server answers one client's
// commands in order, so every reply to the command (the echo of our JOIN,
// an error numeric, or nothing at all for a change that changed nothing)
// has arrived when the PONG with the token does. That tells success from
// failure on every server, with or without labeled-response.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ergochat/irc-go/ircmsg"
)

// ChannelKey is a channel to join and its key ("" for none).
type ChannelKey struct {
	Channel, Key string
}

type opKind int

const (
	opJoin opKind = iota
	opPart
	opTopic
	opKick
	opMode
	opInvite
	opModeQuery
	opWho
)

// opErrors are the error numerics that answer each kind of command.
var opErrors = map[opKind]map[string]bool{
	opJoin:      set("403", "405", "407", "437", "470", "471", "473", "474", "475", "476", "477", "479", "480", "489", "515", "520"),
	opPart:      set("403", "442", "476"),
	opTopic:     set("403", "442", "476", "482"),
	opKick:      set("401", "403", "441", "442", "476", "482", "484"),
	opMode:      set("401", "403", "441", "442", "467", "472", "476", "478", "482", "484", "501", "696"),
	opInvite:    set("401", "403", "442", "443", "476", "482"),
	opModeQuery: set("403", "442", "476"),
	opWho:       set(),
}

// channelErrors are the numerics about a channel that ChannelError
// reports when no command of ours waits for them.
var channelErrors = set("403", "404", "405", "437", "441", "442", "443", "467", "470", "471", "473", "474", "475",
	"476", "477", "478", "479", "480", "482", "489", "515", "520", "696")

func set(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// chanOp is a channel command in flight, carried by its outMsg. Guarded by
// Conn.mu.
type chanOp struct {
	kind  opKind
	token string
	chans []string          // folded channels, in order
	names map[string]string // folded channel -> as given
	nicks []string          // folded nicks the command names (KICK, INVITE, MODE +o)
	errs  map[string]error  // first error per folded channel
	err   error             // first error about no channel (401, 472)
	// WHO: the members received, whether with WHOX (accounts), and
	// whether RPL_ENDOFWHO came.
	who     *memberAcc
	whox    bool
	whoDone bool
}

// fenceSeq numbers the PING tokens; unique per process, so per connection.
var fenceSeq atomic.Uint64

const fencePrefix = "otrb-"

func newChanOp(kind opKind, fold func(string) string, channels ...string) *chanOp {
	op := &chanOp{kind: kind, names: map[string]string{}, errs: map[string]error{}}
	for _, ch := range channels {
		k := fold(ch)
		if _, dup := op.names[k]; dup {
			continue
		}
		op.chans = append(op.chans, k)
		op.names[k] = ch
	}
	op.token = fencePrefix + strconv.FormatUint(fenceSeq.Add(1), 36)
	return op
}

// firstErr is the error of a single-channel command.
func (op *chanOp) firstErr() error {
	if op.err != nil {
		return op.err
	}
	for _, k := range op.chans {
		if e := op.errs[k]; e != nil {
			return e
		}
	}
	return nil
}

// runOp sends the lines and the fence, and waits for the PONG.
func (c *Conn) runOp(ctx context.Context, op *chanOp, lines []string) error {
	for _, l := range lines {
		if len(l)+2 > 512 {
			return fmt.Errorf("%w (%d > 510 bytes)", ErrLineTooLong, len(l))
		}
	}
	m := &outMsg{raw: true, lines: append(lines, "PING :"+op.token), op: op, done: make(chan sendResult, 1)}
	_, err := c.submit(ctx, m, 0)
	return err
}

// startOpLocked registers a command whose first line is being written:
// from now on, replies may arrive. The PONG confirms it.
func (s *session) startOpLocked(m *outMsg) {
	m.confirm = true
	s.ops = slices.DeleteFunc(s.ops, func(o *outMsg) bool { return o.finished })
	s.ops = append(s.ops, m)
}

// handlePong completes the command a fence token belongs to.
func (s *session) handlePong(m *ircmsg.Message) {
	token := lastParam(m)
	if !strings.HasPrefix(token, fencePrefix) {
		return
	}
	c := s.c
	s.lockReader()
	defer s.unlockReader()
	i := slices.IndexFunc(s.ops, func(o *outMsg) bool { return o.op.token == token })
	if i < 0 {
		return
	}
	om := s.ops[i]
	s.ops = slices.Delete(s.ops, i, i+1)
	if om.finished {
		return
	}
	op := om.op
	var err error
	if op.kind == opJoin {
		for _, k := range op.chans {
			if op.errs[k] == nil && s.track.chans[k] == nil {
				op.errs[k] = fmt.Errorf("%w: %s", ErrNotJoined, op.names[k])
			}
		}
	} else {
		err = op.firstErr()
	}
	om.confirmed = len(om.lines)
	if err != nil {
		c.finishLocked(om, err)
		s.removeInflightLocked(om)
		return
	}
	c.checkDoneLocked(s, om)
}

// opErrorLocked gives an error numeric to the oldest command in flight it
// answers. It reports whether one took it.
func (s *session) opErrorLocked(code, channel, nick, text string) bool {
	fold := s.c.casemap.Fold
	for _, om := range s.ops {
		op := om.op
		if om.finished || !opErrors[op.kind][code] {
			continue
		}
		switch {
		case channel != "":
			k := fold(channel)
			if !slices.Contains(op.chans, k) {
				continue
			}
			if op.errs[k] == nil {
				op.errs[k] = &PeerError{Target: channel, Code: code, Text: text}
			}
			return true
		case nick != "":
			if !slices.Contains(op.nicks, fold(nick)) {
				continue
			}
		}
		if op.err == nil {
			target := nick
			if target == "" && len(op.chans) > 0 {
				target = op.names[op.chans[0]]
			}
			op.err = &PeerError{Target: target, Code: code, Text: text}
		}
		return true
	}
	return false
}

// channelNumeric handles an error numeric that may be about a channel:
// it fails the command it answers, or is reported as ChannelError. It
// returns false for numerics left to the rest of handleNumeric (errors
// for a message Send waits for, and numerics about nicks).
func (s *session) channelNumeric(m *ircmsg.Message) bool {
	c := s.c
	code := m.Command
	if !channelErrors[code] && code != "401" && code != "472" {
		return false
	}
	var channel, nick string
	text := lastParam(m)
	switch code {
	case "401": // <me> <nick> :No such nick
		nick = param(m, 1)
	case "472": // <me> <char> :is not a recognised channel mode
	case "441", "443": // <me> <nick> <channel> :...
		nick, channel = param(m, 1), param(m, 2)
	case "470": // <me> <channel> <forwarded to> :...
		channel = param(m, 1)
		if to := param(m, 2); len(m.Params) > 3 && to != "" {
			text = "forwarded to " + to + ": " + text
		}
	default:
		channel = param(m, 1)
	}
	s.lockReader()
	if channel != "" && !c.isChannelLocked(channel) {
		s.unlockReader()
		return false
	}
	taken := s.opErrorLocked(code, channel, nick, text)
	s.unlockReader()
	switch {
	case taken:
		return true
	case channel == "" || peerErrors[code]:
		// about a nick, or possibly about a message: peerError decides
		return false
	}
	c.emit(ChannelError{Channel: channel, Nick: nick, Code: code, Text: text})
	return true
}

// checkChannelName validates a channel name against the server's
// CHANTYPES and CHANNELLEN (200 bytes until the server said).
func checkChannelName(is *ISupport, name string) error {
	limit := is.ChannelLen
	if limit <= 0 {
		limit = 200
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadChannel)
	case len(name) > limit:
		return fmt.Errorf("%w: %d bytes, the server allows %d", ErrBadChannel, len(name), limit)
	case strings.IndexByte(is.ChanTypes, name[0]) < 0:
		return fmt.Errorf("%w: %.50q does not start with one of %q", ErrBadChannel, name, is.ChanTypes)
	case strings.ContainsAny(name, " ,:") || hasControl(name):
		return fmt.Errorf("%w: %.50q contains a space, comma, colon or control character", ErrBadChannel, name)
	}
	return nil
}

// checkKey validates a channel key (KEYLEN, 64 bytes until the server said).
func checkKey(is *ISupport, key string) error {
	limit := is.KeyLen
	if limit <= 0 {
		limit = 64
	}
	switch {
	case key == "":
		return nil
	case len(key) > limit:
		return fmt.Errorf("%w: %d bytes, the server allows %d", ErrBadKey, len(key), limit)
	case key[0] == ':' || strings.ContainsAny(key, " ,") || hasControl(key):
		return fmt.Errorf("%w: it contains a space, comma, control character or starts with a colon", ErrBadKey)
	}
	return nil
}

// checkText validates a reason or topic: no CR, LF or NUL, at most limit
// bytes when the server announced one.
func checkText(text string, limit int, what string) error {
	if strings.ContainsAny(text, "\r\n\x00") {
		return fmt.Errorf("%s: %w", what, ErrBadLine)
	}
	if limit > 0 && len(text) > limit {
		return fmt.Errorf("%s: %w (%d > %d bytes)", what, ErrLineTooLong, len(text), limit)
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// Join joins channel, with key if not empty, and waits for the server's
// answer: nil once we are in the channel (also when we already were; then
// nothing is sent), a *PeerError for the server's refusal (471 full, 473
// invite only, 474 banned, 475 bad key, 405 too many channels, ...),
// ErrNotJoined when the server answered nothing. Invalid input fails before
// anything is written (ErrBadChannel, ErrBadKey, ErrTooManyChannels).
func (c *Conn) Join(ctx context.Context, channel, key string) error {
	res, err := c.JoinAll(ctx, []ChannelKey{{channel, key}})
	if err != nil {
		return err
	}
	return res[0]
}

// JoinAll joins several channels at once (after a reconnect: the stored
// list), packing them into as few JOIN lines as fit in 512 bytes and the
// server's TARGMAX, channels with keys first in each line as JOIN
// requires. It returns one result per entry, as Join would; the error is
// for the whole call (invalid input: nothing was sent; or the connection).
func (c *Conn) JoinAll(ctx context.Context, chans []ChannelKey) ([]error, error) {
	if len(chans) == 0 {
		return nil, nil
	}
	is := c.ISupport()
	for i, ck := range chans {
		if err := checkChannelName(&is, ck.Channel); err != nil {
			return nil, fmt.Errorf("channel %d: %w", i+1, err)
		}
		if err := checkKey(&is, ck.Key); err != nil {
			return nil, fmt.Errorf("channel %d: %w", i+1, err)
		}
	}
	fold := is.Casemapping.Fold
	c.mu.Lock()
	var todo []ChannelKey
	seen := map[string]bool{}
	tracked := 0
	maxChans := c.cfg.Channels.MaxChannels
	if c.sess != nil {
		tracked = len(c.sess.track.chans)
		for _, ck := range chans {
			k := fold(ck.Channel)
			if c.sess.track.chans[k] == nil && !seen[k] {
				seen[k] = true
				todo = append(todo, ck)
			}
		}
	} else {
		for _, ck := range chans {
			if k := fold(ck.Channel); !seen[k] {
				seen[k] = true
				todo = append(todo, ck)
			}
		}
	}
	c.mu.Unlock()
	if tracked+len(todo) > maxChans {
		return nil, fmt.Errorf("%w: %d + %d > %d", ErrTooManyChannels, tracked, len(todo), maxChans)
	}
	results := make([]error, len(chans))
	if len(todo) == 0 {
		return results, nil
	}
	names := make([]string, len(todo))
	for i, ck := range todo {
		names[i] = ck.Channel
	}
	op := newChanOp(opJoin, fold, names...)
	if err := c.runOp(ctx, op, joinLines(todo, is.MaxTargets("JOIN"))); err != nil {
		return nil, err
	}
	c.mu.Lock()
	for i, ck := range chans {
		results[i] = op.errs[fold(ck.Channel)]
	}
	c.mu.Unlock()
	return results, nil
}

// joinLines packs channels into JOIN lines of at most 510 bytes and
// maxTargets channels (0: no limit), keyed channels first.
func joinLines(chans []ChannelKey, maxTargets int) []string {
	sorted := slices.Clone(chans)
	slices.SortStableFunc(sorted, func(a, b ChannelKey) int {
		switch {
		case a.Key != "" && b.Key == "":
			return -1
		case a.Key == "" && b.Key != "":
			return 1
		}
		return 0
	})
	var lines []string
	var names, keys []string
	size := 0 // len("JOIN " + names + " " + keys) so far
	flush := func() {
		if len(names) == 0 {
			return
		}
		l := "JOIN " + strings.Join(names, ",")
		if len(keys) > 0 {
			l += " " + strings.Join(keys, ",")
		}
		lines = append(lines, l)
		names, keys, size = nil, nil, 0
	}
	for _, ck := range sorted {
		add := len(ck.Channel) + 1 // the comma or the space
		if ck.Key != "" {
			add += len(ck.Key) + 1
		}
		if len(names) > 0 && (len("JOIN ")+size+add > 510 || (maxTargets > 0 && len(names) >= maxTargets)) {
			flush()
		}
		names = append(names, ck.Channel)
		if ck.Key != "" {
			keys = append(keys, ck.Key)
		}
		size += add
	}
	flush()
	return lines
}

// Part leaves channel with an optional reason and waits for the server's
// answer (*PeerError 442 when we are not in it).
func (c *Conn) Part(ctx context.Context, channel, reason string) error {
	is := c.ISupport()
	if err := checkChannelName(&is, channel); err != nil {
		return err
	}
	if err := checkText(reason, 0, "part reason"); err != nil {
		return err
	}
	line := "PART " + channel
	if reason != "" {
		line += " :" + reason
	}
	return c.runOp(ctx, newChanOp(opPart, is.Casemapping.Fold, channel), []string{line})
}

// Topic sets (or with "" clears) a channel's topic and waits for the
// server's answer (*PeerError 482 without the privilege under +t).
func (c *Conn) Topic(ctx context.Context, channel, topic string) error {
	is := c.ISupport()
	if err := checkChannelName(&is, channel); err != nil {
		return err
	}
	if err := checkText(topic, is.TopicLen, "topic"); err != nil {
		return err
	}
	return c.runOp(ctx, newChanOp(opTopic, is.Casemapping.Fold, channel), []string{"TOPIC " + channel + " :" + topic})
}

// Kick removes nick from channel and waits for the server's answer
// (*PeerError 482 without the privilege, 441 when nick is not there).
func (c *Conn) Kick(ctx context.Context, channel, nick, reason string) error {
	is := c.ISupport()
	if err := checkChannelName(&is, channel); err != nil {
		return err
	}
	if !validNick(nick) {
		return fmt.Errorf("%w: %.50q is not a nick", ErrBadTarget, nick)
	}
	if err := checkText(reason, is.KickLen, "kick reason"); err != nil {
		return err
	}
	op := newChanOp(opKick, is.Casemapping.Fold, channel)
	op.nicks = []string{is.Casemapping.Fold(nick)}
	line := "KICK " + channel + " " + nick
	if reason != "" {
		line += " :" + reason
	}
	return c.runOp(ctx, op, []string{line})
}

// Invite invites nick to channel and waits for the server's answer.
func (c *Conn) Invite(ctx context.Context, nick, channel string) error {
	is := c.ISupport()
	if err := checkChannelName(&is, channel); err != nil {
		return err
	}
	if !validNick(nick) {
		return fmt.Errorf("%w: %.50q is not a nick", ErrBadTarget, nick)
	}
	op := newChanOp(opInvite, is.Casemapping.Fold, channel)
	op.nicks = []string{is.Casemapping.Fold(nick)}
	return c.runOp(ctx, op, []string{"INVITE " + nick + " " + channel})
}

// Mode changes channel modes (+o nick, +b mask, +k key, +l 10, +m, ...)
// and waits for the server's answer. Each change is checked against the
// server's PREFIX and CHANMODES first (ErrBadMode: unknown letter, missing
// or surplus parameter); the changes go out in as many MODE lines as the
// server's MODES limit needs. A change that changes nothing is no error.
func (c *Conn) Mode(ctx context.Context, channel string, changes ...ModeChange) error {
	is := c.ISupport()
	if err := checkChannelName(&is, channel); err != nil {
		return err
	}
	if len(changes) == 0 {
		return fmt.Errorf("%w: no change", ErrBadMode)
	}
	op := newChanOp(opMode, is.Casemapping.Fold, channel)
	checked := make([]ModeChange, len(changes))
	for i, mc := range changes {
		var err error
		if checked[i], err = checkModeChange(&is, mc); err != nil {
			return err
		}
		if checked[i].Kind == ModePrefix {
			op.nicks = append(op.nicks, is.Casemapping.Fold(mc.Param))
		}
	}
	return c.runOp(ctx, op, modeLines(channel, checked, is.Modes))
}

// RefreshModes asks for a channel's modes; the tracker then knows them all
// (Channel.ModesKnown) and a ModeChanged with Current is reported.
func (c *Conn) RefreshModes(ctx context.Context, channel string) error {
	is := c.ISupport()
	if err := checkChannelName(&is, channel); err != nil {
		return err
	}
	return c.runOp(ctx, newChanOp(opModeQuery, is.Casemapping.Fold, channel), []string{"MODE " + channel})
}

// whoxToken marks our WHOX replies (WHO with %t); any other token is
// someone else's query (Raw) and reported as a Numeric.
const whoxToken = "248"

// RefreshMembers asks the server who is in channel (WHO; WHOX where
// available, which adds accounts) and returns the members, at most
// Config.Channels.MaxMembers. The tracker takes their user, host,
// realname, status, away state and account; a WhoList is reported too.
func (c *Conn) RefreshMembers(ctx context.Context, channel string) ([]Member, error) {
	is := c.ISupport()
	if err := checkChannelName(&is, channel); err != nil {
		return nil, err
	}
	op := newChanOp(opWho, is.Casemapping.Fold, channel)
	op.who = &memberAcc{channel: channel}
	line := "WHO " + channel
	if is.WHOX {
		op.whox = true
		line += " %tcuhnfar," + whoxToken
	}
	if err := c.runOp(ctx, op, []string{line}); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return op.who.members, nil
}

// whoOpLocked finds the WHO in flight for a channel.
func (s *session) whoOpLocked(channel string) *chanOp {
	k := s.c.casemap.Fold(channel)
	for _, om := range s.ops {
		if op := om.op; !om.finished && op.kind == opWho && !op.whoDone && op.chans[0] == k {
			return op
		}
	}
	return nil
}

// whoReply collects a RPL_WHOREPLY (352) or WHOX reply (354) to one of our
// WHO commands; others are left to the caller.
func (s *session) whoReply(m *ircmsg.Message) bool {
	c := s.c
	var channel string
	var mem Member
	var flags string
	switch {
	case m.Command == "354" && len(m.Params) >= 9 && m.Params[1] == whoxToken:
		// <me> <token> <channel> <user> <host> <nick> <flags> <account> :<realname>
		channel = m.Params[2]
		mem = Member{User: m.Params[3], Host: m.Params[4], Nick: m.Params[5], Account: accountName(m.Params[7]), Realname: m.Params[8]}
		flags = m.Params[6]
	case m.Command == "352" && len(m.Params) >= 8:
		// <me> <channel> <user> <host> <server> <nick> <flags> :<hops> <realname>
		channel = m.Params[1]
		mem = Member{User: m.Params[2], Host: m.Params[3], Nick: m.Params[5]}
		flags = m.Params[6]
		_, mem.Realname, _ = strings.Cut(m.Params[7], " ")
	default:
		return false
	}
	s.lockReader()
	defer s.unlockReader()
	op := s.whoOpLocked(channel)
	if op == nil {
		return m.Command == "354" // our token, but no longer waited for
	}
	mem.Away = strings.HasPrefix(flags, "G")
	var got []byte
	for i := 0; i < len(flags); i++ {
		if strings.IndexByte(c.isup.PrefixSymbols, flags[i]) >= 0 {
			got = append(got, flags[i])
		}
	}
	mem.Prefixes = orderPrefixes(c.isup.PrefixSymbols, string(got))
	op.who.add(mem, s.track.max.MaxMembers)
	return true
}

// whoEnd completes one of our WHO commands (RPL_ENDOFWHO).
func (s *session) whoEnd(m *ircmsg.Message) bool {
	c := s.c
	s.lockReader()
	op := s.whoOpLocked(param(m, 1))
	if op == nil {
		s.unlockReader()
		return false
	}
	op.whoDone = true
	acc := op.who
	if ch := s.track.chans[op.chans[0]]; ch != nil {
		for _, mem := range acc.members {
			k := c.casemap.Fold(mem.Nick)
			if _, in := ch.members[k]; !in {
				continue
			}
			ch.members[k] = mem.Prefixes
			s.track.updateUser(k, mem)
			u := s.track.users[k]
			u.away = mem.Away
			if op.whox {
				// WHOX says whether the member is logged in: "not" too.
				u.account = mem.Account
			}
		}
	}
	s.unlockReader()
	c.emit(WhoList{Channel: acc.channel, Members: acc.members, Count: acc.count})
	return true
}
