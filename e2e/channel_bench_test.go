package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// Channel benchmarks (numbers in docs/performance.md); each does its work
// once, whatever b.N is:
//
//	go test -tags goolm ./e2e -run '^$' -bench 'Channel1000Members' -benchtime 1x
//	go test -tags goolm ./e2e -run '^$' -bench 'ChannelSustained' -benchtime 1x

// BenchmarkChannel1000Members: a bridged user joins a channel of 1,000 IRC
// members (idle clients on loopback, OTRBRIDGE_BENCH_MEMBERS to change).
// Reports the time from `join` to the room's invite and to the user's
// first message reaching IRC (a usable room), the bridge's RSS per member,
// and how many members the room shows after 30 s of lazy sync.
func BenchmarkChannel1000Members(b *testing.B) {
	members := envInt(b, "OTRBRIDGE_BENCH_MEMBERS", 1000)
	e, stop := persistentEnv(b)
	defer stop()
	channel := "#big"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	crowdStart := time.Now()
	crowd, err := teststack.StartCrowd(ctx, e.irc.Addr(), "m", channel, members, 50)
	if err != nil {
		b.Fatal(err)
	}
	defer crowd.Close()
	b.Logf("%d IRC members joined %s in %s", crowd.Len(), channel, time.Since(crowdStart).Round(time.Millisecond))
	watcher, err := teststack.ConnectIRC(e.irc.Addr(), "watcher", teststack.IRCClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer watcher.Close()
	ircJoin(b, watcher, channel)

	u := e.newUser(b, "")
	u.login(b, netLocal, "bigjoiner")
	defer u.mx.StopSync()
	time.Sleep(3 * time.Second) // let the bridge settle after the login
	before, err := e.bridge.RSS()
	if err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	start := time.Now()
	u.say(b, "join "+channel)
	inv, err := u.mx.WaitChatInvite(longWait, "")
	if err != nil {
		b.Fatalf("no invite to the room of %s: %v", channel, err)
	}
	invited := time.Since(start)
	if err := u.mx.Join(inv.RoomID); err != nil {
		b.Fatal(err)
	}
	text := fmt.Sprintf("first words %d", time.Now().UnixNano())
	if _, err := u.mx.SendText(inv.RoomID, text); err != nil {
		b.Fatal(err)
	}
	if l, err := watcher.WaitFor(longWait, func(l teststack.IRCLine) bool {
		return l.Command() == "PRIVMSG" && l.Text() == text
	}); err != nil {
		b.Fatalf("the first message never reached IRC: %v (%v)", err, l)
	}
	usable := time.Since(start)
	b.StopTimer()

	time.Sleep(30*time.Second - time.Since(start))
	after, err := e.bridge.RSS()
	if err != nil {
		b.Fatal(err)
	}
	joined, err := u.mx.JoinedMembers(inv.RoomID)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(invited.Seconds(), "invite-s")
	b.ReportMetric(usable.Seconds(), "usable-s")
	b.ReportMetric(float64(after)/(1<<20), "RSS-MiB")
	b.ReportMetric(float64(after-before)/float64(members)/1024, "KiB/member")
	b.ReportMetric(float64(len(joined)), "room-members-30s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkChannelSustained: IRC members say 20 lines a second into a
// channel for a minute (OTRBRIDGE_BENCH_SECONDS to change), spread over 10
// speakers, with one bridged user in it. Reports the IRC → Matrix latency
// (line written → event in the user's /sync) and the backlog: how long
// after the last line was written the last one arrived. Fails if a line
// is lost.
func BenchmarkChannelSustained(b *testing.B) {
	seconds := envInt(b, "OTRBRIDGE_BENCH_SECONDS", 60)
	const perSecond, speakers = 20, 10
	e, stop := persistentEnv(b)
	defer stop()
	channel := "#busy"
	var talkers []*teststack.IRCClient
	for i := 0; i < speakers; i++ {
		c, err := teststack.ConnectIRC(e.irc.Addr(), fmt.Sprintf("talker%d", i), teststack.IRCClientOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		ircJoin(b, c, channel)
		talkers = append(talkers, c)
	}
	u := e.newUser(b, "")
	u.login(b, netLocal, "listener")
	defer u.mx.StopSync()
	room := u.joinChannel(b, channel)
	// Every speaker once, so the timed part does not measure ghost creation.
	for i, c := range talkers {
		hello := fmt.Sprintf("hello %d", i)
		c.Privmsg(channel, hello)
		u.fromSender(b, room, e.ghost(netLocal, c.Nick()), hello)
	}

	b.ResetTimer()
	cpu0 := e.cpuSnapshot()
	total := seconds * perSecond
	sent := make(map[string]time.Time, total)
	var mu sync.Mutex
	tick := time.NewTicker(time.Second / perSecond)
	start := time.Now()
	for i := 0; i < total; i++ {
		<-tick.C
		text := fmt.Sprintf("line %d of %d", i, total)
		mu.Lock()
		sent[text] = time.Now()
		mu.Unlock()
		talkers[i%speakers].Privmsg(channel, text)
	}
	tick.Stop()
	lastSent := time.Now()
	last := fmt.Sprintf("line %d of %d", total-1, total)
	if _, err := u.mx.WaitMessage(2*time.Minute, room, "", func(ev teststack.MatrixEvent) bool { return ev.Body() == last }); err != nil {
		b.Fatalf("the last line never arrived: %v", err)
	}
	backlog := time.Since(lastSent)
	b.StopTimer()
	cpu := e.cpuSnapshot().since(cpu0)

	var lat []time.Duration
	for _, ev := range u.mx.Messages(room) {
		if at, ok := sent[ev.Body()]; ok && strings.HasPrefix(ev.Body(), "line ") {
			lat = append(lat, ev.Received.Sub(at))
			delete(sent, ev.Body())
		}
	}
	if len(sent) > 0 {
		b.Fatalf("%d of %d lines never arrived", len(sent), total)
	}
	b.Logf("%d lines in %s, the last one %s after it was written; CPU: bridge %.1f s, Dendrite %.1f s, InspIRCd %.1f s, machine busy %.0f of %.0f core-seconds (load %s)",
		total, lastSent.Sub(start).Round(time.Millisecond), backlog.Round(time.Millisecond),
		cpu["bridge"], cpu["dendrite"], cpu["inspircd"], cpu["machine_busy"], cpu["machine_total"], loadAvg())
	b.ReportMetric(backlog.Seconds(), "backlog-s")
	b.ReportMetric(cpu["bridge"]*1000/float64(total), "bridge-CPU-ms/line")
	b.ReportMetric(cpu["dendrite"]*1000/float64(total), "dendrite-CPU-ms/line")
	reportPercentiles(b, lat)
}
