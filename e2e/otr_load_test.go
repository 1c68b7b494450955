package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// TestOTRLoad is the load test: many Matrix users, each in one
// private (OTR) conversation with its own libotr client on IRC, all at the
// same time, exchanging messages both ways. It asserts that no message is
// lost and none travels unencrypted, and reports the AKE and relay
// latencies (docs/performance.md).
//
// At full size (100 users, 20 messages each way) it takes 6-13 minutes on
// 2 cores, Dendrite on SQLite being the bottleneck, so it runs only with
// OTRBRIDGE_LOAD=1:
//
//	OTRBRIDGE_LOAD=1 go test -tags goolm ./e2e -run '^TestOTRLoad$' -v -timeout 40m
//
// Without it, a small version (10 users, 5 messages each way, under a
// minute) keeps the concurrent path covered in every test run.
// OTRBRIDGE_LOAD_USERS and OTRBRIDGE_LOAD_MESSAGES override either size.
func TestOTRLoad(t *testing.T) {
	users, messages := 10, 5
	if os.Getenv("OTRBRIDGE_LOAD") == "1" {
		users, messages = 100, 20
	} else {
		t.Log("small load test; OTRBRIDGE_LOAD=1 runs 100 users × 20 messages each way")
	}
	users = envInt(t, "OTRBRIDGE_LOAD_USERS", users)
	messages = envInt(t, "OTRBRIDGE_LOAD_MESSAGES", messages)
	needPeers(t)
	otrtest.StartLibotr(t, otrtest.Options{}).Close() // fail or skip on a missing libotr first
	wallStart := time.Now()
	e, prof := loadEnv(t)
	rssIdle, err := e.bridge.RSS()
	if err != nil {
		t.Fatal(err)
	}
	goroutinesIdle, err := prof.goroutines()
	if err != nil {
		t.Fatal(err)
	}

	// Setup: users, logins, keys, libotr peers and portals, a few at a
	// time (Dendrite is the bottleneck; more workers only queue there).
	setupStart := time.Now()
	convs := make([]*loadConv, users)
	work := make(chan int)
	var retries atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				// Under heavy machine load a step may time out; a
				// second try with new names keeps one slow request
				// from ending the run, and is counted.
				for attempt := 0; ; attempt++ {
					c := setupLoadConv(t, e, i, attempt)
					convs[i] = c
					if c.err == nil || attempt == 2 {
						break
					}
					t.Logf("setup of conversation %d, attempt %d: %v", i, attempt+1, c.err)
					retries.Add(1)
				}
			}
		}()
	}
	for i := range convs {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, c := range convs {
		if c.err != nil {
			t.Fatalf("setup of conversation %d: %v", c.i, c.err)
		}
	}
	setup := time.Since(setupStart)
	rssSetup, _ := e.bridge.RSS()
	goroutinesSetup, err := prof.goroutines()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d users logged in with keys and portals in %s (%d setup steps retried)", users, setup.Round(time.Second), retries.Load())
	if prof.dir != "" {
		if err := prof.snapshot("setup"); err != nil {
			t.Logf("profiles after setup: %v", err)
		}
		prof.startCPU("load")
	}

	// Load: every conversation starts its AKE (staggered over a few
	// seconds, as users do not all click at once), then sends both ways
	// at the same time, each direction one message after the other.
	rss := startRSSSampler(e)
	cpuStart := e.cpuSnapshot()
	loadStart := time.Now()
	const ramp = 5 * time.Second
	for i, c := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(ramp * time.Duration(i) / time.Duration(users))
			c.run(e, messages)
		}()
	}
	wg.Wait()
	load := time.Since(loadStart)
	cpu := e.cpuSnapshot().since(cpuStart)
	rssPeak := rss.stop()
	if prof.dir != "" {
		prof.stopCPUProfiles()
		t.Logf("profiles in %s", prof.dir)
	}

	// Verdict.
	var ake, akePeer, akeIRC, noticeDelay, noticeSync, hsOwn, m2i, i2m, keygen []time.Duration
	marks, err := readAKEMarks(e.bridge.LogPath)
	if err != nil {
		t.Errorf("reading the bridge's log: %v", err)
	}
	res := loadResult{Users: users, MessagesEachWay: messages}
	for _, c := range convs {
		if c.err != nil {
			t.Errorf("conversation %d (%s ↔ %s): %v", c.i, c.u.nick, c.p.irc.Nick(), c.err)
			c.diagnose(t, e)
		}
		fromBridge, fromPeer := c.checkWire(t)
		if c.ake > 0 && (fromBridge < len(c.m2i) || fromPeer < len(c.i2m)) {
			t.Errorf("conversation %d: only %d / %d private-phase lines on the wire for %d / %d delivered messages",
				c.i, fromBridge, fromPeer, len(c.m2i), len(c.i2m))
		}
		res.WireLines += fromBridge + fromPeer
		res.Expected += 2 * messages
		res.Delivered += len(c.m2i) + len(c.i2m)
		res.Unencrypted += c.unencrypted
		res.Sent += c.sent
		res.HSDropped += c.hsDropped
		res.SyncMissed += c.syncMissed
		if c.ake > 0 {
			ake, akePeer = append(ake, c.ake), append(akePeer, c.akePeer)
			if m, ok := marks[c.peerKey()]; ok && !m.command.IsZero() && !m.secure.IsZero() {
				akeIRC = append(akeIRC, c.initAt.Add(c.akePeer).Sub(m.command))
				noticeDelay = append(noticeDelay, time.UnixMilli(c.noticeTS).Sub(m.secure))
				noticeSync = append(noticeSync, c.noticeAt.Sub(m.secure))
			}
		}
		hsOwn = append(hsOwn, c.ownEchoes()...)
		keygen = append(keygen, c.keygen)
		m2i = append(m2i, c.m2i...)
		i2m = append(i2m, c.i2m...)
	}
	res.Lost = res.Sent - res.Delivered
	res.Secure = len(ake)
	res.AKE = percentiles(ake)
	res.AKEPeer = percentiles(akePeer)
	res.AKEIRC = percentiles(akeIRC)
	res.NoticeAfterSecure = percentiles(noticeDelay)
	res.AKEMeasured = len(akeIRC)
	res.NoticeInSync = percentiles(noticeSync)
	res.HomeserverOwn = percentiles(hsOwn)
	res.MatrixToIRC = percentiles(m2i)
	res.IRCToMatrix = percentiles(i2m)
	res.KeyGen = percentiles(keygen)
	res.SetupRetries = int(retries.Load())
	res.SetupSeconds = setup.Seconds()
	res.LoadSeconds = load.Seconds()
	res.WallSeconds = time.Since(wallStart).Seconds()
	res.RSSIdleMiB = mib(rssIdle)
	res.RSSSetupMiB = mib(rssSetup)
	res.RSSPeakMiB = mib(rssPeak)
	res.CPUSeconds = cpu
	res.CPUs = runtime.NumCPU()
	res.LoadAvg = loadAvg()
	res.GoroutinesIdle, res.GoroutinesSetup = goroutinesIdle, goroutinesSetup
	if msgs := res.Delivered; msgs > 0 {
		// Everything the bridge did in the load phase (AKEs included)
		// per message relayed.
		res.BridgeCPUPerMessageMS = math.Round(cpu["bridge"]*1e6/float64(msgs)) / 1000
	}
	// The bridge logs its IRC event loop's totals again when a login
	// disconnects: stop it for the final figures.
	e.bridge.Stop()
	if res.EventLoop, err = readEventLoopStats(e.bridge.LogPath); err != nil {
		t.Errorf("reading the IRC event loop's slow events from the bridge log: %v", err)
	}
	if prof.dir != "" {
		if data, err := os.ReadFile(e.bridge.LogPath); err == nil {
			_ = os.WriteFile(filepath.Join(prof.dir, "bridge.log"), data, 0o600)
		}
	}

	t.Logf("conversations secure: %d of %d; messages sent %d, delivered %d, lost %d, unencrypted %d; %d IRC lines checked to be ciphertext",
		res.Secure, users, res.Sent, res.Delivered, res.Lost, res.Unencrypted, res.WireLines)
	t.Logf("AKE (`!otr init` → both sides secure): p50 %s p99 %s; to libotr secure alone: p50 %s p99 %s",
		res.AKE.P50, res.AKE.P99, res.AKEPeer.P50, res.AKEPeer.P99)
	t.Logf("AKE, IRC side (the bridge has the command → libotr secure): p50 %s p99 %s; \"private\" notice, bridge secure → homeserver's timestamp: p50 %s p99 %s (%d conversations)",
		res.AKEIRC.P50, res.AKEIRC.P99, res.NoticeAfterSecure.P50, res.NoticeAfterSecure.P99, res.AKEMeasured)
	t.Logf("\"private\" notice, bridge secure → the user's /sync: p50 %s p99 %s; the homeserver's own latency (the user's message → their /sync): p50 %s p99 %s",
		res.NoticeInSync.P50, res.NoticeInSync.P99, res.HomeserverOwn.P50, res.HomeserverOwn.P99)
	t.Logf("Matrix → IRC (send → libotr decrypted): p50 %s p99 %s (%d messages)", res.MatrixToIRC.P50, res.MatrixToIRC.P99, len(m2i))
	t.Logf("IRC → Matrix (libotr send → /sync event): p50 %s p99 %s (%d messages)", res.IRCToMatrix.P50, res.IRCToMatrix.P99, len(i2m))
	t.Logf("key generation (first `fingerprint`, during setup): p50 %s p99 %s", res.KeyGen.P50, res.KeyGen.P99)
	if res.HSDropped+res.SyncMissed > 0 {
		t.Logf("homeserver faults worked around: %d `!otr init` never passed to the bridge (sent again); %d portal messages missing from /sync (found in the room's history)",
			res.HSDropped, res.SyncMissed)
	}
	t.Logf("setup %s, load phase %s, wall %s; bridge RSS idle %.1f MiB, after setup %.1f MiB, peak under load %.1f MiB",
		setup.Round(time.Second), load.Round(time.Second), time.Since(wallStart).Round(time.Second),
		res.RSSIdleMiB, res.RSSSetupMiB, res.RSSPeakMiB)
	t.Logf("CPU during the load phase: bridge %.1f s, Dendrite %.1f s, InspIRCd %.1f s, test process %.1f s; machine busy %.0f of %.0f core-seconds",
		cpu["bridge"], cpu["dendrite"], cpu["inspircd"], cpu["test"], cpu["machine_busy"], cpu["machine_total"])
	t.Logf("bridge CPU per relayed message (AKEs included): %.2f ms; goroutines idle %d, after setup %d (%.1f per user)",
		res.BridgeCPUPerMessageMS, goroutinesIdle, goroutinesSetup, float64(goroutinesSetup-goroutinesIdle)/float64(users))
	t.Logf("IRC event loop: %d events took longer than 10 ms (on %d connections), the slowest %.1f ms",
		res.EventLoop.SlowEvents, res.EventLoop.Connections, res.EventLoop.SlowestMS)
	line, _ := json.Marshal(res)
	t.Logf("OTRLOAD %s", line)

	if res.Secure != users {
		t.Errorf("%d of %d conversations never became private", users-res.Secure, users)
	}
	if res.Delivered != res.Expected {
		t.Errorf("%d of %d messages were not delivered", res.Expected-res.Delivered, res.Expected)
	}
	if res.Unencrypted != 0 {
		t.Errorf("%d messages arrived unencrypted", res.Unencrypted)
	}
}

