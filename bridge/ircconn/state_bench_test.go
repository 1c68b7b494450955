package ircconn

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/rs/zerolog"
)

// benchSession is a registered session with no network: lines go straight
// to handle, events to a handler that drops them.
func benchSession(tb testing.TB) (*Conn, *session) {
	c, err := New(Config{Address: "x", Nick: "me", Handler: func(Event) {}, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	s := newSession(c)
	c.sess = s
	s.registered, s.readying, s.ready = true, true, true
	c.caps["userhost-in-names"], c.caps["multi-prefix"], c.caps["extended-join"] = true, true, true
	c.isup.apply([]string{"PREFIX=(ohv)@%+", "CHANMODES=beI,k,l,imnpst"})
	return c, s
}

func feed(tb testing.TB, s *session, lines []string) {
	for _, l := range lines {
		m, err := ircmsg.ParseLine(l)
		if err != nil {
			tb.Fatal(err)
		}
		if err := s.handle(&m); err != nil {
			tb.Fatal(err)
		}
	}
}

// namesLines is the server's answer to our JOIN of a channel of n members
// (userhost-in-names, multi-prefix), ~400 bytes of names per line.
func namesLines(channel string, n int) []string {
	lines := []string{":me!u@h JOIN " + channel + " * :me"}
	var b strings.Builder
	for i := range n {
		if b.Len() > 400 {
			lines = append(lines, ":srv 353 me = "+channel+" :"+b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if i%50 == 0 {
			b.WriteString("@")
		}
		fmt.Fprintf(&b, "member%04d!~user%d@host-%d.example.net", i, i, i)
	}
	lines = append(lines, ":srv 353 me = "+channel+" :"+b.String(), ":srv 366 me "+channel+" :End of /NAMES list.")
	return lines
}

// BenchmarkJoin1000 is the reader's work when we join a channel of 1,000
// members: the JOIN, the NAMES reply, the member list built.
func BenchmarkJoin1000(b *testing.B) {
	_, s := benchSession(b)
	lines := namesLines("#big", 1000)
	part := []string{":me!u@h PART #big"}
	b.ReportAllocs()
	for b.Loop() {
		feed(b, s, lines)
		feed(b, s, part)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/member")
}

// BenchmarkChannelTraffic is the tracker's cost of the lines a busy
// channel of 1,000 members sends: joins, parts, nick changes, status
// changes, quits.
func BenchmarkChannelTraffic(b *testing.B) {
	_, s := benchSession(b)
	feed(b, s, namesLines("#big", 1000))
	lines := []string{
		":new!u@h JOIN #big acct :Real Name",
		":bob!b@h MODE #big +v new",
		":new!u@h NICK :newer",
		":newer!u@h AWAY :later",
		":newer!u@h PART #big :bye",
		":member0500!u@h QUIT :gone",
		":member0500!u@h JOIN #big * :back",
	}
	msgs := make([]ircmsg.Message, len(lines))
	for i, l := range lines {
		msgs[i], _ = ircmsg.ParseLine(l)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range msgs {
			if err := s.handle(&msgs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(lines)), "ns/line")
}

// BenchmarkMemberHeap reports the live heap per tracked member.
func BenchmarkMemberHeap(b *testing.B) {
	var per float64
	for b.Loop() {
		per = memberHeap(b, 2000)
	}
	b.ReportMetric(per, "B/member")
}

func memberHeap(tb testing.TB, n int) float64 {
	var before, after runtime.MemStats
	c, s := benchSession(tb)
	lines := namesLines("#big", n)
	runtime.GC()
	runtime.ReadMemStats(&before)
	feed(tb, s, lines)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if ch, ok := c.Channel("#big"); !ok || len(ch.Members) != n {
		tb.Fatalf("tracked %d members", len(ch.Members))
	}
	runtime.KeepAlive(s)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}
