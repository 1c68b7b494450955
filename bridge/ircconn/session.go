package ircconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/ergochat/irc-go/ircreader"
	"golang.org/x/time/rate"
)

var (
	errReconnect   = errors.New("reconnect requested")
	errDisconnect  = errors.New("disconnect requested")
	errPingTimeout = errors.New("ping timeout")
	errDialPanic   = errors.New("the dial function panicked")
)

// session is one TCP/TLS connection: dial, registration, reader and writer.
// Fields below the mutex note are guarded by Conn.mu.
type session struct {
	c      *Conn
	ctx    context.Context
	cancel context.CancelFunc
	prio   chan *prioLine // pointers: an idle connection holds 64 slots of 8 bytes, not of 32
	done   chan struct{}
	once   sync.Once
	err    error // first cause of the end; read after done is closed

	ctcpReplies *rate.Limiter // CTCP answers: a CTCP flood must not make us flood

	ncMu sync.Mutex
	nc   net.Conn

	// The writer runs while there is something to write (wakeWriter) and
	// ends when there is not: an idle connection has no goroutine waiting
	// to write. wmu guards writing and ended and comes before Conn.mu.
	wmu     sync.Mutex
	writing bool
	ended   bool // serve is done: no more writers
	writers sync.WaitGroup
	pace    *pacer // the session's token bucket, kept between writers

	// Guarded by Conn.mu.
	registered bool // 001 seen
	readying   bool // becomeReady ran (once)
	ready      bool // Connected: messages may go out
	readyAt    time.Time
	inflight   []*outMsg
	labels     map[string]*lineRef
	batches    map[string]string // labeled-response batch ref -> label
	echoQ      map[string][]*lineRef
	capLS      map[string]string // the server's CAP LS offer, nil once the caps are requested
	capReqd    bool
	saslDone   bool
	nickTries  int
	away       map[string]string // last 301 text reported per folded nick
	track      tracker           // channels we are in (channels.go)
	pres       presence          // watched nicks (monitor.go)
	ops        []*outMsg         // channel commands waiting for their PONG (chanops.go)

	// Only the reader goroutine reads and writes it (lockReader).
	readerHoldsLock bool
}

type prioLine struct {
	line    []byte
	written chan struct{} // closed once written, may be nil
}

func newSession(c *Conn) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		c:           c,
		ctx:         ctx,
		cancel:      cancel,
		prio:        make(chan *prioLine, 64),
		pace:        newPacer(c.cfg.Flood),
		done:        make(chan struct{}),
		labels:      map[string]*lineRef{},
		batches:     map[string]string{},
		echoQ:       map[string][]*lineRef{},
		capLS:       map[string]string{},
		away:        map[string]string{},
		track:       newTracker(c.cfg.Channels),
		pres:        newPresence(),
		ctcpReplies: rate.NewLimiter(0.5, 3),
	}
}

// close ends the session with err as the cause (the first cause wins).
func (s *session) close(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
		s.cancel()
		s.ncMu.Lock()
		if s.nc != nil {
			s.nc.Close()
		}
		s.ncMu.Unlock()
	})
}

// quitAndClose sends QUIT and gives the writer a moment to put it on the
// wire before closing.
func (s *session) quitAndClose(reason string, cause error) {
	s.ncMu.Lock()
	dialing := s.nc == nil
	s.ncMu.Unlock()
	if dialing {
		s.close(cause)
		return
	}
	p := &prioLine{written: make(chan struct{})}
	p.line, _ = lineBytes(nil, "QUIT", reason)
	select {
	case s.prio <- p:
		s.wakeWriter()
		t := time.NewTimer(time.Second)
		select {
		case <-p.written:
		case <-t.C:
		case <-s.done:
		}
		t.Stop()
	default:
	}
	s.close(cause)
}

// send queues a protocol line that must not wait for the token bucket.
func (s *session) send(command string, params ...string) {
	b, err := lineBytes(nil, command, params...)
	if err != nil {
		s.c.log.Debug().Err(err).Str("command", command).Msg("not sending invalid line")
		return
	}
	select {
	case s.prio <- &prioLine{line: b}:
		s.wakeWriter()
	case <-s.done:
	}
}

// wakeWriter starts the writer unless it runs (or there is no connection
// yet: serve queues the first lines once there is). Call it after queueing
// a line or a message, without holding Conn.mu.
func (s *session) wakeWriter() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ncMu.Lock()
	dialed := s.nc != nil
	s.ncMu.Unlock()
	if s.writing || s.ended || !dialed {
		return
	}
	s.writing = true
	s.writers.Add(1)
	go func() {
		defer s.writers.Done()
		s.writer()
	}()
}