// loadEnv is newEnv for the load test: one InspIRCd, and the bridge with
// flood pacing out of the way (so the latencies show the relay and not the
// configured send rate, as in the relay benchmarks), logging at info
// (debug logging of 100 users would dominate the timings), message-status
// events off as in the bridge's default config (the test stack turns them
// on for the tests that read them), and the debug endpoints on for the
// profiler (CPU and heap profiles go to OTRBRIDGE_LOAD_PROFILE if set).
func loadEnv(t *testing.T) (*env, *profiler) {
	t.Helper()
	prof := newProfiler(os.Getenv("OTRBRIDGE_LOAD_PROFILE"))
	e := &env{dbKind: "sqlite"}
	e.irc = teststack.InspIRCd(t, teststack.IRCOptions{})
	e.floodIRC = e.irc
	e.hs = teststack.Dendrite(t, teststack.HSOptions{})
	e.bridge = teststack.StartBridge(t, teststack.BridgeOptions{
		Binary:   bridgeBinary(t),
		HS:       e.hs,
		Networks: []teststack.BridgeNetwork{{Key: netLocal, Name: "Local IRC", IRC: e.irc, FloodBurst: 1000, FloodRate: 1000}},
		LogLevel: "info",
		ExtraConfig: func(cfg map[string]any) {
			mx, _ := cfg["matrix"].(map[string]any)
			mx["message_status_events"] = false
			debugEndpoints(cfg, prof.secret)
		},
	})
	prof.attach(e.bridge)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		// The stack's directories go away with the test; keep the
		// bridge's and Dendrite's logs for the post-mortem.
		stamp := time.Now().Unix()
		for name, path := range map[string]string{"bridge": e.bridge.LogPath, "dendrite": e.hs.LogPath} {
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("otrbridge-load-%d-%s.log", stamp, name))
			if data, err := os.ReadFile(path); err == nil && os.WriteFile(keep, data, 0o600) == nil {
				t.Logf("%s log kept in %s", name, keep)
			}
		}
		t.Logf("bridge log tail:\n%s", tailFile(e.bridge.LogPath, 6000))
		t.Logf("Dendrite's errors:\n%s", logErrors(e.hs.LogPath))
	})
	return e, prof
}

