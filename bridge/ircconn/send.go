package ircconn

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
)

// outMsg is one message (or one raw line) in the send queue. All fields
// except the immutable first group are guarded by Conn.mu.
type outMsg struct {
	target string
	kind   Kind
	raw    bool    // lines are complete protocol lines; no confirmation
	op     *chanOp // raw: a channel command, confirmed by its PONG (chanops.go)
	auto   bool    // SendOptions.Automatic: queued behind user messages
	lines  []string
	done   chan sendResult // buffered 1

	active     bool // taken by a writer
	cancelled  bool // the caller gave up before the first line
	written    int
	allWritten bool
	confirm    bool // the server will confirm each line
	confirmed  int
	finished   bool
	timer      *time.Timer
	refs       []*lineRef
	receipt    Receipt
}

type sendResult struct {
	receipt Receipt
	err     error
}

// lineRef is one written line waiting for the server's confirmation.
type lineRef struct {
	msg      *outMsg
	label    string // labeled-response mode
	key      string // echo mode: casefolded target, folded when written
	resolved bool
}

// SendOptions classify a message for the send queue.
type SendOptions struct {
	// Automatic marks a message the bridge sends by itself, not on the
	// user's behalf (OTR key exchange, query and error answers). Automatic
	// messages wait until no user message is queued, are limited by
	// Config.AutoReplies, and are dropped with ErrDropped when they cannot
	// start in time.
	Automatic bool
	// StaleAfter is how long an automatic message may wait for its first
	// line to be written before it is dropped; 0 means
	// Config.AutoReplies.StaleAfter. User messages are never dropped.
	StaleAfter time.Duration
}

// Send sends one message of one or more lines to target (a nick, or a
// channel) on the user's behalf, as a unit: no line of another message goes
// out between its lines. Every line must be non-empty, free of CR/LF/NUL and
// at most LineBudget(target, kind) bytes, or nothing is sent. See the
// package documentation for when Send returns and which errors it reports.
func (c *Conn) Send(ctx context.Context, target string, kind Kind, lines []string) (Receipt, error) {
	return c.SendWith(ctx, target, kind, lines, SendOptions{})
}

// SendWith is Send with options; SendOptions{Automatic: true} sends an
// automatic reply.
func (c *Conn) SendWith(ctx context.Context, target string, kind Kind, lines []string, opts SendOptions) (Receipt, error) {
	if !validTarget(target) {
		return Receipt{}, ErrBadTarget
	}
	if kind < Privmsg || kind > Action {
		return Receipt{}, fmt.Errorf("ircconn: unknown message kind %d", kind)
	}
	if len(lines) == 0 {
		return Receipt{}, ErrBadLine
	}
	budget := c.LineBudget(target, kind)
	for i, l := range lines {
		if l == "" || strings.ContainsAny(l, "\r\n\x00") || (kind == Action && strings.Contains(l, "\x01")) {
			return Receipt{}, fmt.Errorf("line %d: %w", i+1, ErrBadLine)
		}
		if len(l) > budget {
			return Receipt{}, fmt.Errorf("line %d: %w (%d > %d bytes)", i+1, ErrLineTooLong, len(l), budget)
		}
	}
	m := &outMsg{
		target: target,
		kind:   kind,
		auto:   opts.Automatic,
		lines:  append([]string(nil), lines...),
		done:   make(chan sendResult, 1),
	}
	if !m.auto {
		return c.submit(ctx, m, 0)
	}
	if !c.autoBudget.Allow() {
		return Receipt{}, fmt.Errorf("%w: over the budget for automatic messages", ErrDropped)
	}
	stale := opts.StaleAfter
	if stale <= 0 {
		stale = c.cfg.AutoReplies.StaleAfter
	}
	return c.submit(ctx, m, stale)
}

// Raw sends one protocol line (admin use), paced like messages. It returns
// once the line is written; replies arrive as events (usually Numeric).
func (c *Conn) Raw(ctx context.Context, line string) error {
	line = strings.TrimRight(line, "\r\n")
	if line == "" || strings.ContainsAny(line, "\r\n\x00") {
		return ErrBadLine
	}
	msg, err := ircmsg.ParseLine(line)
	if err != nil || msg.Source != "" {
		return ErrBadLine
	}
	if len(line)+2 > 512 {
		return ErrLineTooLong
	}
	m := &outMsg{raw: true, lines: []string{line}, done: make(chan sendResult, 1)}
	_, err = c.submit(ctx, m, 0)
	return err
}