// writerIdle ends the writer if nothing is waiting for it; false means
// something arrived meanwhile. Producers queue first and wake the writer
// after, so that either this sees their work or they start a new writer.
func (s *session) writerIdle() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if len(s.prio) > 0 || s.c.pending(s) {
		return false
	}
	s.writing = false
	return true
}

func lineBytes(tags map[string]string, command string, params ...string) ([]byte, error) {
	m := ircmsg.MakeMessage(tags, "", command, params...)
	return m.LineBytesStrict(true, 0)
}

// serve runs one session to its end.
func (c *Conn) serve(s *session) {
	nc, err := c.dial(s.ctx)
	if err != nil {
		s.close(fmt.Errorf("connect: %w", err))
		return
	}
	s.ncMu.Lock()
	select {
	case <-s.done:
		s.ncMu.Unlock()
		nc.Close()
		return
	default:
	}
	s.nc = nc
	s.ncMu.Unlock()

	c.mu.Lock()
	c.sess = s
	c.caps = map[string]bool{}
	c.casemap = RFC1459
	c.chantypes = "#&"
	c.statusmsg = ""
	c.isup = defaultISupport()
	c.nick = c.wantNickLocked()
	c.user, c.host, c.hostSure = "", "", hostUnknown
	c.mu.Unlock()

	s.send("CAP", "LS", "302")
	if c.cfg.ServerPassword != "" {
		s.send("PASS", c.cfg.ServerPassword)
	}
	s.send("NICK", c.Nick())
	s.send("USER", c.cfg.Username, "0", "*", c.cfg.Realname)
	s.close(s.readLoop(nc))
	s.wmu.Lock()
	s.ended = true
	s.wmu.Unlock()
	s.writers.Wait()
}

// endSession cleans up after a session: every message that was (partly)
// written and not confirmed fails, and so do pending WHOIS/NICK requests.
// It reports whether the session was healthy: Connected for at least a
// minute (a server that kills us right after registration, e.g. for
// reconnecting too fast, must still see the backoff grow).
func (c *Conn) endSession(s *session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == s {
		c.sess = nil
	}
	if s.pres.poll != nil {
		s.pres.poll.Stop()
	}
	for _, m := range s.inflight {
		c.finishLocked(m, ErrConnectionLost)
	}
	s.inflight = nil
	if w := c.whois; w != nil {
		w.finish(ErrConnectionLost)
	}
	if n := c.nickReq; n != nil {
		n.finish(ErrConnectionLost)
	}
	return s.ready && time.Since(s.readyAt) >= time.Minute
}

func (s *session) readLoop(nc net.Conn) error {
	c := s.c
	var r ircreader.Reader
	r.Initialize(nc, 512, 8192+512)
	regDeadline := time.Now().Add(c.cfg.RegisterTimeout)
	lastRead := time.Now()
	var pingSent time.Time
	pingOut := false
	for {
		dl := lastRead.Add(c.cfg.PingInterval)
		if pingOut {
			dl = pingSent.Add(c.cfg.PingTimeout)
		}
		ready := s.isReady()
		if !ready && regDeadline.Before(dl) {
			dl = regDeadline
		}
		nc.SetReadDeadline(dl)
		line, err := r.ReadLine()
		if err != nil {
			select {
			case <-s.done:
				return s.err
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				now := time.Now()
				switch {
				case !s.isReady() && !now.Before(regDeadline):
					return errors.New("registration timed out")
				case pingOut:
					return errPingTimeout
				}
				pingOut = true
				pingSent = now
				s.send("PING", strconv.FormatInt(now.Unix(), 10))
				continue
			}
			return fmt.Errorf("read: %w", err)
		}
		lastRead = time.Now()
		pingOut = false
		if err := s.handleLine(line); err != nil {
			return err
		}
	}
}

// lineFault, when set (by tests only), is called with each parsed line
// before it is handled, where a bug in the handlers would panic.
var lineFault func(s *session, m *ircmsg.Message)

// handleLine parses and handles one line from the server. Most of it
// comes from strangers, so a bug in the parser or a handler that panics
// on one line costs that line only: the panic is logged with its type,
// the command and the stack, never the line (it may hold message text),
// and the connection goes on.
func (s *session) handleLine(line []byte) (err error) {
	c := s.c
	command := ""
	defer func() {
		if r := recover(); r != nil {
			c.logPanic(r, "command", command, "recovered from a panic while handling a line from the server; line dropped")
			if s.readerHoldsLock {
				// The handlers unlock without defer on the hot path: a
				// lock left held would stop the reader and every caller.
				c.log.Error().Msg("a panic left the connection's lock held by the reader; releasing it")
				s.unlockReader()
			}
			err = nil
		}
	}()
	msg, err := ircmsg.ParseLine(string(line))
	if err != nil {
		c.log.Debug().Err(err).Msg("ignoring unparsable line from server")
		return nil
	}
	command = loggableCommand(msg.Command)
	if lineFault != nil {
		lineFault(s, &msg)
	}
	return s.handle(&msg)
}