// logErrors summarises the error lines of a Dendrite log: each distinct
// message once, with its count.
func logErrors(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	counts := map[string]int{}
	var order []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "level=error") {
			continue
		}
		_, msg, _ := strings.Cut(line, "msg=")
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if counts[msg] == 0 {
			order = append(order, msg)
		}
		counts[msg]++
	}
	var b strings.Builder
	for _, m := range order {
		fmt.Fprintf(&b, "%6d× %s\n", counts[m], m)
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}

// loadConv is one Matrix user's private conversation with a libotr peer.
type loadConv struct {
	i    int
	u    *user
	p    *otrPeer
	room string

	keygen time.Duration // first `fingerprint` in the control room
	initAt time.Time     // when `!otr init` was sent
	ake    time.Duration // `!otr init` → both sides secure (0: never)
	// akePeer is `!otr init` → libotr secure (the portal's notice follows).
	akePeer time.Duration
	// noticeTS and noticeAt are the homeserver's timestamp of the
	// "private" notice and when the user's /sync returned it.
	noticeTS int64
	noticeAt time.Time
	// sentAt is when each Matrix → IRC message was sent, by text: with
	// its arrival in the sender's own /sync, the homeserver's latency.
	sentAt map[string]time.Time
	// wireFrom are the number of lines the peer had received and sent
	// when the conversation became private: every later line is ciphertext.
	wireFrom, sentFrom int
	texts              []string // every message text, for the wire check
	sent               int      // messages sent (a direction stops at its first loss)
	m2i, i2m           []time.Duration
	unencrypted        int
	// Homeserver faults, counted apart from the bridge's: `!otr init`
	// sent again because the bridge never got it, and portal messages
	// found in the room's history after /sync did not return them.
	hsDropped, syncMissed int
	mu                    sync.Mutex
	err                   error
}

