package teststack

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
)

// IRCLine is one line an IRCClient received.
type IRCLine struct {
	Raw string
	Msg ircmsg.Message
	At  time.Time
}

// From is the nick of the line's source.
func (l IRCLine) From() string { return l.Msg.Nick() }

// Command is the command or numeric, upper case.
func (l IRCLine) Command() string { return strings.ToUpper(l.Msg.Command) }

// Param returns the i-th parameter or "".
func (l IRCLine) Param(i int) string {
	if i < len(l.Msg.Params) {
		return l.Msg.Params[i]
	}
	return ""
}

// Text is the last parameter (the message text of PRIVMSG/NOTICE).
func (l IRCLine) Text() string {
	if len(l.Msg.Params) == 0 {
		return ""
	}
	return l.Msg.Params[len(l.Msg.Params)-1]
}

// Action returns the text of a CTCP ACTION and true, for PRIVMSG only.
func (l IRCLine) Action() (string, bool) {
	t := l.Text()
	if l.Command() != "PRIVMSG" || !strings.HasPrefix(t, "\x01ACTION ") {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(t, "\x01ACTION "), "\x01"), true
}

// IRCClient is a minimal IRC user for tests: it registers a nick, answers
// PINGs and records every line it receives, so tests can assert exactly what
// reached the IRC side.
type IRCClient struct {
	t    testing.TB
	conn net.Conn
	w    *bufio.Writer
	wmu  sync.Mutex

	mu     sync.Mutex
	nick   string
	lines  []IRCLine
	cursor int
	notify chan struct{} // closed and replaced whenever a line arrives
	closed chan struct{}
	err    error
}

// IRCClientOptions tweaks DialIRC.
type IRCClientOptions struct {
	TLS      bool     // dial with TLS without certificate verification
	Caps     []string // IRCv3 capabilities to request (e.g. "echo-message")
	User     string   // username, default the nick
	Password string   // server password (PASS)
	// SASL logs in to this services account with SASL PLAIN during
	// registration (the server needs linked services: StartServices).
	SASL *SASLPlain
}

// SASLPlain is an account and its password.
type SASLPlain struct{ Account, Password string }

// DialIRC connects to addr, registers nick and waits for the welcome
// numeric. The connection is closed at cleanup.
func DialIRC(t testing.TB, addr, nick string, o IRCClientOptions) *IRCClient {
	t.Helper()
	c, err := ConnectIRC(addr, nick, o)
	if err != nil {
		t.Fatalf("IRC client %s: %v", nick, err)
	}
	c.t = t
	t.Cleanup(c.Close)
	return c
}

// ConnectIRC is DialIRC without a testing.TB (for the demo).
func ConnectIRC(addr, nick string, o IRCClientOptions) (*IRCClient, error) {
	var conn net.Conn
	var err error
	if o.TLS {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		conn, err = net.DialTimeout("tcp", addr, 5*time.Second)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c := &IRCClient{conn: conn, w: bufio.NewWriter(conn), nick: nick,
		notify: make(chan struct{}), closed: make(chan struct{})}
	go c.readLoop()
	user := o.User
	if user == "" {
		user = nick
	}
	if o.Password != "" {
		c.Send("PASS " + o.Password)
	}
	caps := o.Caps
	if o.SASL != nil {
		caps = append(slices.Clone(caps), "sasl")
	}
	if len(caps) > 0 {
		c.Send("CAP LS 302")
		c.Send("CAP REQ :" + strings.Join(caps, " "))
	}
	c.Send("NICK " + nick)
	c.Send("USER " + user + " 0 * :otrbridge test user " + nick)
	if len(caps) > 0 {
		ack, err := c.WaitFor(10*time.Second, func(l IRCLine) bool {
			return l.Command() == "CAP" && (l.Param(1) == "ACK" || l.Param(1) == "NAK")
		})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("CAP REQ: %w", err)
		}
		if o.SASL != nil {
			if err := c.saslPlain(ack, *o.SASL); err != nil {
				c.Close()
				return nil, err
			}
		}
		c.Send("CAP END")
	}
	l, err := c.WaitFor(10*time.Second, func(l IRCLine) bool {
		switch l.Command() {
		case "001", "432", "433", "ERROR":
			return true
		}
		return false
	})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("register %s: %w", nick, err)
	}
	if l.Command() != "001" {
		c.Close()
		return nil, fmt.Errorf("register %s: %s", nick, l.Raw)
	}
	return c, nil
}