// loggableCommand is the command of a line as it may be logged: a
// command word or a numeric, never free text.
func loggableCommand(cmd string) string {
	if len(cmd) == 0 || len(cmd) > 16 {
		return "?"
	}
	for _, r := range cmd {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return "?"
		}
	}
	return cmd
}

// lockReader takes c.mu for a handler on the reader goroutine and notes
// that the reader holds it. Only the reader goroutine calls it (and
// unlockReader), so readerHoldsLock tells handleLine after a panic whether
// the panic left the reader's own lock held, without ever mistaking a lock
// another goroutine holds for it.
func (s *session) lockReader() {
	s.c.mu.Lock()
	s.readerHoldsLock = true
}

func (s *session) unlockReader() {
	s.readerHoldsLock = false
	s.c.mu.Unlock()
}

func (s *session) isReady() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.ready
}

func (s *session) write(b []byte) (int, error) {
	s.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	n, err := s.nc.Write(b)
	if err != nil {
		return n, fmt.Errorf("write: %w", err)
	}
	return n, nil
}

// writer is the only goroutine that writes to the socket: protocol lines
// first, then queued messages one whole message at a time. The next message
// is chosen only once a token is available, so that a user message submitted
// while the writer waits goes ahead of automatic ones queued earlier. It
// returns when nothing is left to write (or the session ended).
func (s *session) writer() {
	c := s.c
	p := s.pace
	for {
		select {
		case l := <-s.prio:
			if !s.writePrio(p, l) {
				return
			}
			continue
		case <-s.done:
			return
		default:
		}
		var t *time.Timer
		var tick <-chan time.Time
		if c.pending(s) {
			d := p.delay(time.Now())
			if d == 0 {
				if m := c.nextMsg(s); m != nil && !s.writeMsg(p, m) {
					return
				}
				continue
			}
			t = time.NewTimer(d)
			tick = t.C
		} else if s.writerIdle() {
			return
		}
		select {
		case l := <-s.prio:
			if !s.writePrio(p, l) {
				return
			}
		case <-tick:
		case <-c.wake:
		case <-s.done:
			return
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (s *session) writePrio(p *pacer, l *prioLine) bool {
	p.force(time.Now())
	if _, err := s.write(l.line); err != nil {
		s.close(err)
		return false
	}
	if l.written != nil {
		close(l.written)
	}
	return true
}

// writeMsg writes all lines of m back to back (only protocol lines may go in
// between), each after a token. It returns false when the session ended.
func (s *session) writeMsg(p *pacer, m *outMsg) bool {
	c := s.c
	for i := range m.lines {
		for !p.take(time.Now()) {
			t := time.NewTimer(p.delay(time.Now()))
			select {
			case <-t.C:
			case l := <-s.prio:
				t.Stop()
				if !s.writePrio(p, l) {
					c.unstart(m)
					return false
				}
			case <-s.done:
				t.Stop()
				c.unstart(m)
				return false
			}
		}
		c.mu.Lock()
		if m.finished || (m.cancelled && m.written == 0) {
			// failed by the server (e.g. 401 for an earlier line) or
			// cancelled before any line went out: send no more of it
			c.mu.Unlock()
			return true
		}
		line, err := s.buildLineLocked(m, i)
		if err != nil {
			c.finishLocked(m, err)
			c.mu.Unlock()
			return true
		}
		if m.written == 0 {
			s.inflight = append(s.inflight, m)
		}
		m.written++
		c.mu.Unlock()
		if n, err := s.write(line); err != nil {
			if i == 0 && n == 0 {
				// Nothing of this message reached the wire: it can go
				// out on the next connection instead of failing.
				c.mu.Lock()
				s.dropRefsLocked(m)
				m.refs, m.written = nil, 0
				c.mu.Unlock()
				c.unstart(m)
			}
			s.close(err)
			return false
		}
	}
	c.mu.Lock()
	m.allWritten = true
	if !m.confirm {
		m.receipt.Time = time.Now()
	} else if !m.finished {
		m.timer = time.AfterFunc(c.cfg.ConfirmTimeout, func() { c.confirmTimeout(s, m) })
	}
	c.checkDoneLocked(s, m)
	c.mu.Unlock()
	return true
}