// setupLoadConv registers and logs in user i, generates its OTR key (as a
// user who has used OTR before has one), starts its libotr peer on IRC and
// opens the portal from Matrix. Errors are returned in err: this runs
// outside the test goroutine.
func setupLoadConv(t *testing.T, e *env, i, attempt int) (c *loadConv) {
	c = &loadConv{i: i}
	defer func() {
		if r := recover(); r != nil {
			c.err = fmt.Errorf("%v", r)
		}
	}()
	ft := &failTB{TB: t}
	name := fmt.Sprintf("load%03d", i)
	if attempt > 0 {
		name += fmt.Sprintf("r%d", attempt)
	}
	c.u = e.newUser(ft, name)
	c.u.login(ft, netLocal, name)
	start := time.Now()
	c.u.replyTo(ft, c.u.say(ft, "fingerprint"), "Your OTR fingerprint", longWait)
	c.keygen = time.Since(start)

	nick := "peer" + name[len("load"):]
	// A command to libotr normally answers in milliseconds; under this
	// load its process may wait for the CPU, and a timed-out command would
	// leave its output (the next AKE message) unsent.
	lp := otrtest.StartLibotr(ft, otrtest.Options{Account: nick, Peer: c.u.nick, Policy: otrtest.PolicyManual, Timeout: longWait})
	irc := teststack.DialIRC(ft, e.irc.Addr(), nick, teststack.IRCClientOptions{})
	c.p = &otrPeer{LibotrPeer: lp, glue: teststack.PutOnIRC(ft, lp, irc, c.u.nick, 0), irc: irc}
	c.u.say(ft, "pm "+nick)
	inv, err := c.u.mx.WaitChatInvite(longWait, "")
	if err != nil {
		panic(fmt.Sprintf("no portal invite after `pm`: %v", err))
	}
	if err := c.u.mx.Join(inv.RoomID); err != nil {
		panic(fmt.Sprintf("join the portal: %v", err))
	}
	c.room = inv.RoomID
	return c
}

// run does the AKE and then the message exchange, both directions at once.
func (c *loadConv) run(e *env, messages int) {
	if err := c.goPrivate(e); err != nil {
		c.fail(err)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.matrixToIRC(e, messages) }()
	go func() { defer wg.Done(); c.ircToMatrix(e, messages) }()
	wg.Wait()
}

