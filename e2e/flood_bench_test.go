package e2e

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// The flood benchmarks: for each flood of flood_test.go, the latency of a
// private conversation beside it (Matrix to libotr and back) and the
// bridge's resident memory and CPU, quiet and during the flood, on one
// stack with the bridge's default settings (pacing included). Each runs
// its flood once, whatever b.N is:
//
//	go test -tags goolm ./e2e -run '^$' -bench Flood -benchtime 1x

// floodStackFixture is the stack the flood benchmarks share.
type floodStackFixture struct {
	e    *env
	stop func()
}

var (
	floodStackOnce sync.Once
	floodStack     *floodStackFixture
)

func floodEnv(b *testing.B) *env {
	b.Helper()
	floodStackOnce.Do(func() {
		e, stop := persistentEnvPaced(b, 0, 0)
		floodStack = &floodStackFixture{e: e, stop: stop}
	})
	if floodStack == nil {
		b.Fatal("the flood benchmarks' stack failed to start in an earlier run")
	}
	return floodStack.e
}

// floodNumbers is what one flood benchmark measured.
type floodNumbers struct {
	quiet, during         latencies
	quietRSS, duringRSS   int64   // bytes; during: the peak
	quietCPU, duringCPU   float64 // the bridge's CPU use, % of one core
	quietWall, duringWall time.Duration
}

// benchFlood sets up a fresh user with a private conversation, measures
// it quiet, then while flood (made by prepare) runs and for settle after.
func benchFlood(b *testing.B, settle time.Duration, prepare func(e *env, w *wellBehaved) func() error) {
	e := floodEnv(b)
	w := e.wellBehavedConversation(b)
	flood := prepare(e, w)
	var n floodNumbers
	w.probe(b) // the first message after the key exchange waits for the pacing's tokens
	rss, err := e.bridge.RSS()
	if err != nil {
		b.Fatal(err)
	}
	n.quietRSS = rss
	cpu0, t0 := e.cpuSnapshot(), time.Now()
	for range 5 {
		n.quiet.add(w.probe(b))
		time.Sleep(500 * time.Millisecond)
	}
	cpu1, t1 := e.cpuSnapshot(), time.Now()
	sampler := startRSSSampler(e)
	b.ResetTimer()
	n.during, err = w.probeDuring(b, settle, flood)
	b.StopTimer()
	if err != nil {
		b.Fatalf("flood: %v", err)
	}
	cpu2, t2 := e.cpuSnapshot(), time.Now()
	n.duringRSS = sampler.stop()
	n.quietWall, n.duringWall = t1.Sub(t0), t2.Sub(t1)
	n.quietCPU = 100 * cpu1.since(cpu0)["bridge"] / n.quietWall.Seconds()
	n.duringCPU = 100 * cpu2.since(cpu1)["bridge"] / n.duringWall.Seconds()
	n.report(b)
}

func (n floodNumbers) report(b *testing.B) {
	ms := func(d []time.Duration, q float64) float64 {
		if len(d) == 0 {
			return 0
		}
		d = slices.Clone(d)
		slices.Sort(d)
		return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(ms(n.quiet.m2i, 0.5), "quiet-m2i-p50-ms")
	b.ReportMetric(ms(n.quiet.i2m, 0.5), "quiet-i2m-p50-ms")
	b.ReportMetric(ms(n.during.m2i, 0.5), "flood-m2i-p50-ms")
	b.ReportMetric(ms(n.during.m2i, 1), "flood-m2i-max-ms")
	b.ReportMetric(ms(n.during.i2m, 0.5), "flood-i2m-p50-ms")
	b.ReportMetric(ms(n.during.i2m, 1), "flood-i2m-max-ms")
	b.ReportMetric(float64(len(n.during.m2i)), "flood-probes")
	b.ReportMetric(mib(n.quietRSS), "quiet-RSS-MiB")
	b.ReportMetric(mib(n.duringRSS), "flood-RSS-MiB")
	b.ReportMetric(n.quietCPU, "quiet-CPU-%")
	b.ReportMetric(n.duringCPU, "flood-CPU-%")
	b.ReportMetric(n.duringWall.Seconds(), "flood-s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFloodNewPeers: 40 new nicks from one connection.
func BenchmarkFloodNewPeers(b *testing.B) {
	benchFlood(b, 10*time.Second, func(e *env, w *wellBehaved) func() error {
		clone := teststack.DialIRC(b, e.irc.Addr(), e.unique("clone"), teststack.IRCClientOptions{})
		prefix := e.unique("stranger")
		return func() error { return floodNewNicks(clone, w.u.nick, prefix, 40) }
	})
}

// BenchmarkFloodNotices: 1000 malformed OTR lines from a peer with a chat
// and 50 notices from a nick named like a service.
func BenchmarkFloodNotices(b *testing.B) {
	benchFlood(b, 10*time.Second, func(e *env, w *wellBehaved) func() error {
		storm := teststack.DialIRC(b, e.irc.Addr(), e.unique("storm"), teststack.IRCClientOptions{})
		w.u.pm(b, storm.Nick())
		fake := teststack.DialIRC(b, e.irc.Addr(), fmt.Sprintf("Help%dServ", e.seq.Add(1)), teststack.IRCClientOptions{})
		return func() error { return floodJunk(storm, fake, w.u.nick, "your session expired", 1000, 50) }
	})
}

// BenchmarkFloodAutoReplies: 8 nicks send 12 D-H commits each.
func BenchmarkFloodAutoReplies(b *testing.B) {
	benchFlood(b, 20*time.Second, func(e *env, w *wellBehaved) func() error {
		commit := dhCommit(b)
		var clients []*teststack.IRCClient
		for range 8 {
			clients = append(clients, teststack.DialIRC(b, e.irc.Addr(), e.unique("akeflood"), teststack.IRCClientOptions{}))
		}
		return func() error { return floodCommits(clients, w.u.nick, commit, 12) }
	})
}

// BenchmarkFloodFragments: 24 nicks (10 with a chat) send 164 KiB of
// fragments that never complete each.
func BenchmarkFloodFragments(b *testing.B) {
	benchFlood(b, 10*time.Second, func(e *env, w *wellBehaved) func() error {
		clone := teststack.DialIRC(b, e.irc.Addr(), e.unique("fragclone"), teststack.IRCClientOptions{})
		prefix := e.unique("frag")
		w.u.helloFrom(b, clone, prefix, 24)
		return func() error {
			_, err := floodFragments(clone, w.u.nick, prefix, 24)
			return err
		}
	})
}

// BenchmarkFloodPanics: three peers make the bridge panic on purpose (its
// test build), 20 times each.
func BenchmarkFloodPanics(b *testing.B) {
	benchFlood(b, 5*time.Second, func(e *env, w *wellBehaved) func() error {
		pp := e.panicPeers(b, w.u)
		return func() error {
			for i := range 20 {
				pp.round(e, w.u, i)
				time.Sleep(250 * time.Millisecond)
			}
			return nil
		}
	})
}