// submit queues m and waits for its result. An automatic message that has
// not started after stale is withdrawn and fails with ErrDropped.
func (c *Conn) submit(ctx context.Context, m *outMsg, stale time.Duration) (Receipt, error) {
	c.mu.Lock()
	select {
	case <-c.closed:
		c.mu.Unlock()
		return Receipt{}, ErrClosed
	default:
	}
	switch c.state {
	case Disconnected, BadCredentials, Fatal:
		c.mu.Unlock()
		return Receipt{}, fmt.Errorf("%w (%s)", ErrStopped, c.state)
	}
	if m.auto {
		c.autoQueue = append(c.autoQueue, m)
	} else {
		c.queue = append(c.queue, m)
	}
	c.mu.Unlock()
	c.kick()

	qt := time.NewTimer(c.cfg.QueueTimeout)
	defer qt.Stop()
	var staleC <-chan time.Time
	if stale > 0 {
		st := time.NewTimer(stale)
		defer st.Stop()
		staleC = st.C
	}
	for {
		select {
		case r := <-m.done:
			return r.receipt, r.err
		case <-staleC:
			if c.cancel(m) {
				return Receipt{}, fmt.Errorf("%w: not sent within %v", ErrDropped, stale)
			}
			// Already being written: it completes like any message.
		case <-ctx.Done():
			if c.cancel(m) {
				return Receipt{}, ctx.Err()
			}
			select {
			case r := <-m.done:
				return r.receipt, r.err
			default:
			}
			return Receipt{}, fmt.Errorf("%w (the message was already being sent)", ctx.Err())
		case <-qt.C:
			// Only waiting for a connection times out here; a long queue on
			// a live connection is bounded by the caller's context.
			if c.State() == Connected {
				qt.Reset(c.cfg.QueueTimeout)
				continue
			}
			if c.cancel(m) {
				return Receipt{}, ErrNotConnected
			}
		}
	}
}

// kick tells the writer that the queues changed, starting it if it does
// not run. Call it without holding c.mu.
func (c *Conn) kick() {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		s.wakeWriter()
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// cancel withdraws m if none of it was written yet.
func (c *Conn) cancel(m *outMsg) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.finished || m.written > 0 {
		return false
	}
	m.cancelled = true
	m.finished = true
	q := c.queueOfLocked(m)
	for i, e := range *q {
		if e == m {
			*q = append((*q)[:i:i], (*q)[i+1:]...)
			break
		}
	}
	return true
}

// queueOfLocked returns the queue m waits in: user messages and raw lines,
// or automatic messages.
func (c *Conn) queueOfLocked(m *outMsg) *[]*outMsg {
	if m.auto {
		return &c.autoQueue
	}
	return &c.queue
}

// pending reports whether s's writer has a message to take.
func (c *Conn) pending(s *session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return s.ready && (len(c.queue) > 0 || len(c.autoQueue) > 0)
}

// nextMsg takes the next message for s's writer once s is ready: the oldest
// user message, or if there is none the oldest automatic one.
func (c *Conn) nextMsg(s *session) *outMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.ready || len(s.prio) > 0 {
		// protocol lines first (IDENTIFY must precede messages)
		return nil
	}
	for _, q := range []*[]*outMsg{&c.queue, &c.autoQueue} {
		for len(*q) > 0 {
			m := (*q)[0]
			*q = (*q)[1:]
			if m.finished {
				continue
			}
			m.active = true
			return m
		}
	}
	return nil
}

// unstart puts a message whose first line was never written back at the head
// of its queue for the next connection.
func (c *Conn) unstart(m *outMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.written > 0 || m.finished {
		return // endSession fails it
	}
	m.active = false
	q := c.queueOfLocked(m)
	*q = append([]*outMsg{m}, *q...)
}

func (c *Conn) failQueueLocked(err error) {
	for _, m := range c.queue {
		c.finishLocked(m, err)
	}
	for _, m := range c.autoQueue {
		c.finishLocked(m, err)
	}
	c.queue, c.autoQueue = nil, nil
}

func (c *Conn) finishLocked(m *outMsg, err error) {
	if m.finished {
		return
	}
	m.finished = true
	if m.timer != nil {
		m.timer.Stop()
	}
	r := sendResult{receipt: m.receipt, err: err}
	if err != nil {
		r.receipt = Receipt{}
	}
	m.done <- r
}