func (c *loadConv) goPrivate(e *env) error {
	c.initAt = time.Now()
	if _, err := c.u.mx.SendText(c.room, "!otr init"); err != nil {
		return fmt.Errorf("send !otr init: %w", err)
	}
	secure := func(l otrtest.Line) bool { return l.Kind == "EVENT" && l.Name == "gone_secure" }
	if _, ok := c.p.WaitFor(longWait, secure); !ok {
		if c.bridgeGotInit(e) {
			return fmt.Errorf("libotr peer did not go secure within %s", longWait)
		}
		// Neither a reply nor a log line: the homeserver never passed
		// the command to the bridge. A user would send it again; so does
		// the test, and counts it.
		c.hsDropped++
		if _, err := c.u.mx.SendText(c.room, "!otr init"); err != nil {
			return fmt.Errorf("send !otr init again: %w", err)
		}
		if _, ok := c.p.WaitFor(longWait, secure); !ok {
			return fmt.Errorf("libotr peer did not go secure within %s of a second `!otr init` (the homeserver did not pass on the first)", longWait)
		}
	}
	peerSecure := time.Since(c.initAt)
	ev, err := c.waitPortal("", func(ev teststack.MatrixEvent) bool {
		return ev.MsgType() == "m.notice" && strings.Contains(ev.Body(), "Private conversation with")
	})
	if err != nil {
		return fmt.Errorf("no \"private\" notice in the portal: %w", err)
	}
	c.akePeer, c.ake = peerSecure, max(peerSecure, ev.Received.Sub(c.initAt))
	c.noticeTS, c.noticeAt = ev.TS, ev.Received
	c.wireFrom, c.sentFrom = len(c.p.irc.Lines()), len(c.p.glue.Sent())
	return nil
}

// matrixToIRC sends from Matrix, each message once the previous one was
// shown by libotr.
func (c *loadConv) matrixToIRC(e *env, messages int) {
	for j := range messages {
		text := c.text(e, fmt.Sprintf("load %d matrix to irc %d", c.i, j))
		start := time.Now()
		c.mu.Lock()
		if c.sentAt == nil {
			c.sentAt = map[string]time.Time{}
		}
		c.sentAt[text] = start
		c.mu.Unlock()
		if _, err := c.u.mx.SendText(c.room, text); err != nil {
			c.fail(fmt.Errorf("Matrix → IRC message %d: send: %w", j, err))
			return
		}
		c.count()
		l, ok := c.p.WaitFor(longWait, func(l otrtest.Line) bool { return l.Kind == "MSG" && l.Text == text })
		if !ok {
			c.fail(fmt.Errorf("Matrix → IRC message %d never reached libotr", j))
			return
		}
		d := time.Since(start)
		c.mu.Lock()
		c.m2i = append(c.m2i, d)
		if l.Name != "enc" {
			c.unencrypted++
		}
		c.mu.Unlock()
	}
}

// ircToMatrix sends from libotr, each message once the previous one was
// in the Matrix user's /sync.
func (c *loadConv) ircToMatrix(e *env, messages int) {
	defer func() {
		if r := recover(); r != nil { // the peer's Send fails through failTB
			c.fail(fmt.Errorf("IRC → Matrix: %v", r))
		}
	}()
	ghost := e.ghost(netLocal, c.p.irc.Nick())
	for j := range messages {
		text := c.text(e, fmt.Sprintf("load %d irc to matrix %d", c.i, j))
		start := time.Now()
		c.p.Send(text)
		c.count()
		ev, err := c.waitPortal(ghost, func(ev teststack.MatrixEvent) bool {
			// A message received unencrypted carries a remark after the
			// text, so an exact match is also the check for that.
			return strings.HasPrefix(ev.Body(), text)
		})
		if err != nil {
			c.fail(fmt.Errorf("IRC → Matrix message %d never reached Matrix: %w", j, err))
			return
		}
		c.mu.Lock()
		c.i2m = append(c.i2m, ev.Received.Sub(start))
		if ev.Body() != text {
			c.unencrypted++
		}
		c.mu.Unlock()
	}
}

// bridgeGotInit reports whether the bridge received this conversation's
// `!otr init`: it replied in the portal, or logged the command.
func (c *loadConv) bridgeGotInit(e *env) bool {
	for _, ev := range c.u.mx.Messages(c.room) {
		if ev.MsgType() == "m.notice" && ev.Sender != c.u.mx.UserID && ev.TS >= c.initAt.UnixMilli()-1000 {
			return true
		}
	}
	for _, line := range c.bridgeLog(e) {
		if strings.Contains(line, `"otr_command":"init"`) {
			return true
		}
	}
	return false
}

// ownEchoes is, for each Matrix → IRC message, the time from its send
// to its arrival in the sender's own /sync.
func (c *loadConv) ownEchoes() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, ev := range c.u.mx.Messages(c.room) {
		if start, ok := c.sentAt[ev.Body()]; ok && ev.Sender == c.u.mx.UserID {
			out = append(out, ev.Received.Sub(start))
		}
	}
	return out
}

// peerKey is the conversation's peer as the bridge logs it.
func (c *loadConv) peerKey() string {
	return netLocal + "." + strings.ToLower(c.p.irc.Nick())
}

// bridgeLog returns the bridge's log lines about this conversation: those
// naming its user or its peer.
func (c *loadConv) bridgeLog(e *env) []string {
	data, _ := os.ReadFile(e.bridge.LogPath)
	peer := `"peer":"` + netLocal + "." + strings.ToLower(c.p.irc.Nick()) + `"`
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, peer) || strings.Contains(line, `"user_mxid":"`+c.u.mx.UserID+`"`) {
			out = append(out, line)
		}
	}
	return out
}

