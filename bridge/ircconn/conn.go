package ircconn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/proxy"
	"golang.org/x/time/rate"
)

// Conn is one IRC client connection that reconnects by itself. All methods
// are safe for concurrent use.
type Conn struct {
	cfg Config
	log zerolog.Logger
	// cmdWake tells the connection loop, waiting between sessions, that
	// a command is queued (cmdQueue).
	cmdWake chan struct{}

	startOnce sync.Once
	loopDone  chan struct{}
	closeOnce sync.Once
	closed    chan struct{}

	events      eventQueue
	dispatching atomic.Bool // the handler is running

	autoBudget *rate.Limiter       // automatic messages, across reconnects
	proxy      proxy.ContextDialer // nil: direct connections

	whoisMu sync.Mutex // one WHOIS at a time: replies carry no request id
	nickMu  sync.Mutex // one NICK change at a time

	mu        sync.Mutex
	state     State
	sess      *session // live session, nil when down
	nick      string   // current (or being tried, before registration)
	wantNick  string   // set by SetNick; registration uses it after a reconnect
	user      string
	host      string
	hostSure  int // hostUnknown, hostGuessed or hostShown
	caps      map[string]bool
	casemap   Casemapping
	chantypes string
	statusmsg string
	isup      ISupport           // the rest of ISUPPORT (isupport.go)
	watch     map[string]watched // watch list by folded nick (monitor.go)
	watchSeq  uint64
	queue     []*outMsg // user messages and raw lines not yet started, in order
	autoQueue []*outMsg // automatic messages not yet started, in order
	wake      chan struct{}
	whois     *whoisReq
	nickReq   *nickReq
	labelSeq  uint64
	// Commands wait in cmdQueue for the connection loop. A command ends
	// the session being served (serving) itself, so that no goroutine
	// waits for commands beside the session's reader.
	cmdQueue []cmdMsg
	serving  *session
}

type command int

const (
	cmdNone command = iota
	cmdReconnect
	cmdDisconnect
	cmdClose
)

type cmdMsg struct {
	cmd    command
	reason string        // QUIT message
	ack    chan struct{} // closed once the state reflects the command
}

// New checks cfg, fills in defaults and returns a Conn that is not yet
// connected (see Start).
func New(cfg Config) (*Conn, error) {
	if cfg.Handler == nil {
		return nil, errors.New("ircconn: Config.Handler is required")
	}
	if cfg.Dial == nil {
		if err := checkAddress(cfg.Address); err != nil {
			return nil, err
		}
	}
	proxyDialer, err := newProxyDialer(&cfg)
	if err != nil {
		return nil, err
	}
	if err := checkTLSAuth(&cfg); err != nil {
		return nil, err
	}
	if !validNick(cfg.Nick) {
		return nil, fmt.Errorf("ircconn: invalid nick %q", cfg.Nick)
	}
	if cfg.Port == 0 {
		cfg.Port = 6697
		if cfg.PlainText {
			cfg.Port = 6667
		}
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("ircconn: invalid port %d", cfg.Port)
	}
	if cfg.Username == "" {
		cfg.Username = cfg.Nick
	}
	if cfg.Realname == "" {
		cfg.Realname = cfg.Nick
	}
	if strings.ContainsAny(cfg.Username, " \r\n\x00@!") || strings.ContainsAny(cfg.Realname, "\r\n\x00") ||
		strings.ContainsAny(cfg.ServerPassword, "\r\n\x00") || strings.ContainsAny(cfg.NickServPassword, "\r\n\x00") {
		return nil, errors.New("ircconn: username, realname or a password contains forbidden characters")
	}
	if (cfg.SASLAccount == "") != (cfg.SASLPassword == "") {
		return nil, errors.New("ircconn: SASL needs both account and password")
	}
	if cfg.NickServNick == "" {
		cfg.NickServNick = "NickServ"
	}
	if cfg.Flood.Burst <= 0 {
		cfg.Flood.Burst = 4
	}
	if cfg.Flood.Rate <= 0 {
		cfg.Flood.Rate = 1
	}
	if cfg.AutoReplies.Burst <= 0 {
		cfg.AutoReplies.Burst = 20
	}
	if cfg.AutoReplies.Rate <= 0 {
		cfg.AutoReplies.Rate = 0.5
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.PingInterval, 60*time.Second)
	def(&cfg.PingTimeout, 30*time.Second)
	def(&cfg.ReconnectMin, 2*time.Second)
	def(&cfg.ReconnectMax, 5*time.Minute)
	def(&cfg.DialTimeout, 30*time.Second)
	def(&cfg.RegisterTimeout, 60*time.Second)
	def(&cfg.ConfirmTimeout, 30*time.Second)
	def(&cfg.QueueTimeout, 2*time.Minute)
	def(&cfg.AutoReplies.StaleAfter, 30*time.Second)
	if cfg.ReconnectMax < cfg.ReconnectMin {
		cfg.ReconnectMax = cfg.ReconnectMin
	}
	if cfg.Version == "" {
		cfg.Version = "otrbridge"
	}
	cfg.Channels.setDefaults()
	cfg.Presence.setDefaults()
	c := &Conn{
		cfg:        cfg,
		log:        cfg.Logger,
		cmdWake:    make(chan struct{}, 1),
		loopDone:   make(chan struct{}),
		closed:     make(chan struct{}),
		state:      Disconnected,
		nick:       cfg.Nick,
		caps:       map[string]bool{},
		chantypes:  "#&",
		isup:       defaultISupport(),
		watch:      map[string]watched{},
		wake:       make(chan struct{}, 1),
		proxy:      proxyDialer,
		autoBudget: rate.NewLimiter(rate.Limit(cfg.AutoReplies.Rate), cfg.AutoReplies.Burst),
	}
	c.events.cond.L = &c.events.mu
	return c, nil
}

