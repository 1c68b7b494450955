package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// The cost of a private conversation to the bridge: CPU time of the bridge
// process per relayed message and per key exchange, one at a time, with a
// libotr peer on the local stack (docs/performance.md):
//
//	go test -tags goolm ./e2e -run '^$' -bench 'OTR(Relay|AKE)' -benchtime 100x
//
// The bridge runs with its default config where it matters here
// (message-status events off) and flood pacing out of the way. The CPU
// figure is the bridge process's user+system time over the b.N operations
// (clock ticks of 10 ms: use a few hundred operations).

// otrFixture is akeConversations Matrix users, each in a private
// conversation with a libotr peer, shared by the OTR benchmarks (the
// framework runs a benchmark several times with growing b.N). The relay
// benchmarks use the first; the AKE benchmark takes turns (akeNext, over
// all of its runs), as the bridge answers at most 10 key exchange
// messages per peer at once and then one every 6 s (otrsession's reply
// limit).
type otrFixture struct {
	e     *env
	convs []*otrConv
	// akeNext is the conversation the next AKE refreshes.
	akeNext int
	stop    func()
	// prof records CPU profiles of each benchmark's loop into
	// OTRBRIDGE_BENCH_PROFILE, if set.
	prof *profiler
}

// otrConv is one user's private conversation with a libotr peer.
type otrConv struct {
	u     *user
	peer  *otrtest.Peer
	glue  *teststack.IRCGlue
	nick  string
	room  string
	ghost string
}

// akeConversations: 30 conversations take the first AKE and 100 more
// (plus the framework's first run of one), at 2 replies each, within
// the reply limit's burst: at most 5 AKEs each.
const akeConversations = 30

var (
	otrFixOnce sync.Once
	otrFix     *otrFixture
)

func getOTRFixture(b *testing.B) *otrFixture {
	b.Helper()
	otrFixOnce.Do(func() {
		e, prof, stop := cpuBenchEnv(b)
		f := &otrFixture{e: e, convs: make([]*otrConv, akeConversations), prof: prof}
		f.stop = func() {
			for _, c := range f.convs {
				if c != nil {
					c.close()
				}
			}
			stop()
		}
		errs := make(chan error, len(f.convs))
		work := make(chan int)
		for range 4 {
			go func() {
				for i := range work {
					c, err := startOTRConv(b, e)
					f.convs[i] = c
					errs <- err
				}
			}()
		}
		for i := range f.convs {
			work <- i
		}
		close(work)
		for range f.convs {
			if err := <-errs; err != nil {
				f.stop()
				b.Fatal(err)
			}
		}
		otrFix = f
	})
	if otrFix == nil {
		b.Fatal("OTR fixture failed to start in an earlier run")
	}
	return otrFix
}

func (c *otrConv) close() {
	if c.glue != nil {
		c.glue.Close()
	}
	if c.peer != nil {
		c.peer.Close()
	}
	if c.u != nil {
		c.u.mx.StopSync()
	}
}

func startOTRConv(b *testing.B, e *env) (f *otrConv, err error) {
	f = &otrConv{}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	ft := &failTB{TB: b}
	f.u = e.newUser(ft, "")
	f.u.login(ft, netLocal, e.unique("mx"))
	f.u.replyTo(ft, f.u.say(ft, "fingerprint"), "Your OTR fingerprint", longWait)
	f.nick = e.unique("otrpeer")
	if f.peer, err = otrtest.Launch(otrtest.Options{Account: f.nick, Peer: f.u.nick, Policy: otrtest.PolicyManual, Timeout: longWait}); err != nil {
		return f, err
	}
	irc, err := teststack.ConnectIRC(e.irc.Addr(), f.nick, teststack.IRCClientOptions{})
	if err != nil {
		return f, err
	}
	f.glue = teststack.AttachOTRPeer(f.peer, irc, f.u.nick, 0)
	f.u.say(ft, "pm "+f.nick)
	f.room = f.u.joinInvite(ft)
	f.ghost = e.ghost(netLocal, f.nick)
	if _, err := f.u.mx.SendText(f.room, "!otr init"); err != nil {
		return f, err
	}
	if _, ok := f.peer.WaitFor(longWait, isEvent("gone_secure")); !ok {
		return f, fmt.Errorf("libotr never went secure")
	}
	f.u.notice(ft, f.room, "Private conversation with", longWait)
	return f, nil
}

func isEvent(name string) func(otrtest.Line) bool {
	return func(l otrtest.Line) bool { return l.Kind == "EVENT" && l.Name == name }
}

