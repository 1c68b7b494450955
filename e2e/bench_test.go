package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// The benchmarks report numbers (docs/performance.md) and assert nothing
// beyond "the message arrived". They run only with -bench:
//
//	go test -tags goolm ./e2e -run '^$' -bench Relay -benchtime 200x
//	go test -tags goolm ./e2e -run '^$' -bench Memory -benchtime 1x

func TestMain(m *testing.M) {
	code := m.Run()
	if relayFix != nil {
		relayFix.stop()
	}
	if floodStack != nil {
		floodStack.stop()
	}
	if otrFix != nil {
		otrFix.stop()
	}
	os.Exit(code)
}

// relayFixture is one stack shared by every run of the relay benchmarks
// (the framework calls a benchmark several times with growing b.N).
type relayFixture struct {
	e    *env
	prof *profiler
	u    *user
	peer *teststack.IRCClient
	room string
	stop func()
}

var (
	relayOnce sync.Once
	relayFix  *relayFixture
)

func needPeers(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat("/usr/sbin/inspircd"); err != nil {
		teststack.Missing(tb, "InspIRCd")
	}
	for _, b := range teststack.DendriteBinaries {
		if _, err := os.Stat(filepath.Join(teststack.GoBin(), b)); err != nil {
			teststack.Missing(tb, "Dendrite (%s)", b)
		}
	}
}

// persistentEnv starts a stack that is not tied to tb's cleanups, with
// the bridge's flood pacing off in practice: the benchmarks using it
// measure the relay, not the configured send rate (default 1 line/s after
// a burst of 4).
func persistentEnv(tb testing.TB) (*env, func()) {
	tb.Helper()
	return persistentEnvWith(tb, 1000, 1000, nil)
}

// persistentEnvPaced is persistentEnv with the bridge's flood pacing
// (burst, rate); 0, 0 is the bridge's default.
func persistentEnvPaced(tb testing.TB, burst int, rate float64) (*env, func()) {
	tb.Helper()
	return persistentEnvWith(tb, burst, rate, nil)
}