// Start begins connecting in the background. Calling it again is a no-op.
func (c *Conn) Start() {
	c.startOnce.Do(func() {
		// Connecting right away, so that a Send just after Start is queued
		// rather than refused as stopped.
		c.setState(Connecting, nil, 0)
		go c.run()
	})
}

// Reconnect drops the current connection, if any, and connects again now,
// also from the terminal states Disconnected, BadCredentials and Fatal.
func (c *Conn) Reconnect() {
	c.Start()
	c.command(cmdMsg{cmd: cmdReconnect})
}

// Disconnect quits (with reason as the QUIT message) and stays disconnected
// until Reconnect. Queued messages fail with ErrStopped.
func (c *Conn) Disconnect(reason string) {
	c.Start()
	c.command(cmdMsg{cmd: cmdDisconnect, reason: reason})
}

// Close disconnects and stops all goroutines; pending calls fail with
// ErrClosed. Events already queued are still delivered before Close returns.
func (c *Conn) Close() {
	c.closeOnce.Do(func() {
		// Never started: nothing to stop (and Start becomes a no-op).
		c.startOnce.Do(func() { close(c.loopDone) })
		c.command(cmdMsg{cmd: cmdClose})
		<-c.loopDone
		close(c.closed)
		c.mu.Lock()
		c.failQueueLocked(ErrClosed)
		c.mu.Unlock()
		// Close may be called from the handler itself; waiting for the
		// dispatcher then would wait forever.
		c.shutEvents(!c.dispatching.Load())
	})
}

// command hands cmd to the connection loop and waits until the state
// reflects it (Connecting after Reconnect, Disconnected after Disconnect).
// It ends the session being served, if any (sending QUIT first), so that
// the loop gets to the command.
func (c *Conn) command(cmd cmdMsg) {
	select {
	case <-c.loopDone:
		return
	default:
	}
	cmd.ack = make(chan struct{})
	c.mu.Lock()
	c.cmdQueue = append(c.cmdQueue, cmd)
	s := c.serving
	c.mu.Unlock()
	select {
	case c.cmdWake <- struct{}{}:
	default:
	}
	if s != nil {
		if cmd.cmd == cmdReconnect {
			s.quitAndClose("Reconnecting", errReconnect)
		} else {
			s.quitAndClose(cmd.reason, errDisconnect)
		}
	}
	select {
	case <-cmd.ack:
	case <-c.loopDone:
	}
}

// takeCmd takes the oldest queued command.
func (c *Conn) takeCmd() (cmdMsg, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cmdQueue) == 0 {
		return cmdMsg{}, false
	}
	cm := c.cmdQueue[0]
	c.cmdQueue = c.cmdQueue[1:]
	return cm, true
}

// waitCmd waits for a command, or until timeout fires (nil: no timeout).
func (c *Conn) waitCmd(timeout <-chan time.Time) (cmdMsg, bool) {
	for {
		if cm, ok := c.takeCmd(); ok {
			return cm, true
		}
		select {
		case <-c.cmdWake:
		case <-timeout:
			return cmdMsg{}, false
		}
	}
}