// waitPortal waits for a message in the portal from sender ("" for
// anyone) through the user's /sync. When /sync does not bring it in time,
// it looks in the room's history: a message the bridge did send, but that
// the homeserver's /sync never returned, is counted (syncMissed) and
// reported apart; it is not lost by the bridge.
func (c *loadConv) waitPortal(sender string, match func(teststack.MatrixEvent) bool) (teststack.MatrixEvent, error) {
	ev, err := c.u.mx.WaitMessage(longWait, c.room, sender, match)
	if err == nil {
		return ev, nil
	}
	h, ok, herr := c.u.mx.HistoryMessage(c.room, 100, func(h teststack.MatrixEvent) bool {
		return (sender == "" || h.Sender == sender) && match(h)
	})
	if herr != nil {
		return ev, fmt.Errorf("%w (and reading the room's history: %v)", err, herr)
	}
	if !ok {
		return ev, err
	}
	c.mu.Lock()
	c.syncMissed++
	c.mu.Unlock()
	return h, nil
}

func (c *loadConv) text(e *env, words string) string {
	s := e.text(words)
	c.mu.Lock()
	c.texts = append(c.texts, s)
	c.mu.Unlock()
	return s
}

func (c *loadConv) count() {
	c.mu.Lock()
	c.sent++
	c.mu.Unlock()
}

func (c *loadConv) fail(err error) {
	c.mu.Lock()
	c.err = errors.Join(c.err, err)
	c.mu.Unlock()
}

// diagnose logs what each side saw of a failed conversation, for the
// post-mortem: the bridge's notices in the portal, the libotr peer's
// events, the OTR message types on the IRC wire both ways (not their
// content) and the bridge's log lines about the peer.
func (c *loadConv) diagnose(t *testing.T, e *env) {
	t.Helper()
	var b strings.Builder
	since := func(at time.Time) string {
		if c.initAt.IsZero() {
			return at.Format("15:04:05.000")
		}
		return fmt.Sprintf("%+.3fs", at.Sub(c.initAt).Seconds())
	}
	fmt.Fprintf(&b, "conversation %d: `!otr init` sent at %s; times below are relative to it\n", c.i, c.initAt.Format("15:04:05.000"))
	for _, ev := range c.u.mx.Messages(c.room) {
		if ev.MsgType() == "m.notice" {
			fmt.Fprintf(&b, "  portal notice %s: %.160s\n", since(ev.Received), ev.Body())
		}
	}
	for _, l := range c.p.History() {
		if l.Kind == "EVENT" {
			fmt.Fprintf(&b, "  libotr event: %s %s\n", l.Name, l.Sub)
		}
	}
	for _, err := range c.p.glue.Errors() {
		fmt.Fprintf(&b, "  libotr glue error: %v\n", err)
	}
	for _, l := range c.p.irc.Lines() {
		if l.Command() == "PRIVMSG" || l.Command() == "NOTICE" {
			fmt.Fprintf(&b, "  IRC to peer %s from %s: %s\n", since(l.At), l.From(), otrKind(l.Text()))
		}
	}
	for _, line := range c.p.glue.Sent() {
		fmt.Fprintf(&b, "  IRC from peer: %s\n", otrKind(line))
	}
	for _, line := range c.bridgeLog(e) {
		fmt.Fprintf(&b, "  bridge log: %.400s\n", line)
	}
	t.Log(b.String())
}

// otrKind names what an IRC line is without showing its content: the OTR
// message type of an encoded message or first fragment, "fragment k/n",
// a query, an error, or "not OTR".
func otrKind(line string) string {
	switch {
	case strings.HasPrefix(line, "?OTRv") || strings.HasPrefix(line, "?OTR?"):
		return "query"
	case strings.HasPrefix(line, "?OTR Error:"):
		return "OTR error"
	case strings.HasPrefix(line, "?OTR:"):
		return teststack.OTRMessageType(line[len("?OTR:"):])
	case isCiphertext(line):
		k, n, piece := teststack.SplitOTRFragment(line)
		kind := "fragment " + k + "/" + n
		if p, ok := strings.CutPrefix(piece, "?OTR:"); ok {
			kind += " of " + teststack.OTRMessageType(p)
		}
		return kind
	}
	return "not OTR"
}

