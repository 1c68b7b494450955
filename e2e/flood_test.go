package e2e

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// The flood scenarios: a hostile IRC user floods a bridged user while the
// same user keeps a private conversation with a well-behaved libotr peer.
// Each checks that what the flood can make the bridge spend is capped and
// that the conversation beside it keeps its latency. Floods are bounded in
// count and time; the server (the env's local InspIRCd) has no flood
// limits, so only the bridge's own caps hold them.

// floodLatencyLimit is the longest a message of the well-behaved
// conversation may take, either way, while a flood runs (quiet: well
// under a second; the shared test machine is slow).
const floodLatencyLimit = 15 * time.Second

// wellBehaved is a private OTR conversation between a Matrix user and a
// libotr client.
type wellBehaved struct {
	u    *user
	p    *otrPeer
	room string
	seq  int
}

// wellBehavedConversation logs a new user in to the local network and
// starts a private conversation with a libotr peer.
func (e *env) wellBehavedConversation(t testing.TB) *wellBehaved {
	t.Helper()
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	return &wellBehaved{u: u, p: p, room: room}
}

// probe sends one message each way and returns how long each took to
// arrive (Matrix to libotr, libotr to Matrix). It fails the test when one
// does not arrive within floodLatencyLimit.
func (w *wellBehaved) probe(t testing.TB) (m2i, i2m time.Duration) {
	t.Helper()
	w.seq++
	out := w.u.e.text(fmt.Sprintf("well-behaved %d matrix to libotr", w.seq))
	start := time.Now()
	w.u.sendPortal(t, w.room, out)
	if _, ok := w.p.WaitFor(floodLatencyLimit, func(l otrtest.Line) bool { return l.Kind == "MSG" && l.Text == out }); !ok {
		t.Fatalf("message %d of the well-behaved conversation did not reach libotr within %s", w.seq, floodLatencyLimit)
	}
	m2i = time.Since(start)
	in := w.u.e.text(fmt.Sprintf("well-behaved %d libotr to matrix", w.seq))
	start = time.Now()
	w.p.Send(in)
	ghost := w.u.e.ghost(w.u.network, w.p.irc.Nick())
	if _, err := w.u.mx.WaitMessage(floodLatencyLimit, w.room, ghost, func(ev teststack.MatrixEvent) bool { return ev.Body() == in }); err != nil {
		t.Fatalf("message %d of the well-behaved conversation did not reach Matrix within %s: %v", w.seq, floodLatencyLimit, err)
	}
	return m2i, time.Since(start)
}

// latencies are the probes of one phase.
type latencies struct{ m2i, i2m []time.Duration }

func (l *latencies) add(m2i, i2m time.Duration) {
	l.m2i = append(l.m2i, m2i)
	l.i2m = append(l.i2m, i2m)
}

func (l latencies) String() string {
	worst := func(d []time.Duration) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return slices.Max(d).Round(time.Millisecond)
	}
	return fmt.Sprintf("%d probes, worst Matrix→IRC %s, IRC→Matrix %s", len(l.m2i), worst(l.m2i), worst(l.i2m))
}