// serveUnlessCommand serves s unless a command is queued already, and
// returns the command that ended it, if one did.
func (c *Conn) serveUnlessCommand(s *session) (cmdMsg, bool) {
	c.mu.Lock()
	if len(c.cmdQueue) == 0 {
		c.serving = s
	}
	serve := c.serving == s
	c.mu.Unlock()
	if serve {
		c.serve(s)
		c.mu.Lock()
		c.serving = nil
		c.mu.Unlock()
	} else {
		s.close(errReconnect)
	}
	return c.takeCmd()
}

// run is the connection loop: one session at a time, backoff in between.
func (c *Conn) run() {
	defer close(c.loopDone)
	var ack chan struct{} // of the command being carried out
	acked := func() {
		if ack != nil {
			close(ack)
			ack = nil
		}
	}
	defer acked()
	attempt := 0
	for {
		c.setState(Connecting, nil, 0)
		acked()
		s := newSession(c)
		cm, commanded := c.serveUnlessCommand(s)
		if commanded {
			ack = cm.ack
		}
		if c.endSession(s) {
			attempt = 0
		}
		err := s.err
		var fe *fatalError
		switch {
		case cm.cmd == cmdClose:
			c.setState(Disconnected, nil, 0)
			return
		case cm.cmd == cmdDisconnect:
			c.stopped(Disconnected, nil)
		case cm.cmd == cmdReconnect:
			continue
		case errors.As(err, &fe):
			c.log.Warn().Err(err).Stringer("state", fe.state).Msg("IRC connection stopped; not reconnecting")
			c.stopped(fe.state, err)
		default:
			attempt++
			delay := backoff(c.cfg.ReconnectMin, c.cfg.ReconnectMax, attempt)
			c.log.Info().Err(err).Dur("retry_in", delay).Msg("IRC connection lost")
			c.setState(TransientDisconnect, err, delay)
			t := time.NewTimer(delay)
			var ok bool
			if cm, ok = c.waitCmd(t.C); !ok {
				continue
			}
			ack = cm.ack
			t.Stop()
			switch cm.cmd {
			case cmdClose:
				c.setState(Disconnected, nil, 0)
				return
			case cmdReconnect:
				continue
			}
			c.stopped(Disconnected, nil)
		}
		acked()
		// Terminal state: wait for Reconnect or Close.
		cm, ok := c.waitRestart()
		ack = cm.ack
		if !ok {
			c.setState(Disconnected, nil, 0)
			return
		}
	}
}

// waitRestart waits in a terminal state for Reconnect (true) or Close (false).
func (c *Conn) waitRestart() (cmdMsg, bool) {
	for {
		cm, _ := c.waitCmd(nil)
		switch cm.cmd {
		case cmdClose:
			return cm, false
		case cmdReconnect:
			return cm, true
		}
		c.setState(Disconnected, nil, 0)
		close(cm.ack)
	}
}

// stopped enters a terminal state and fails every queued message: nothing
// will carry them.
func (c *Conn) stopped(st State, err error) {
	c.mu.Lock()
	c.failQueueLocked(ErrStopped)
	c.mu.Unlock()
	c.setState(st, err, 0)
}

// backoff is capped exponential backoff with jitter in [d/2, d).
func backoff(min, max time.Duration, attempt int) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(half+1)
}

func (c *Conn) setState(st State, err error, retry time.Duration) {
	c.mu.Lock()
	changed := c.state != st || err != nil
	c.state = st
	nick := c.nick
	c.mu.Unlock()
	if !changed {
		return
	}
	ev := StateChanged{State: st, Err: err, RetryIn: retry}
	if st == Connected {
		ev.Nick = nick
	}
	c.emit(ev)
}

// maxQueuedEvents bounds the events waiting for the handler: beyond it
// the reader waits (and stops reading from the server).
const maxQueuedEvents = 1024

// eventQueue holds the events for the handler, in order. A goroutine
// delivers them while there are some and ends when there are none: an
// idle connection has no goroutine waiting for events.
type eventQueue struct {
	mu      sync.Mutex
	cond    sync.Cond // L is mu: the queue shrank, or delivery ended
	queue   []Event
	running bool
	shut    bool // Close: no more events
}

func (c *Conn) emit(ev Event) {
	q := &c.events
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) >= maxQueuedEvents && !q.shut {
		q.cond.Wait()
	}
	if q.shut {
		return
	}
	q.queue = append(q.queue, ev)
	if !q.running {
		q.running = true
		go c.dispatch()
	}
}

// dispatch delivers the queued events, one at a time, until none is left.
func (c *Conn) dispatch() {
	q := &c.events
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.queue = nil
			q.running = false
			q.cond.Broadcast()
			q.mu.Unlock()
			return
		}
		ev := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.cond.Broadcast()
		q.mu.Unlock()
		c.deliver(ev)
	}
}