// buildLineLocked serialises line i of m and registers what confirms it.
func (s *session) buildLineLocked(m *outMsg, i int) ([]byte, error) {
	c := s.c
	if m.raw {
		if i == 0 && m.op != nil {
			s.startOpLocked(m)
		}
		return []byte(m.lines[i] + "\r\n"), nil
	}
	cmd, text := "PRIVMSG", m.lines[i]
	switch m.kind {
	case Notice:
		cmd = "NOTICE"
	case Action:
		text = "\x01ACTION " + text + "\x01"
	}
	if i == 0 {
		m.confirm = c.caps["labeled-response"] || c.caps["echo-message"]
	}
	var tags map[string]string
	ref := &lineRef{msg: m}
	if m.confirm {
		if c.caps["labeled-response"] {
			c.labelSeq++
			ref.label = "ob" + strconv.FormatUint(c.labelSeq, 36)
			tags = map[string]string{"label": ref.label}
			s.labels[ref.label] = ref
		} else {
			ref.key = c.casemap.Fold(m.target)
			s.echoQ[ref.key] = append(s.echoQ[ref.key], ref)
		}
		m.refs = append(m.refs, ref)
	}
	b, err := lineBytes(tags, cmd, m.target, text)
	if err != nil {
		return nil, fmt.Errorf("ircconn: cannot serialise line: %w", err)
	}
	return b, nil
}

// resolveLocked records the server's verdict on one line.
func (c *Conn) resolveLocked(s *session, ref *lineRef, err error, echo *ircmsg.Message) {
	if ref.resolved {
		return
	}
	ref.resolved = true
	m := ref.msg
	if ref.label != "" {
		delete(s.labels, ref.label)
	}
	if m.finished {
		return
	}
	if err != nil {
		c.finishLocked(m, err)
		s.dropRefsLocked(m)
		return
	}
	m.confirmed++
	if echo != nil {
		if ok, id := echo.GetTag("msgid"); ok && id != "" {
			m.receipt.MsgIDs = append(m.receipt.MsgIDs, id)
		}
		m.receipt.Time = serverTime(echo)
	} else {
		m.receipt.Time = time.Now()
	}
	c.checkDoneLocked(s, m)
}

func (c *Conn) checkDoneLocked(s *session, m *outMsg) {
	if m.finished || !m.allWritten {
		return
	}
	if m.confirm && m.confirmed < len(m.lines) {
		return
	}
	m.receipt.Confirmed = m.confirm
	c.finishLocked(m, nil)
	s.removeInflightLocked(m)
}

func (c *Conn) confirmTimeout(s *session, m *outMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.finished {
		return
	}
	c.finishLocked(m, ErrUnconfirmed)
	s.dropRefsLocked(m)
}

// dropRefsLocked forgets the unresolved lines of a finished message, so that
// confirmations that never come cannot be mistaken for those of later
// messages in the echo queue.
func (s *session) dropRefsLocked(m *outMsg) {
	for _, ref := range m.refs {
		if ref.resolved {
			continue
		}
		ref.resolved = true
		if ref.label != "" {
			delete(s.labels, ref.label)
			continue
		}
		q := s.echoQ[ref.key]
		for i, r := range q {
			if r == ref {
				s.echoQ[ref.key] = append(q[:i:i], q[i+1:]...)
				break
			}
		}
	}
	s.removeInflightLocked(m)
}

func (s *session) removeInflightLocked(m *outMsg) {
	for i, q := range s.inflight {
		if q == m {
			s.inflight = append(s.inflight[:i:i], s.inflight[i+1:]...)
			return
		}
	}
}

// popEchoLocked returns the oldest line to target waiting for an echo.
func (s *session) popEchoLocked(folded string) *lineRef {
	q := s.echoQ[folded]
	for len(q) > 0 {
		ref := q[0]
		q = q[1:]
		if !ref.resolved {
			if len(q) == 0 {
				delete(s.echoQ, folded)
			} else {
				s.echoQ[folded] = q
			}
			return ref
		}
	}
	delete(s.echoQ, folded)
	return nil
}

func validTarget(t string) bool {
	return t != "" && len(t) <= 200 && t[0] != ':' && !strings.ContainsAny(t, " ,\r\n\x00\x01")
}

func serverTime(m *ircmsg.Message) time.Time {
	if ok, v := m.GetTag("time"); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	return time.Now()
}