// probeDuring runs flood on its own goroutine and probes the well-behaved
// conversation until the flood has ended and settle has passed after it;
// it returns the latencies measured and the flood's error.
func (w *wellBehaved) probeDuring(t testing.TB, settle time.Duration, flood func() error) (latencies, error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- flood() }()
	var (
		lat     latencies
		err     error
		settled <-chan time.Time
	)
	for {
		lat.add(w.probe(t))
		select {
		case err = <-done:
			done = nil
			settled = time.After(settle)
		case <-settled:
			return lat, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// portalInvites counts the chat rooms (not spaces) u was invited to after
// since.
func (u *user) portalInvites(since time.Time) map[string]bool {
	rooms := map[string]bool{}
	spaces := map[string]bool{}
	evs := u.mx.Events()
	for _, ev := range evs {
		if ev.Type == "m.room.create" && ev.Str("type") == "m.space" {
			spaces[ev.RoomID] = true
		}
	}
	for _, ev := range evs {
		if ev.Invite && ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == u.mx.UserID &&
			ev.Str("membership") == "invite" && ev.Received.After(since) && !spaces[ev.RoomID] {
			rooms[ev.RoomID] = true
		}
	}
	return rooms
}

// newPeersBudget is the default of network.limits.new_peers: new IRC
// users per window that get a room.
const newPeersBudget = 10

// testFloodNewPeers: 40 nicks (one connection changing nick, as clones
// would) each send one message to a user. Only the first newPeersBudget of
// them get a room; the rest are summarised in one control-room notice. The
// user's private conversation beside the flood keeps its latency, and a
// refused nick can still be answered with `pm`.
func testFloodNewPeers(t *testing.T, e *env) {
	const nicks = 40
	w := e.wellBehavedConversation(t)
	u := w.u
	var before latencies
	before.add(w.probe(t))
	clone := teststack.DialIRC(t, e.irc.Addr(), e.unique("clone"), teststack.IRCClientOptions{})
	prefix := e.unique("stranger")
	start := time.Now()
	during, err := w.probeDuring(t, 10*time.Second, func() error { return floodNewNicks(clone, u.nick, prefix, nicks) })
	if err != nil {
		t.Fatalf("flood: %v", err)
	}
	t.Logf("before: %s; during %d new nicks: %s", before, nicks, during)
	summary := u.replyContaining(t, longWait, "more people tried to message you")
	t.Logf("summary after %s: %q", summary.Received.Sub(start).Round(time.Millisecond), summary.Body())
	if !strings.Contains(summary.Body(), "pm ") {
		t.Errorf("the summary does not say how to answer (`pm <nick>`): %q", summary.Body())
	}
	rooms := u.portalInvites(start)
	if len(rooms) > newPeersBudget {
		t.Errorf("%d new nicks got %d rooms; at most %d allowed", nicks, len(rooms), newPeersBudget)
	} else if len(rooms) == 0 {
		t.Errorf("no new nick got a room: the budget is not used")
	}
	// A refused nick can be answered: `pm` opens the chat.
	last := fmt.Sprintf("%s-%d", prefix, nicks-1)
	room := u.pm(t, last)
	text := e.text("answer to a refused stranger")
	u.sendPortal(t, room, text)
	if l := u.atPeer(t, clone); l.Text() != text {
		t.Errorf("the refused stranger got %q, want %q", l.Text(), text)
	}
	w.probe(t)
}

// floodNewNicks has clone, changing nick before each line as clones
// would, send one message as each of nicks new nicks.
func floodNewNicks(clone *teststack.IRCClient, target, prefix string, nicks int) error {
	for i := 0; i < nicks; i++ {
		if err := clone.Send(fmt.Sprintf("NICK %s-%d", prefix, i)); err != nil {
			return err
		}
		if err := clone.Send(fmt.Sprintf("PRIVMSG %s :hello, I am stranger %d", target, i)); err != nil {
			return err
		}
	}
	return nil
}

// pm opens a chat with nick from the control room and joins it.
func (u *user) pm(t testing.TB, nick string) string {
	t.Helper()
	reply := u.replyTo(t, u.say(t, "pm "+nick), "chat with", longWait)
	room := roomIDPattern.FindString(reply.Body())
	if room == "" {
		t.Fatalf("no room in the reply to `pm %s`: %q", nick, reply.Body())
	}
	if err := u.mx.Join(room); err != nil {
		t.Fatalf("join the chat with %s: %v", nick, err)
	}
	return room
}

var roomIDPattern = regexp.MustCompile(`![A-Za-z0-9]+:[A-Za-z0-9.:-]+`)

// testFloodNotices: a peer's client sends a thousand malformed OTR
// messages, and a nick named like a service sends fifty notices asking for
// the user's password. The peer's portal gets one notice at once and one
// count a minute later, not a thousand; the control room, where the bot
// asks for passwords, shows none of the fake service's notices (the real
// NickServ's are labelled as IRC text: LoginNickServ). The private
// conversation beside the flood keeps its latency.
func testFloodNotices(t *testing.T, e *env) {
	const junk, fakes = 1000, 50
	w := e.wellBehavedConversation(t)
	u := w.u
	var before latencies
	before.add(w.probe(t))
	storm := teststack.DialIRC(t, e.irc.Addr(), e.unique("storm"), teststack.IRCClientOptions{})
	room := u.pm(t, storm.Nick())
	fake := teststack.DialIRC(t, e.irc.Addr(), fmt.Sprintf("Help%dServ", e.seq.Add(1)), teststack.IRCClientOptions{})
	const bait = "your session expired, reply with your password"
	start := time.Now()
	during, err := w.probeDuring(t, 10*time.Second, func() error { return floodJunk(storm, fake, u.nick, bait, junk, fakes) })
	if err != nil {
		t.Fatalf("flood: %v", err)
	}
	t.Logf("before: %s; during %d junk OTR lines and %d fake service notices: %s", before, junk, fakes, during)
	defer func() {
		if t.Failed() {
			explainNoise(t, e, storm.Nick())
		}
	}()
	summary := u.notice(t, room, "more malformed OTR messages from "+storm.Nick()+" were ignored in the last minute", longWait)
	t.Logf("count after %s: %q", summary.Received.Sub(start).Round(time.Millisecond), summary.Body())
	var portal []string
	for _, ev := range u.mx.Messages(room) {
		if ev.MsgType() == "m.notice" && strings.Contains(ev.Body(), "malformed") {
			portal = append(portal, ev.Body())
		}
	}
	if len(portal) > 2 {
		t.Errorf("%d notices about malformed messages in the portal, want the first and one count:\n  %s", len(portal), strings.Join(portal, "\n  "))
	}
	// A nick named like a service is not a service: its notices are
	// messages from a peer, never in the control room.
	for _, ev := range u.mx.Messages(u.control) {
		if strings.Contains(ev.Body(), bait) {
			t.Errorf("a notice from %s, which is not on the services list, reached the control room: %q", fake.Nick(), ev.Body())
			break
		}
	}
}

// explainNoise tells, for a failed noise scenario, what the bridge's log
// says about the noisy peer: whether the summary was decided (the
// "OTR events not shown" line), and the warnings and errors about it.
func explainNoise(t *testing.T, e *env, nick string) {
	t.Helper()
	mentions, decided := 0, false
	for _, l := range bridgeLogLines(t, e) {
		if !strings.Contains(strings.ToLower(l), strings.ToLower(nick)) {
			continue
		}
		mentions++
		switch {
		case strings.Contains(l, "OTR events not shown"):
			decided = true
			t.Logf("bridge log: %.400s", l)
		case strings.Contains(l, `"level":"warn"`), strings.Contains(l, `"level":"error"`):
			t.Logf("bridge log: %.400s", l)
		}
	}
	t.Logf("the bridge's log mentions %s %d times; the summary was decided: %v", nick, mentions, decided)
}

// floodJunk has storm send junk malformed OTR messages and fake send
// fakes notices with bait.
func floodJunk(storm, fake *teststack.IRCClient, target, bait string, junk, fakes int) error {
	for i := 0; i < junk; i++ {
		if err := storm.Send(fmt.Sprintf("PRIVMSG %s :?OTR:AAMD%08dbWFsZm9ybWVkIGp1bms.", target, i)); err != nil {
			return err
		}
		if i < fakes {
			if err := fake.Send("NOTICE " + target + " :" + bait); err != nil {
				return err
			}
		}
	}
	return nil
}

// dhCommit is a real OTR v3 D-H commit message, the first step of a key
// exchange: the bridge answers each one with a D-H key message.
func dhCommit(t testing.TB) string {
	t.Helper()
	b, err := otrtest.KeyBinary(otrtest.Testdata("libotr-bob.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := new(otr.PrivateKey)
	if err := key.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	conv, err := otr.NewConversation(otr.Config{PrivateKey: key, InstanceTag: 0x4f54521, Policy: otr.PolicyManual})
	if err != nil {
		t.Fatal(err)
	}
	out, err := conv.Receive(time.Now(), "?OTRv3?")
	if err != nil || len(out.Wire) != 1 || !strings.HasPrefix(out.Wire[0], "?OTR:AAMC") {
		t.Fatalf("no D-H commit: %v %q", err, out.Wire)
	}
	return out.Wire[0]
}

// The bridge's default budget for automatic messages per connection
// (network.limits.auto_replies): 20 at once, then one every 2 s.
const (
	autoReplyBurst = 20
	autoReplyRate  = 0.5
)

// testFloodAutoReplies: 8 nicks each send 12 D-H commits, each of which
// asks the bridge for an answer, while the user keeps a private
// conversation. The user's messages go out before the automatic answers,
// and the answers stay within the connection's budget for automatic
// messages (the per-peer limit alone would let 80 through); those that
// cannot go out in time are dropped, not sent late.
func testFloodAutoReplies(t *testing.T, e *env) {
	const flooders, commits = 8, 12
	w := e.wellBehavedConversation(t)
	u := w.u
	var before latencies
	before.add(w.probe(t))
	commit := dhCommit(t)
	var clients []*teststack.IRCClient
	for range flooders {
		clients = append(clients, teststack.DialIRC(t, e.irc.Addr(), e.unique("akeflood"), teststack.IRCClientOptions{}))
	}
	start := time.Now()
	during, err := w.probeDuring(t, 20*time.Second, func() error { return floodCommits(clients, u.nick, commit, commits) })
	if err != nil {
		t.Fatalf("flood: %v", err)
	}
	// Without the user's messages in the way the answers that were not
	// dropped go out; count them once the bridge sends no more.
	replies := e.awaitAutoRepliesDone(t, 3*time.Minute, time.Duration(3/autoReplyRate)*time.Second, func() int {
		n := 0
		for _, c := range clients {
			r, _ := otrReplies(c.Lines(), u.nick)
			n += r
		}
		return n
	})
	elapsed := time.Since(start)
	limit := autoReplyBurst + int(autoReplyRate*elapsed.Seconds()) + 1
	t.Logf("before: %s; during %d D-H commits from %d nicks: %s; %d answers in %s (budget %d)",
		before, flooders*commits, flooders, during, replies, elapsed.Round(time.Millisecond), limit)
	if replies == 0 {
		t.Fatal("the bridge answered no key exchange: the count would prove nothing")
	}
	if replies > limit {
		t.Errorf("the bridge sent %d automatic answers in %s; its budget allows %d", replies, elapsed.Round(time.Second), limit)
	}
	w.probe(t)
}

// awaitAutoRepliesDone waits until the bridge's automatic send queue is
// empty and no answer arrived for quiet (longer than the gap between two
// answers at the budget's rate), and returns how many were received. The
// answers are not all queued at once: each peer's next one is provoked
// after its previous one went out or was dropped.
func (e *env) awaitAutoRepliesDone(t *testing.T, timeout, quiet time.Duration, received func() int) int {
	t.Helper()
	const series = `otrbridge_irc_send_queue{kind="automatic",network="local"}`
	last, since := -1, time.Now()
	for deadline := time.Now().Add(timeout); ; time.Sleep(500 * time.Millisecond) {
		queued, ok := e.scrape(t)[series]
		if !ok {
			t.Fatalf("the metrics have no %s", series)
		}
		n := received()
		if queued != 0 || n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the bridge still sends automatic messages (%v queued, %d answers received)", timeout, queued, n)
		}
	}
}

// floodCommits has each client send commits D-H commits.
func floodCommits(clients []*teststack.IRCClient, target, commit string, commits int) error {
	for range commits {
		for _, c := range clients {
			if err := c.Send("PRIVMSG " + target + " :" + commit); err != nil {
				return err
			}
		}
	}
	return nil
}

// testFloodFragments: 24 nicks say hello (10 get a chat), then each sends
// 164 KiB of OTR fragments, four messages that never end. Incomplete
// messages are capped per login: the ten conversations together hold at
// most 1 MiB (each alone may hold 256 KiB), the refused nicks hold nothing,
// the bridge's memory stays flat, and the private conversation beside the
// flood keeps its latency.
func testFloodFragments(t *testing.T, e *env) {
	const nicks = 24
	w := e.wellBehavedConversation(t)
	u := w.u
	var before latencies
	before.add(w.probe(t))
	clone := teststack.DialIRC(t, e.irc.Addr(), e.unique("fragclone"), teststack.IRCClientOptions{})
	prefix := e.unique("frag")
	u.helloFrom(t, clone, prefix, nicks)
	rssBefore, err := e.bridge.RSS()
	if err != nil {
		t.Fatal(err)
	}
	sampler := startRSSSampler(e)
	start := time.Now()
	lines := 0
	during, err := w.probeDuring(t, 10*time.Second, func() (err error) {
		lines, err = floodFragments(clone, u.nick, prefix, nicks)
		return err
	})
	if err != nil {
		t.Fatalf("flood: %v", err)
	}
	peak := sampler.stop()
	sent := lines * fragmentPiece
	t.Logf("before: %s; during %d fragment lines (%.1f MiB) from %d nicks in %s: %s; bridge RSS %.1f MiB before, peak %.1f MiB",
		before, lines, mib(int64(sent)), nicks, time.Since(start).Round(time.Millisecond), during, mib(rssBefore), mib(peak))
	// The login's cap dropped incomplete messages (no nick reaches the
	// engine's own cap per conversation).
	capped := 0
	for _, l := range bridgeLogLines(t, e) {
		if strings.Contains(l, `"otr_event":"malformed"`) && strings.Contains(l, `"peer":"`+netLocal+"."+prefix) &&
			(strings.Contains(l, `"reason":"incomplete message dropped"`) || strings.Contains(l, `"reason":"fragment limit"`)) {
			capped++
		}
	}
	if capped == 0 {
		t.Errorf("no incomplete message of the flood was dropped: nothing capped the %.1f MiB of fragments", mib(int64(sent)))
	}
	if grew := peak - rssBefore; grew > fragmentFloodGrowth {
		t.Errorf("the bridge's memory grew by %.1f MiB while %.1f MiB of fragments that never complete arrived; at most %.1f MiB allowed",
			mib(grew), mib(int64(sent)), mib(fragmentFloodGrowth))
	}
}

// helloFrom has clone say hello to u as each of nicks new nicks and waits
// until the first newPeersBudget of them have a chat.
func (u *user) helloFrom(t testing.TB, clone *teststack.IRCClient, prefix string, nicks int) {
	t.Helper()
	start := time.Now()
	for i := 0; i < nicks; i++ {
		clone.Send(fmt.Sprintf("NICK %s-%d", prefix, i))
		clone.Send(fmt.Sprintf("PRIVMSG %s :hello from %d", u.nick, i))
	}
	for deadline := time.Now().Add(longWait); len(u.portalInvites(start)) < min(nicks, newPeersBudget); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d new nicks got a chat", len(u.portalInvites(start)), newPeersBudget)
		}
	}
}

// The fragment flood: per nick four messages (four sender instance tags)
// of fragmentsPerMessage pieces of fragmentPiece bytes, k of 65535 each,
// so that none ever completes: 53,760 bytes a message with the
// reassembler's doubling, 215,040 for the four of a nick, below the
// engine's 256 KiB per conversation, while ten nicks exceed the login's
// 1 MiB.
const (
	fragmentsPerMessage = 100
	fragmentPiece       = 420
)

// floodFragments has clone send the fragment flood as each of nicks nicks
// and returns how many lines it sent. It paces itself to 400 lines a
// second, within what the server relays without dropping the clone.
func floodFragments(clone *teststack.IRCClient, target, prefix string, nicks int) (lines int, err error) {
	body := strings.Repeat("QUFB", fragmentPiece/4)
	for i := 0; i < nicks; i++ {
		if err := clone.Send(fmt.Sprintf("NICK %s-%d", prefix, i)); err != nil {
			return lines, err
		}
		for k := 1; k <= fragmentsPerMessage; k++ {
			for tag := uint32(0x100); tag < 0x104; tag++ {
				if err := clone.Send(fmt.Sprintf("PRIVMSG %s :?OTR|%08x|00000000,%05d,65535,%s,", target, tag, k, body)); err != nil {
					return lines, err
				}
				lines++
				if lines%20 == 0 {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}
	}
	return lines, nil
}

// bridgeLogLines returns the bridge's log, a JSON object per line.
func bridgeLogLines(t testing.TB, e *env) []string {
	t.Helper()
	b, err := os.ReadFile(e.bridge.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

// fragmentFloodGrowth is how much the bridge's resident memory may grow
// during testFloodFragments: the per-login cap on incomplete messages (1
// MiB), the rooms of the admitted new peers, and the garbage collector's
// slack over the lines parsed. It grows 3.9-4.5 MiB with the caps and grew
// 8.8 MiB without them (docs/performance.md): 6.5 MiB keeps a clear margin
// to both.
const fragmentFloodGrowth = 13 << 19

// injectedPanic is the value of the panics the bridge's faultinject build
// injects (bridge/otrsession/fault_inject.go); it must never be logged.
const injectedPanic = "otrbridge injected panic value"

// panicPeers are the three peers of testPanicInOnePeer; write has a chat.
type panicPeers struct {
	recv, shown, write *teststack.IRCClient
	writeRoom          string
}

func (e *env) panicPeers(t testing.TB, u *user) *panicPeers {
	t.Helper()
	pp := &panicPeers{
		recv:  teststack.DialIRC(t, e.irc.Addr(), e.unique("panicreceive"), teststack.IRCClientOptions{}),
		shown: teststack.DialIRC(t, e.irc.Addr(), e.unique("paniceffect"), teststack.IRCClientOptions{}),
		write: teststack.DialIRC(t, e.irc.Addr(), e.unique("panicwrite"), teststack.IRCClientOptions{}),
	}
	pp.writeRoom = u.pm(t, pp.write.Nick())
	return pp
}

// round has recv and shown send u a line each and u send write a
// message, each of which makes the bridge panic; it returns their texts.
func (pp *panicPeers) round(e *env, u *user, i int) []string {
	var texts []string
	for _, c := range []*teststack.IRCClient{pp.recv, pp.shown} {
		text := e.text(fmt.Sprintf("line %d from %s", i, c.Nick()))
		texts = append(texts, text)
		c.Privmsg(u.nick, text)
	}
	text := e.text(fmt.Sprintf("message %d to %s", i, pp.write.Nick()))
	u.mx.SendText(pp.writeRoom, text)
	return append(texts, text)
}

// testPanicInOnePeer: three peers make the bridge panic on purpose (its
// test build does so for nicks starting with "panic…"): while deciding
// about every line of one, when showing anything of another in Matrix,
// when sending to the third. Each panic is logged without its value or
// any message text and costs that peer only: the user's private
// conversation beside them and another user's go on with their latency,
// and each peer is answered again after its panic.
func testPanicInOnePeer(t *testing.T, e *env) {
	w := e.wellBehavedConversation(t)
	other := e.wellBehavedConversation(t)
	u := w.u
	var before latencies
	before.add(w.probe(t))
	before.add(other.probe(t))
	pp := e.panicPeers(t, u)
	var texts []string
	for i := 0; i < 2; i++ {
		texts = append(texts, pp.round(e, u, i)...)
		var during latencies
		during.add(w.probe(t))
		during.add(other.probe(t))
		t.Logf("round %d: %s", i, during)
	}
	write := pp.write
	var after latencies
	after.add(w.probe(t))
	after.add(other.probe(t))
	t.Logf("before: %s; after the panics: %s", before, after)
	if _, err := write.WaitPrivmsg(shortWait, u.nick, false); err == nil {
		t.Errorf("a message reached %s although sending to it panics", write.Nick())
	}

	recovered := map[string]int{}
	out, err := os.ReadFile(e.bridge.OutPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range append(bridgeLogLines(t, e), strings.Split(string(out), "\n")...) {
		if strings.Contains(l, "Recovered from a panic") {
			for _, where := range []string{"receive", "effect", "write"} {
				if strings.Contains(l, `"where":"`+where+`"`) {
					recovered[where]++
				}
			}
		}
		if strings.Contains(l, injectedPanic) {
			t.Errorf("the log holds a panic's value: %.200s", l)
		}
		for _, text := range texts {
			if strings.Contains(l, text) {
				t.Errorf("the log holds a message text: %.200s", l)
			}
		}
	}
	t.Logf("panics recovered: %v", recovered)
	for _, where := range []string{"receive", "effect", "write"} {
		if recovered[where] < 2 {
			t.Errorf("%d panics recovered %s, want one for each of 2 lines", recovered[where], where)
		}
	}
}