// saslPlain logs in with SASL PLAIN after the CAP answer ack.
func (c *IRCClient) saslPlain(ack IRCLine, a SASLPlain) error {
	if ack.Param(1) != "ACK" {
		return fmt.Errorf("SASL: the server refused the capabilities: %s", ack.Raw)
	}
	c.Send("AUTHENTICATE PLAIN")
	if _, err := c.WaitFor(10*time.Second, func(l IRCLine) bool { return l.Command() == "AUTHENTICATE" && l.Param(0) == "+" }); err != nil {
		return fmt.Errorf("SASL: %w", err)
	}
	c.Send("AUTHENTICATE " + base64.StdEncoding.EncodeToString([]byte(a.Account+"\x00"+a.Account+"\x00"+a.Password)))
	l, err := c.WaitFor(10*time.Second, func(l IRCLine) bool {
		switch l.Command() {
		case "903", "902", "904", "905", "906":
			return true
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("SASL: %w", err)
	}
	if l.Command() != "903" {
		return fmt.Errorf("SASL: %s", l.Raw)
	}
	return nil
}

func (c *IRCClient) readLoop() {
	r := bufio.NewReaderSize(c.conn, 64*1024)
	for {
		raw, err := r.ReadString('\n')
		if err != nil {
			c.mu.Lock()
			c.err = err
			close(c.closed)
			close(c.notify)
			c.notify = make(chan struct{})
			c.mu.Unlock()
			return
		}
		raw = strings.TrimRight(raw, "\r\n")
		msg, perr := ircmsg.ParseLine(raw)
		if perr != nil {
			continue
		}
		if strings.EqualFold(msg.Command, "PING") {
			c.Send("PONG :" + strings.Join(msg.Params, " "))
		}
		c.mu.Lock()
		if strings.EqualFold(msg.Command, "NICK") && strings.EqualFold(msg.Nick(), c.nick) && len(msg.Params) > 0 {
			c.nick = msg.Params[0]
		}
		c.lines = append(c.lines, IRCLine{Raw: raw, Msg: msg, At: time.Now()})
		close(c.notify)
		c.notify = make(chan struct{})
		c.mu.Unlock()
	}
}

// Nick is the client's current nick (follows confirmed NICK changes).
func (c *IRCClient) Nick() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nick
}

// Send writes one raw line (CRLF added).
func (c *IRCClient) Send(line string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.w.WriteString(line + "\r\n"); err != nil {
		return err
	}
	return c.w.Flush()
}

func (c *IRCClient) mustSend(line string) {
	if err := c.Send(line); err != nil && c.t != nil {
		c.t.Errorf("IRC %s: send: %v", c.Nick(), err)
	}
}

// Privmsg sends a PRIVMSG.
func (c *IRCClient) Privmsg(target, text string) { c.mustSend("PRIVMSG " + target + " :" + text) }

// Notice sends a NOTICE.
func (c *IRCClient) Notice(target, text string) { c.mustSend("NOTICE " + target + " :" + text) }

// Action sends a CTCP ACTION (/me).
func (c *IRCClient) Action(target, text string) {
	c.mustSend("PRIVMSG " + target + " :\x01ACTION " + text + "\x01")
}

// SetNick changes the nick and waits until the server confirms it.
func (c *IRCClient) SetNick(newNick string) error {
	old := c.Nick()
	if err := c.Send("NICK " + newNick); err != nil {
		return err
	}
	l, err := c.WaitFor(10*time.Second, func(l IRCLine) bool {
		switch l.Command() {
		case "NICK":
			return strings.EqualFold(l.From(), old)
		case "432", "433", "436", "437", "438", "447":
			return true
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("nick %s -> %s: %w", old, newNick, err)
	}
	if l.Command() != "NICK" {
		return fmt.Errorf("nick %s -> %s refused: %s", old, newNick, l.Raw)
	}
	return nil
}

// Oper becomes an IRC operator with the server's test oper block.
func (c *IRCClient) Oper(s *IRCServer) error {
	if err := c.Send("OPER " + s.OperName + " " + s.OperPassword); err != nil {
		return err
	}
	l, err := c.WaitFor(10*time.Second, func(l IRCLine) bool {
		return l.Command() == "381" || l.Command() == "491" || l.Command() == "464"
	})
	if err != nil {
		return err
	}
	if l.Command() != "381" {
		return fmt.Errorf("OPER refused: %s", l.Raw)
	}
	return nil
}

// ErrTimeout is returned by the Wait functions.
var ErrTimeout = errors.New("timed out")

// WaitFor returns the first line after the read cursor that matches f and
// moves the cursor past it. Lines skipped over stay visible to Lines/Seen.
func (c *IRCClient) WaitFor(timeout time.Duration, f func(IRCLine) bool) (IRCLine, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		// Match outside the lock: predicates may call methods like Nick.
		c.mu.Lock()
		start := c.cursor
		pending := append([]IRCLine(nil), c.lines[start:]...)
		c.mu.Unlock()
		for i, l := range pending {
			if f(l) {
				c.mu.Lock()
				if c.cursor < start+i+1 {
					c.cursor = start + i + 1
				}
				c.mu.Unlock()
				return l, nil
			}
		}
		c.mu.Lock()
		if len(c.lines) != start+len(pending) {
			c.mu.Unlock()
			continue
		}
		ch, closed, err := c.notify, c.closed, c.err
		c.mu.Unlock()
		select {
		case <-closed:
			return IRCLine{}, fmt.Errorf("IRC connection of %s closed: %v", c.Nick(), err)
		default:
		}
		select {
		case <-ch:
		case <-deadline.C:
			return IRCLine{}, fmt.Errorf("IRC %s: %w after %s", c.Nick(), ErrTimeout, timeout)
		}
	}
}

// WaitPrivmsg waits for a PRIVMSG (or, with notice, a NOTICE) from nick
// (case-insensitive; "" for any sender) to this client.
func (c *IRCClient) WaitPrivmsg(timeout time.Duration, from string, notice bool) (IRCLine, error) {
	cmd := "PRIVMSG"
	if notice {
		cmd = "NOTICE"
	}
	return c.WaitFor(timeout, func(l IRCLine) bool {
		return l.Command() == cmd && (from == "" || strings.EqualFold(l.From(), from)) &&
			strings.EqualFold(l.Param(0), c.Nick())
	})
}

// Lines returns a copy of every line received so far.
func (c *IRCClient) Lines() []IRCLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]IRCLine(nil), c.lines...)
}

// Seen reports whether any line received so far matches f (ignores the cursor).
func (c *IRCClient) Seen(f func(IRCLine) bool) bool {
	for _, l := range c.Lines() {
		if f(l) {
			return true
		}
	}
	return false
}

// Closed is closed when the connection ends.
func (c *IRCClient) Closed() <-chan struct{} { return c.closed }

// Quit sends QUIT and closes the connection.
func (c *IRCClient) Quit(reason string) {
	_ = c.Send("QUIT :" + reason)
	select {
	case <-c.closed:
	case <-time.After(2 * time.Second):
	}
	c.Close()
}

// Close closes the connection without QUIT.
func (c *IRCClient) Close() { _ = c.conn.Close() }
