package otrsession

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream" // registers sqlite3-fk-wal
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/internal/seal"
	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// whitespaceTag is an OTR whitespace tag offering v3, as libotr sends it.
const whitespaceTag = " \t  \t\t\t\t \t \t \t  " + "  \t\t  \t\t"

// waitTimeout bounds every wait for a real OTR peer (libotr).
const waitTimeout = 15 * time.Second

// fakeLink is one peer as the bridge would present it, recording all that
// the manager does with it. remote, if set, gets every line sent.
type fakeLink struct {
	uid     networkid.UserID
	budget  int
	perNick bool

	mu        sync.Mutex
	nick      string
	wire      []string
	kinds     []ircconn.Kind
	delivered []IncomingText
	notices   []string
	states    []State
	unread    []id.EventID
	marked    []id.EventID
	sendErr   error
	replyErr  error
	replies   int // lines sent with SendReply (also in wire)
	remote    func(kind ircconn.Kind, line string)
	// order is every Matrix-side call in order ("deliver: text",
	// "notice: text", "state: private (unverified)").
	order []string
	// gate, while open (not closed), holds every Matrix-side call: a
	// homeserver that does not answer.
	gate chan struct{}
}

// holdMatrix makes the Matrix-side calls wait until the returned func
// is called.
func (l *fakeLink) holdMatrix() (release func()) {
	g := make(chan struct{})
	l.mu.Lock()
	l.gate = g
	l.mu.Unlock()
	return func() { close(g) }
}

// matrixCall waits at the gate, if any, then records what the call shows.
func (l *fakeLink) matrixCall(entry string, record func()) {
	l.mu.Lock()
	g := l.gate
	l.mu.Unlock()
	if g != nil {
		<-g
	}
	l.mu.Lock()
	record()
	l.order = append(l.order, entry)
	l.mu.Unlock()
}

func newLink(network, nick string) *fakeLink {
	return &fakeLink{uid: networkid.UserID(network + "." + strings.ToLower(nick)), nick: nick, budget: 450}
}

func (l *fakeLink) PeerID() networkid.UserID { return l.uid }
func (l *fakeLink) Nick() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nick
}
func (l *fakeLink) setNick(n string) {
	l.mu.Lock()
	l.nick = n
	l.mu.Unlock()
}

// LineBudget shrinks with a longer nick when perNick is set, as the
// real budget does (the target is part of the line prefix).
func (l *fakeLink) LineBudget(ircconn.Kind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perNick {
		return l.budget - len(l.nick)
	}
	return l.budget
}

func (l *fakeLink) SendLines(ctx context.Context, kind ircconn.Kind, lines []string) error {
	l.mu.Lock()
	if l.sendErr != nil {
		err := l.sendErr
		l.mu.Unlock()
		return err
	}
	budget := l.budget
	if l.perNick {
		budget -= len(l.nick)
	}
	for _, line := range lines {
		if len(line) > budget {
			l.mu.Unlock()
			return ircconn.ErrLineTooLong
		}
	}
	l.wire = append(l.wire, lines...)
	for range lines {
		l.kinds = append(l.kinds, kind)
	}
	remote := l.remote
	l.mu.Unlock()
	if remote != nil {
		for _, line := range lines {
			remote(kind, line)
		}
	}
	return nil
}

// SendReply records automatic replies apart (replies) and fails with
// replyErr if set.
func (l *fakeLink) SendReply(ctx context.Context, lines []string) error {
	l.mu.Lock()
	if err := l.replyErr; err != nil {
		l.mu.Unlock()
		return err
	}
	l.replies += len(lines)
	l.mu.Unlock()
	return l.SendLines(ctx, ircconn.Privmsg, lines)
}

func (l *fakeLink) Deliver(ctx context.Context, msg IncomingText) {
	l.matrixCall("deliver: "+msg.Text, func() { l.delivered = append(l.delivered, msg) })
}

func (l *fakeLink) Notice(ctx context.Context, text string) {
	l.matrixCall("notice: "+text, func() { l.notices = append(l.notices, text) })
}

func (l *fakeLink) Unconfirmed(ctx context.Context, events []id.EventID) {
	l.mu.Lock()
	l.unread = append(l.unread, events...)
	l.mu.Unlock()
}

func (l *fakeLink) unreadEvents() []id.EventID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]id.EventID(nil), l.unread...)
}

func (l *fakeLink) MarkUnencrypted(ctx context.Context, evt id.EventID) {
	l.matrixCall("marked: "+string(evt), func() { l.marked = append(l.marked, evt) })
}

func (l *fakeLink) ShowState(ctx context.Context, s State) {
	l.matrixCall("state: "+s.String(), func() { l.states = append(l.states, s) })
}

func (l *fakeLink) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.order...)
}

func (l *fakeLink) snapshot() (wire []string, delivered []IncomingText, notices []string, states []State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.wire...), append([]IncomingText(nil), l.delivered...),
		append([]string(nil), l.notices...), append([]State(nil), l.states...)
}

func (l *fakeLink) state() State {
	_, _, _, s := l.snapshot()
	if len(s) == 0 {
		return StatePlaintext
	}
	return s[len(s)-1]
}