// shutEvents refuses further events and, with wait, waits until the queued
// ones were delivered.
func (c *Conn) shutEvents(wait bool) {
	q := &c.events
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shut = true
	q.cond.Broadcast()
	for wait && q.running {
		q.cond.Wait()
	}
}

// deliver calls the handler for one event. A panic in the handler is logged
// and the event dropped: one bad event (or one bug triggered by a stranger's
// message) must not end the connection for every other peer.
func (c *Conn) deliver(ev Event) {
	c.dispatching.Store(true)
	defer c.dispatching.Store(false)
	defer func() {
		if r := recover(); r != nil {
			c.logPanic(r, "event", fmt.Sprintf("%T", ev), "recovered from a panic in caller code; carrying on")
		}
	}()
	c.cfg.Handler(ev)
}

// logPanic logs a recovered panic. The panic value may hold
// message text, so only its type is logged, and the message of runtime
// errors (index out of range, nil dereference), which the runtime writes.
// The stack holds function names and addresses, never string contents.
func (c *Conn) logPanic(r any, key, what, msg string) {
	ev := c.log.Error().Str(key, what).Str("panic_type", fmt.Sprintf("%T", r)).Bytes("stack", debug.Stack())
	if re, ok := r.(runtime.Error); ok {
		ev = ev.Str("panic", re.Error())
	}
	ev.Msg(msg)
}

// State returns the current connection state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Nick returns our current nick (the configured one before registration).
func (c *Conn) Nick() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nick
}

// Hostmask returns our nick, user and host as the server shows them to
// others; user or host are empty until learnt.
func (c *Conn) Hostmask() (nick, user, host string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nick, c.user, c.host
}

// Casemapping returns the server's casemapping (RFC1459 until ISUPPORT says otherwise).
func (c *Conn) Casemapping() Casemapping {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.casemap
}

// Casefold folds a nick or channel name with the server's casemapping.
func (c *Conn) Casefold(name string) string { return c.Casemapping().Fold(name) }

// IsChannel reports whether target names a channel (CHANTYPES, with an
// optional STATUSMSG prefix such as "@#chan").
func (c *Conn) IsChannel(target string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isChannelLocked(target)
}

func (c *Conn) isChannelLocked(target string) bool {
	if target == "" {
		return false
	}
	if strings.IndexByte(c.statusmsg, target[0]) >= 0 && len(target) > 1 {
		target = target[1:]
	}
	return strings.IndexByte(c.chantypes, target[0]) >= 0
}

// HasCap reports whether the capability was acknowledged on the current connection.
func (c *Conn) HasCap(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps[name]
}

// QueueLen returns how many user messages and how many automatic replies
// wait for their turn to be sent (for metrics).
func (c *Conn) QueueLen() (user, automatic int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue), len(c.autoQueue)
}

// LineBudget returns how many bytes of text fit in one line of the given
// kind to target, so that the line the server relays,
// ":nick!user@host PRIVMSG target :text\r\n", stays within 512 bytes.
// Until the server told us our user and host, it assumes "~username" and a
// 63-byte host. Message tags do not count: they have their own budget, and
// the only tag we send (label) is far below it.
func (c *Conn) LineBudget(target string, kind Kind) int {
	c.mu.Lock()
	nick, user, host := c.nick, c.user, c.host
	c.mu.Unlock()
	if user == "" {
		user = "~" + c.cfg.Username
		if len(user) > 11 {
			user = user[:11]
		}
	}
	return TextBudget(nick, user, host, target, kind)
}

// TextBudget returns how many bytes of text fit in one line of the given
// kind from nick!user@host to target: the line the server relays,
// ":nick!user@host PRIVMSG target :text\r\n", is at most 512 bytes. An
// empty host stands for the longest one a server gives (63 bytes).
func TextBudget(nick, user, host, target string, kind Kind) int {
	if host == "" {
		host = strings.Repeat("x", 63)
	}
	cmd := "PRIVMSG"
	extra := 0
	switch kind {
	case Notice:
		cmd = "NOTICE"
	case Action:
		extra = len("\x01ACTION \x01")
	}
	return 512 - len(":"+nick+"!"+user+"@"+host+" "+cmd+" "+target+" :\r\n") - extra
}

func validNick(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	if strings.ContainsAny(n, " ,*?!@:\r\n\x00\x01") || n[0] == '#' || n[0] == '&' || n[0] == '$' {
		return false
	}
	return true
}