// checkWire: no message text on the IRC wire either way, and every line
// from the bridge since the conversation became private is OTR ciphertext
// (before it: the query and the AKE, all "?OTR"). It returns how many
// lines of the private phase it checked each way, so that a check over
// nothing shows.
func (c *loadConv) checkWire(t *testing.T) (fromBridge, fromPeer int) {
	t.Helper()
	for i, l := range c.p.irc.Lines() {
		if cmd := l.Command(); (cmd != "PRIVMSG" && cmd != "NOTICE") || !strings.EqualFold(l.From(), c.u.nick) {
			continue
		}
		for _, s := range c.texts {
			if strings.Contains(l.Raw, s) {
				t.Errorf("conversation %d: the IRC wire from the bridge carried a plaintext message: %.80q", c.i, l.Raw)
			}
		}
		if i >= c.wireFrom && c.ake > 0 && !isCiphertext(l.Text()) || !strings.HasPrefix(l.Text(), "?OTR") {
			t.Errorf("conversation %d: a line from the bridge is not OTR ciphertext: %.80q", c.i, l.Raw)
		}
		if i >= c.wireFrom && c.ake > 0 {
			fromBridge++
		}
	}
	for i, line := range c.p.glue.Sent() {
		for _, s := range c.texts {
			if strings.Contains(line, s) {
				t.Errorf("conversation %d: the IRC wire from the peer carried a plaintext message: %.80q", c.i, line)
			}
		}
		if i >= c.sentFrom && c.ake > 0 && !isCiphertext(line) {
			t.Errorf("conversation %d: a line from libotr while private is not OTR ciphertext: %.80q", c.i, line)
		}
		if i >= c.sentFrom && c.ake > 0 {
			fromPeer++
		}
	}
	return fromBridge, fromPeer
}

// isCiphertext reports whether line is an OTR data or AKE message
// ("?OTR:...") or a fragment of one: a fragment ("?OTR|s|r,k,n,piece," in
// v3, "?OTR,k,n,piece," in v2) counts if it is not the first, or if its
// piece starts the "?OTR:" message.
func isCiphertext(line string) bool {
	if strings.HasPrefix(line, "?OTR:") {
		return true
	}
	if !teststack.IsOTRFragment(line) {
		return false
	}
	k, _, piece := teststack.SplitOTRFragment(line)
	n, err := strconv.Atoi(k)
	return err == nil && strings.HasSuffix(piece, ",") && (n > 1 || strings.HasPrefix(piece, "?OTR:"))
}

// loadResult is the machine-readable summary (one "OTRLOAD {json}" line).
type loadResult struct {
	Users           int `json:"users"`
	MessagesEachWay int `json:"messages_each_way"`
	Secure          int `json:"secure_conversations"`
	Expected        int `json:"messages_expected"`
	Sent            int `json:"messages_sent"`
	Delivered       int `json:"messages_delivered"`
	Lost            int `json:"messages_lost"`
	Unencrypted     int `json:"messages_unencrypted"`
	// WireLines is how many IRC lines of the private phases the wire
	// check found to be ciphertext (both ways).
	WireLines int `json:"wire_lines_checked"`
	AKE       pct `json:"ake"`
	AKEPeer   pct `json:"ake_peer_secure"`
	// AKEIRC is the IRC side of the AKE: from the bridge logging the
	// `!otr init` command to libotr secure. NoticeAfterSecure is from the
	// bridge logging the secure state to the homeserver's timestamp of the
	// "private" notice (the bridge's part of the notice's latency).
	AKEIRC            pct `json:"ake_irc_side"`
	NoticeAfterSecure pct `json:"private_notice_after_secure"`
	AKEMeasured       int `json:"ake_irc_side_measured"`
	// NoticeInSync is from the bridge's secure state to the notice in the
	// user's /sync; HomeserverOwn is the homeserver's own latency in the
	// same run: a user's message from its send to the user's own /sync.
	NoticeInSync  pct `json:"private_notice_in_sync"`
	HomeserverOwn pct `json:"homeserver_own_latency"`
	MatrixToIRC   pct `json:"matrix_to_irc"`
	IRCToMatrix   pct `json:"irc_to_matrix"`
	KeyGen        pct `json:"keygen"`
	SetupRetries  int `json:"setup_retries"`
	// HSDropped and SyncMissed count homeserver faults the test worked
	// around (see loadConv); they are reported, not hidden.
	HSDropped    int     `json:"homeserver_dropped_commands"`
	SyncMissed   int     `json:"homeserver_sync_missed"`
	SetupSeconds float64 `json:"setup_s"`
	LoadSeconds  float64 `json:"load_s"`
	WallSeconds  float64 `json:"wall_s"`
	RSSIdleMiB   float64 `json:"rss_idle_mib"`
	RSSSetupMiB  float64 `json:"rss_after_setup_mib"`
	RSSPeakMiB   float64 `json:"rss_peak_mib"`
	// CPUSeconds is the CPU time each process used during the load phase,
	// and the machine's busy and total core-seconds (other jobs included).
	CPUSeconds cpuSnapshot `json:"load_cpu_s"`
	CPUs       int         `json:"cpus"`
	LoadAvg    string      `json:"loadavg_end"`
	// BridgeCPUPerMessageMS is the bridge's CPU time in the load phase
	// per message delivered (the AKEs' share included).
	BridgeCPUPerMessageMS float64 `json:"bridge_cpu_ms_per_message"`
	GoroutinesIdle        int     `json:"goroutines_idle"`
	GoroutinesSetup       int     `json:"goroutines_after_setup"`
	// EventLoop is how often handling one IRC event took longer than
	// 10 ms, from the bridge's log.
	EventLoop eventLoopStats `json:"irc_event_loop"`
}