func (l *fakeLink) hasNotice(sub string) bool {
	_, _, n, _ := l.snapshot()
	for _, s := range n {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (l *fakeLink) deliveredTexts() []string {
	_, d, _, _ := l.snapshot()
	var out []string
	for _, m := range d {
		out = append(out, m.Text)
	}
	return out
}

// wireContains reports whether any line sent contains sub.
func (l *fakeLink) wireContains(sub string) bool {
	w, _, _, _ := l.snapshot()
	for _, line := range w {
		if strings.Contains(line, sub) {
			return true
		}
	}
	return false
}

// waitFor waits for cond with a real OTR peer (libotr), which runs in
// real time outside the test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settled checks cond once every goroutine of the test's synctest bubble
// is blocked: all traffic between the managers in the test is handled.
func settled(t testing.TB, what string, cond func() bool) {
	t.Helper()
	synctest.Wait()
	if !cond() {
		t.Fatalf("after all traffic was handled, still not: %s", what)
	}
}

func newDB(t testing.TB) *db.Database {
	t.Helper()
	uri := "file:" + filepath.Join(t.TempDir(), "bridge.db") + "?_txlock=immediate"
	parent, err := dbutil.NewWithDialect(uri, "sqlite3-fk-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parent.Close() })
	d := db.New(parent, zerolog.Nop())
	if err := d.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

func loadKey(t testing.TB, name string) *otr.PrivateKey {
	t.Helper()
	b, err := otrtest.KeyBinary(otrtest.Testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	k := new(otr.PrivateKey)
	if err := k.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return k
}

// keys hands out pre-made keys (generating DSA keys is slow on a shared
// machine); the identity code path is the same.
func keys(t testing.TB, names ...string) func(io.Reader) (*otr.PrivateKey, error) {
	var mu sync.Mutex
	return func(io.Reader) (*otr.PrivateKey, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(names) == 0 {
			return otr.GenerateKey(nil)
		}
		k := loadKey(t, names[0])
		names = names[1:]
		return k, nil
	}
}

const testSecret = "a test secret that is long enough"

type managerOpts struct {
	policy string
	keys   []string
	gen    func(io.Reader) (*otr.PrivateKey, error)
	log    io.Writer // nil: no logging
	secret string    // "" : testSecret
	// services is the configured services list.
	services []string
}

func newManager(t testing.TB, d *db.Database, user string, o managerOpts) *Manager {
	t.Helper()
	if o.secret == "" {
		o.secret = testSecret
	}
	k, err := seal.NewKey(o.secret, SealPurpose)
	if err != nil {
		t.Fatal(err)
	}
	if o.gen == nil {
		o.gen = keys(t, o.keys...)
	}
	log := zerolog.Nop()
	if o.log != nil {
		log = zerolog.New(o.log).Level(zerolog.TraceLevel)
	}
	f, err := New(Config{
		DB: d, Seal: k, User: id.UserID(user), Network: "net", DefaultPolicy: o.policy,
		GenerateKey: o.gen, Log: log, Account: "me@net",
		IsService: func(nick string) bool {
			return slices.ContainsFunc(o.services, func(s string) bool { return strings.EqualFold(s, nick) })
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// pair is two session managers of ours talking to each other: alice's
// link to bob forwards to bob's manager and back. Use it inside a synctest
// bubble.
type pair struct {
	a, b   *Manager
	la, lb *fakeLink // la: alice's view of bob; lb: bob's view of alice
	da, db *db.Database
}

func newPair(t testing.TB, policyA, policyB string) *pair {
	t.Helper()
	p := &pair{da: newDB(t), db: newDB(t)}
	p.a = newManager(t, p.da, "@alice:example.org", managerOpts{policy: policyA, keys: []string{"otrbridge.key"}})
	p.b = newManager(t, p.db, "@bob:example.org", managerOpts{policy: policyB, keys: []string{"libotr-bob.key"}})
	p.la, p.lb = newLink("net", "bob"), newLink("net", "alice")
	p.connect()
	return p
}

func (p *pair) connect() {
	p.la.remote = func(kind ircconn.Kind, line string) {
		p.b.Receive(context.Background(), p.lb, IncomingText{Kind: kind, Text: line, Time: time.Now()})
	}
	p.lb.remote = func(kind ircconn.Kind, line string) {
		p.a.Receive(context.Background(), p.la, IncomingText{Kind: kind, Text: line, Time: time.Now()})
	}
}

// secure starts a private conversation from alice's side and waits for it.
func (p *pair) secure(t testing.TB) {
	t.Helper()
	if _, err := p.a.Init(context.Background(), p.la); err != nil {
		t.Fatal(err)
	}
	settled(t, "both sides private", func() bool {
		return p.la.state() == StatePrivateUnverified && p.lb.state() == StatePrivateUnverified
	})
}

func send(m *Manager, l PeerLink, kind ircconn.Kind, text string) error {
	_, err := m.Send(context.Background(), l, OutgoingText{Kind: kind, Lines: strings.Split(text, "\n")})
	return err
}

type ioReader = io.Reader
