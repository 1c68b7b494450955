package ircconn

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/rs/zerolog"
)

// fakeNet hands out one net.Pipe per dial; the test plays the server.
type fakeNet struct {
	t     *testing.T
	conns chan *fakeConn
	mu    sync.Mutex
	dials int
	fail  bool // refuse dials
}

func newFakeNet(t *testing.T) *fakeNet {
	return &fakeNet{t: t, conns: make(chan *fakeConn, 8)}
}

func (f *fakeNet) dial(ctx context.Context) (net.Conn, error) {
	f.mu.Lock()
	f.dials++
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "dial", Net: "pipe", Err: errRefused}
	}
	a, b := net.Pipe()
	fc := &fakeConn{t: f.t, nc: b, lines: make(chan string, 1024)}
	go fc.read()
	f.conns <- fc
	return a, nil
}

type refusedError struct{}

func (refusedError) Error() string { return "connection refused" }

var errRefused = refusedError{}

func (f *fakeNet) dialCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials
}

func (f *fakeNet) next(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case fc := <-f.conns:
		t.Cleanup(func() { fc.nc.Close() })
		return fc
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

// fakeConn is the server end of one connection.
type fakeConn struct {
	t     *testing.T
	nc    net.Conn
	lines chan string
}

func (fc *fakeConn) read() {
	r := bufio.NewReader(fc.nc)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			close(fc.lines)
			return
		}
		fc.lines <- strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
	}
}

func (fc *fakeConn) send(lines ...string) {
	fc.t.Helper()
	for _, l := range lines {
		fc.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := fc.nc.Write([]byte(l + "\r\n")); err != nil {
			fc.t.Fatalf("fake server write: %v", err)
		}
	}
}

// expect reads the next line from the client, which must have the command.
func (fc *fakeConn) expect(t *testing.T, command string) ircmsg.Message {
	t.Helper()
	select {
	case l, ok := <-fc.lines:
		if !ok {
			t.Fatalf("connection closed while waiting for %s", command)
		}
		m, err := ircmsg.ParseLine(l)
		if err != nil {
			t.Fatalf("client sent unparsable line %q: %v", l, err)
		}
		if m.Command != command {
			t.Fatalf("client sent %q, want %s", l, command)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", command)
	}
	return ircmsg.Message{}
}

// nothing asserts that the client sends nothing for d.
func (fc *fakeConn) nothing(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case l, ok := <-fc.lines:
		if ok {
			t.Fatalf("unexpected line from client: %q", l)
		}
	case <-time.After(d):
	}
}

// closed waits until the client closed the connection.
func (fc *fakeConn) closed(t *testing.T) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-fc.lines:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("client did not close the connection")
		}
	}
}

// register plays a server through registration, offering caps.
func (fc *fakeConn) register(t *testing.T, nick, caps string) {
	t.Helper()
	fc.expect(t, "CAP")
	fc.expect(t, "NICK")
	fc.expect(t, "USER")
	fc.send(":srv.test CAP * LS :" + caps)
	if caps != "" {
		req := fc.expect(t, "CAP")
		fc.send(":srv.test CAP * ACK :" + req.Params[len(req.Params)-1])
	}
	fc.expect(t, "CAP") // END
	fc.welcome(t, nick)
}

func (fc *fakeConn) welcome(t *testing.T, nick string) {
	t.Helper()
	fc.send(":srv.test 001 "+nick+" :Welcome to the Test IRC Network "+nick+"!~u@host.example",
		":srv.test 005 "+nick+" CASEMAPPING=rfc1459 CHANTYPES=# STATUSMSG=@+ :are supported",
		":srv.test 376 "+nick+" :End of MOTD")
	fc.expect(t, "USERHOST")
}

const allCaps = "message-tags server-time echo-message labeled-response batch account-tag cap-notify"

func pipeConn(t *testing.T, fn *fakeNet, mod func(*Config)) (*Conn, *recorder) {
	t.Helper()
	rec := newRecorder()
	cfg := Config{
		Network:        "fake",
		Nick:           "me",
		Username:       "u",
		Dial:           fn.dial,
		Flood:          FloodConfig{Burst: 100, Rate: 100},
		ReconnectMin:   20 * time.Millisecond,
		ReconnectMax:   100 * time.Millisecond,
		ConfirmTimeout: 2 * time.Second,
		QueueTimeout:   5 * time.Second,
		Logger:         zerolog.New(zerolog.NewTestWriter(t)),
		Handler:        rec.handle,
	}
	return startConn(t, cfg, mod), rec
}

// startConn applies mod to cfg, starts a Conn and closes it after the test.
func startConn(t *testing.T, cfg Config, mod func(*Config)) *Conn {
	t.Helper()
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Start()
	return c
}

// sendAsync runs Send in the background.
func sendAsync(c *Conn, target string, kind Kind, lines ...string) chan sendResult {
	ch := make(chan sendResult, 1)
	go func() {
		r, err := c.Send(context.Background(), target, kind, lines)
		ch <- sendResult{r, err}
	}()
	return ch
}

func waitResult(t *testing.T, ch chan sendResult) sendResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return")
		return sendResult{}
	}
}

// recorder collects events for assertions.
type recorder struct {
	mu     sync.Mutex
	events []Event
	ch     chan Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan Event, 1024)} }

func (r *recorder) handle(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.ch <- ev:
	default:
	}
}

// waitFor returns the first event (from now on) matching f.
func (r *recorder) waitFor(t *testing.T, d time.Duration, what string, f func(Event) bool) Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-r.ch:
			if f(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
			return nil
		}
	}
}

func (r *recorder) waitState(t *testing.T, d time.Duration, st State) StateChanged {
	t.Helper()
	return r.waitFor(t, d, "state "+st.String(), func(ev Event) bool {
		sc, ok := ev.(StateChanged)
		return ok && sc.State == st
	}).(StateChanged)
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}