// pct is a p50/p99 pair (JSON in milliseconds).
type pct struct{ P50, P99 time.Duration }

func (p pct) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return json.Marshal(map[string]float64{"p50_ms": ms(p.P50), "p99_ms": ms(p.P99)})
}

func percentiles(d []time.Duration) pct {
	if len(d) == 0 {
		return pct{}
	}
	d = slices.Clone(d)
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[int(q*float64(len(d)-1))] }
	return pct{P50: at(0.50).Round(time.Millisecond), P99: at(0.99).Round(time.Millisecond)}
}

// rssSampler records the bridge's peak resident memory.
type rssSampler struct {
	done chan struct{}
	peak chan int64
}

func startRSSSampler(e *env) *rssSampler {
	s := &rssSampler{done: make(chan struct{}), peak: make(chan int64)}
	go func() {
		var peak int64
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := e.bridge.RSS(); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-s.done:
				s.peak <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() int64 {
	close(s.done)
	return <-s.peak
}

// cpuSnapshot is CPU seconds per process of the stack, plus the machine's
// busy and total core-seconds since boot.
type cpuSnapshot map[string]float64

func (e *env) cpuSnapshot() cpuSnapshot {
	s := cpuSnapshot{
		"bridge":   procCPU(strconv.Itoa(e.bridge.Pid())),
		"dendrite": procCPU(strconv.Itoa(e.hs.Pid())),
		"inspircd": procCPU(strconv.Itoa(e.irc.Pid())),
		"test":     procCPU("self"),
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		// cpu user nice system idle iowait irq softirq steal ...
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseFloat(f, 64)
			s["machine_total"] += v / clockTicks
			if i != 3 && i != 4 {
				s["machine_busy"] += v / clockTicks
			}
		}
	}
	return s
}

func (s cpuSnapshot) since(start cpuSnapshot) cpuSnapshot {
	d := cpuSnapshot{}
	for k, v := range s {
		d[k] = math.Round((v-start[k])*10) / 10
	}
	return d
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU is the user+system CPU time of a process in seconds (0 if it
// cannot be read).
func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name in parentheses may contain spaces: count fields
	// after its closing parenthesis (utime and stime are fields 14, 15).
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func TestIsCiphertext(t *testing.T) {
	for line, want := range map[string]bool{
		"?OTR:AAMDuozyj7wz7KUAAAAAAgAA.":                       true,
		"?OTR|bc33eca5|ba8cf28f,00001,00002,?OTR:AAMDuozy,":    true,
		"?OTR|bc33eca5|ba8cf28f,00002,00002,J9J6P0N8WK6iwPJ.,": true,
		"?OTR,1,2,?OTR:AAIDuozy,":                              true,
		"?OTR,2,2,AAIDuozy.,":                                  true,
		"?OTR|bc33eca5|ba8cf28f,00001,00002,hello there,":      false,
		"?OTR,1,2,hello,":                                      false,
		"?OTR|bc33eca5|ba8cf28f,00002,00002,no comma":          false,
		"?OTRv23?":              false,
		"?OTR Error: something": false,
		"hello ?OTR:":           false,
	} {
		if got := isCiphertext(line); got != want {
			t.Errorf("isCiphertext(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestOTRKind(t *testing.T) {
	for line, want := range map[string]string{
		"?OTRv23?":        "query",
		"?OTR Error: bad": "OTR error",
		"?OTR:AAMCuozy.":  "DH-commit",
		"?OTR:AAIDuozy.":  "encrypted data",
		"?OTR:AAMKuozy.":  "DH-key",
		"?OTR|bc33eca5|ba8cf28f,00001,00002,?OTR:AAMRuozy,": "fragment 1/2 of reveal-signature",
		"?OTR,2,2,AAIDuozy.,":                               "fragment 2/2",
		"hello":                                             "not OTR",
		"?OTR:A":                                            "OTR message",
	} {
		if got := otrKind(line); got != want {
			t.Errorf("otrKind(%q) = %q, want %q", line, got, want)
		}
	}
}