// cpuBenchEnv is persistentEnv for the benchmarks that report the bridge's
// CPU per operation: message-status events off (the bridge's default) and,
// with OTRBRIDGE_BENCH_PROFILE set, the debug endpoints on for CPU profiles
// of each benchmark's loop (prof is nil otherwise).
func cpuBenchEnv(b *testing.B) (e *env, prof *profiler, stop func()) {
	if dir := os.Getenv("OTRBRIDGE_BENCH_PROFILE"); dir != "" {
		prof = newProfiler(dir)
	}
	e, stop = persistentEnvWith(b, 1000, 1000, func(cfg map[string]any) {
		mx, _ := cfg["matrix"].(map[string]any)
		mx["message_status_events"] = false
		if prof != nil {
			debugEndpoints(cfg, prof.secret)
		}
	})
	if prof != nil {
		prof.attach(e.bridge)
	}
	return e, prof, stop
}

// bridgeCPU measures the bridge process's CPU time from start to stop.
type bridgeCPU struct {
	pid   string
	start float64
	prof  *profiler
}

func startBridgeCPU(b *testing.B, e *env, prof *profiler) bridgeCPU {
	pid := strconv.Itoa(e.bridge.Pid())
	if prof != nil && b.N > 1 {
		prof.startCPU(fmt.Sprintf("%s-%d", strings.TrimPrefix(b.Name(), "Benchmark"), b.N))
	}
	return bridgeCPU{pid: pid, start: procCPU(pid), prof: prof}
}

// report adds the CPU milliseconds per operation.
func (c bridgeCPU) report(b *testing.B) {
	b.ReportMetric((procCPU(c.pid)-c.start)*1000/float64(b.N), "bridge-cpu-ms/op")
	if c.prof != nil && b.N > 1 {
		c.prof.stopCPUProfiles()
	}
}

// BenchmarkOTRRelayIRCToMatrix: libotr encrypts and sends; the bridge
// decrypts and posts the message; measured until it is in the Matrix
// user's /sync.
func BenchmarkOTRRelayIRCToMatrix(b *testing.B) {
	fx := getOTRFixture(b)
	f := fx.convs[0]
	lat := make([]time.Duration, 0, b.N)
	cpu := startBridgeCPU(b, fx.e, fx.prof)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		text := fmt.Sprintf("otr i2m %d %d", i, time.Now().UnixNano())
		start := time.Now()
		if _, err := f.peer.Send(text); err != nil {
			b.Fatal(err)
		}
		if _, err := f.u.mx.WaitMessage(wait, f.room, f.ghost, func(ev teststack.MatrixEvent) bool { return ev.Body() == text }); err != nil {
			b.Fatalf("message %d of %d: %v", i, b.N, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	cpu.report(b)
	reportPercentiles(b, lat)
}

// BenchmarkOTRRelayMatrixToIRC: the Matrix user sends; the bridge
// encrypts; measured until libotr shows it decrypted.
func BenchmarkOTRRelayMatrixToIRC(b *testing.B) {
	fx := getOTRFixture(b)
	f := fx.convs[0]
	lat := make([]time.Duration, 0, b.N)
	cpu := startBridgeCPU(b, fx.e, fx.prof)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		text := fmt.Sprintf("otr m2i %d %d", i, time.Now().UnixNano())
		start := time.Now()
		if _, err := f.u.mx.SendText(f.room, text); err != nil {
			b.Fatal(err)
		}
		l, ok := f.peer.WaitFor(wait, func(l otrtest.Line) bool { return l.Kind == "MSG" && l.Text == text })
		if !ok || l.Name != "enc" {
			b.Fatalf("message %d of %d: arrived %v, as %q", i, b.N, ok, l.Name)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	cpu.report(b)
	reportPercentiles(b, lat)
}

// BenchmarkOTRAKE: one key exchange per operation, asked for with `!otr
// refresh` in the portal (the same four AKE messages as the first one),
// measured until libotr reports the new keys and the portal has the
// bridge's notice. The CPU figure includes the command, its reply and the
// notice.
func BenchmarkOTRAKE(b *testing.B) {
	fx := getOTRFixture(b)
	lat := make([]time.Duration, 0, b.N)
	cpu := startBridgeCPU(b, fx.e, fx.prof)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := fx.convs[fx.akeNext%len(fx.convs)]
		fx.akeNext++
		start := time.Now()
		id, err := f.u.mx.SendText(f.room, "!otr refresh")
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := f.peer.WaitFor(wait, func(l otrtest.Line) bool {
			// libotr reports a new AKE within a private conversation
			// as gone_secure when the AKE started from its side.
			return l.Kind == "EVENT" && (l.Name == "still_secure" || l.Name == "gone_secure")
		}); !ok {
			b.Fatalf("AKE %d of %d: libotr never reported the new keys", i, b.N)
		}
		lat = append(lat, time.Since(start))
		if _, err := f.u.mx.WaitMessageAfter(wait, id, f.room, "", func(ev teststack.MatrixEvent) bool {
			return ev.MsgType() == "m.notice" && strings.Contains(ev.Body(), "was refreshed")
		}); err != nil {
			b.Fatalf("AKE %d of %d: no notice: %v", i, b.N, err)
		}
	}
	b.StopTimer()
	cpu.report(b)
	reportPercentiles(b, lat)
}