// persistentEnvWith is persistentEnvPaced with last-moment edits of the
// bridge's config.
func persistentEnvWith(tb testing.TB, burst int, rate float64, extraConfig func(cfg map[string]any)) (*env, func()) {
	tb.Helper()
	needPeers(tb)
	bin := bridgeBinary(tb) // before anything starts: it may end the test
	dir, err := os.MkdirTemp("", "otrbridge-bench-")
	if err != nil {
		tb.Fatal(err)
	}
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		if os.Getenv("OTRBRIDGE_KEEP_BENCH") == "" {
			os.RemoveAll(dir)
		}
	}
	fail := func(err error) {
		stop()
		tb.Fatal(err)
	}
	for _, d := range []string{"irc", "hs", "bridge"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			fail(err)
		}
	}
	irc, err := teststack.StartInspIRCd(filepath.Join(dir, "irc"), teststack.IRCOptions{})
	if err != nil {
		fail(err)
	}
	stops = append(stops, irc.Stop)
	hs, err := teststack.StartDendrite(filepath.Join(dir, "hs"), teststack.HSOptions{})
	if err != nil {
		fail(err)
	}
	stops = append(stops, hs.Stop)
	b, err := teststack.ConfigureBridge(teststack.BridgeOptions{
		Binary:   bin,
		Dir:      filepath.Join(dir, "bridge"),
		HS:       hs,
		Networks: []teststack.BridgeNetwork{{Key: netLocal, Name: "Local IRC", IRC: irc, FloodBurst: burst, FloodRate: rate}},
		// Debug logging would dominate the timings.
		LogLevel:    cmpOr(os.Getenv("OTRBRIDGE_BENCH_LOG_LEVEL"), "info"),
		ExtraConfig: extraConfig,
	})
	if err != nil {
		fail(err)
	}
	hs.AddRegistration(b.RegistrationPath)
	if err := hs.RestartErr(); err != nil {
		fail(err)
	}
	if err := b.Start(); err != nil {
		fail(err)
	}
	stops = append(stops, b.Stop)
	return &env{hs: hs, irc: irc, floodIRC: irc, bridge: b, persistent: true, dbKind: "sqlite"}, stop
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func getRelayFixture(b *testing.B) *relayFixture {
	b.Helper()
	relayOnce.Do(func() {
		e, prof, stop := cpuBenchEnv(b)
		u := e.newUser(b, "")
		u.login(b, netLocal, e.unique("mx"))
		peer, err := teststack.ConnectIRC(e.irc.Addr(), e.unique("peer"), teststack.IRCClientOptions{})
		if err != nil {
			stop()
			b.Fatal(err)
		}
		room := u.portalFromIRC(b, peer, "benchmark start")
		relayFix = &relayFixture{e: e, prof: prof, u: u, peer: peer, room: room, stop: func() {
			peer.Close()
			u.mx.StopSync()
			stop()
		}}
	})
	if relayFix == nil {
		b.Fatal("relay fixture failed to start in an earlier run")
	}
	return relayFix
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	p := func(q float64) float64 {
		i := int(q * float64(len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRelayMatrixToIRC: a Matrix user's message, from the client's
// send request to the PRIVMSG arriving at the IRC peer.
func BenchmarkRelayMatrixToIRC(b *testing.B) {
	f := getRelayFixture(b)
	lat := make([]time.Duration, 0, b.N)
	cpu := startBridgeCPU(b, f.e, f.prof)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		text := fmt.Sprintf("m2i %d %d", i, time.Now().UnixNano())
		start := time.Now()
		if _, err := f.u.mx.SendText(f.room, text); err != nil {
			b.Fatal(err)
		}
		l, err := f.peer.WaitPrivmsg(wait, f.u.nick, false)
		if err != nil {
			b.Fatal(err)
		}
		if l.Text() != text {
			b.Fatalf("got %q, want %q", l.Text(), text)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	cpu.report(b)
	reportPercentiles(b, lat)
}

// BenchmarkRelayIRCToMatrix: an IRC PRIVMSG, from the peer's write to the
// message appearing in the Matrix user's /sync.
func BenchmarkRelayIRCToMatrix(b *testing.B) {
	f := getRelayFixture(b)
	ghost := f.e.ghost(netLocal, f.peer.Nick())
	lat := make([]time.Duration, 0, b.N)
	cpu := startBridgeCPU(b, f.e, f.prof)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		text := fmt.Sprintf("i2m %d %d", i, time.Now().UnixNano())
		start := time.Now()
		f.peer.Privmsg(f.u.nick, text)
		if _, err := f.u.mx.WaitMessage(wait, f.room, ghost, func(ev teststack.MatrixEvent) bool {
			return ev.Body() == text
		}); err != nil {
			b.Fatalf("message %d of %d: %v (bridge log %s)", i, b.N, err, f.e.bridge.LogPath)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	cpu.report(b)
	reportPercentiles(b, lat)
}

// BenchmarkBridgeMemory200Users: resident memory of the bridge with 200
// logged-in users, each with one open DM portal. It does the work once,
// whatever b.N is. With OTRBRIDGE_BENCH_PROFILE set it saves the heap and
// goroutine profiles there, idle and with the users logged in.
func BenchmarkBridgeMemory200Users(b *testing.B) {
	users := 200
	if n, err := strconv.Atoi(os.Getenv("OTRBRIDGE_BENCH_USERS")); err == nil && n > 0 {
		users = n // smaller runs on slow machines
	}
	var prof *profiler
	if dir := os.Getenv("OTRBRIDGE_BENCH_PROFILE"); dir != "" {
		prof = newProfiler(dir)
	}
	e, stop := persistentEnvWith(b, 1000, 1000, func(cfg map[string]any) {
		if prof != nil {
			debugEndpoints(cfg, prof.secret)
		}
	})
	defer stop()
	if prof != nil {
		prof.attach(e.bridge)
		if err := prof.snapshot("memory-idle"); err != nil {
			b.Fatal(err)
		}
	}
	idle, err := e.bridge.RSS()
	if err != nil {
		b.Fatal(err)
	}
	idleParts := rssParts(e.bridge)
	peer, err := teststack.ConnectIRC(e.irc.Addr(), "memprobe", teststack.IRCClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	start := time.Now()
	var (
		mu   sync.Mutex
		all  []*user
		errs []error
		// halfUsers and halfRSS: the first reading at or past half of the
		// users, for the cost of one more user (see below).
		halfUsers int
		halfRSS   int64
	)
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				u, err := memUser(b, e, peer, i)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					all = append(all, u)
					n := len(all)
					if halfUsers == 0 && n >= users/2 {
						if rss, err := e.bridge.RSS(); err == nil {
							halfUsers, halfRSS = n, rss
						}
					}
					// Progress, so that a run cut short still tells something.
					if n%25 == 0 {
						if rss, err := e.bridge.RSS(); err == nil {
							b.Logf("%d users after %s: RSS %.1f MiB", n, time.Since(start).Round(time.Second), float64(rss)/(1<<20))
						}
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < users; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	defer func() {
		for _, u := range all {
			u.mx.StopSync()
		}
	}()
	// A few users may time out on an overloaded machine; the measurement
	// stays meaningful as long as almost all of them are there.
	if len(errs) > users/20 {
		b.Fatalf("%d of %d users failed, first: %v", len(errs), users, errs[0])
	}
	for _, err := range errs {
		b.Logf("not counted: %v", err)
	}
	users = len(all)
	b.ReportMetric(float64(users), "users")
	setup := time.Since(start)
	time.Sleep(5 * time.Second) // let the bridge settle
	loaded, err := e.bridge.RSS()
	if err != nil {
		b.Fatal(err)
	}
	if prof != nil {
		// After the RSS reading: the profile's forced GC would lower it.
		if err := prof.snapshot("memory-loaded"); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("idle: %s; loaded: %s", idleParts, rssParts(e.bridge))
	b.ReportMetric(float64(idle)/(1<<20), "idle-RSS-MiB")
	b.ReportMetric(float64(loaded)/(1<<20), "RSS-MiB")
	b.ReportMetric(float64(loaded-idle)/float64(users)/1024, "KiB/user")
	// What one more user costs, from half of the users to all of them:
	// unlike the average above idle, this leaves out what the first users
	// bring in once (the database pool's connections and page caches, the
	// HTTP connections to the homeserver, the Go heap's first growth).
	if halfUsers > 0 && users > halfUsers && loaded > halfRSS {
		b.ReportMetric(float64(loaded-halfRSS)/float64(users-halfUsers)/1024, "marginal-KiB/user")
	}
	b.ReportMetric(setup.Seconds(), "setup-s")
	b.ReportMetric(0, "ns/op")
}

// rssParts tells what the bridge's resident memory is made of: anonymous
// (the Go heap and stacks, C allocations such as SQLite's page cache) and
// file-backed (the binary's pages touched so far).
func rssParts(b *teststack.Bridge) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.Pid()))
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "RssAnon:") || strings.HasPrefix(line, "RssFile:") {
			parts = append(parts, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(parts, ", ")
}

// memUser logs one user in and has the IRC peer open a DM with them; it
// returns once the portal invite reached the user.
func memUser(b *testing.B, e *env, peer *teststack.IRCClient, i int) (u *user, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("user %d: %v", i, r)
		}
	}()
	ft := &failTB{TB: b}
	u = e.newUser(ft, fmt.Sprintf("mem%03d", i))
	u.login(ft, netLocal, fmt.Sprintf("mem%03d", i))
	peer.Privmsg(u.nick, "hello")
	if _, err := u.mx.WaitChatInvite(longWait, ""); err != nil {
		return nil, fmt.Errorf("user %d: no portal: %w", i, err)
	}
	return u, nil
}

// failTB turns Fatal into a panic that memUser recovers, so worker
// goroutines (where t.Fatal is not allowed) report errors instead.
type failTB struct{ testing.TB }

func (f *failTB) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (f *failTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (f *failTB) Helper()                           {}
