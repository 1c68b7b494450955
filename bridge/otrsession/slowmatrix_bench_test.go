package otrsession

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/otr"
)

// slowLink is a peer whose Matrix side takes delay per call, like a
// homeserver under load.
type slowLink struct {
	*fakeLink
	delay time.Duration
}

func (l *slowLink) Deliver(ctx context.Context, msg IncomingText) {
	time.Sleep(l.delay)
	l.fakeLink.Deliver(ctx, msg)
}

func (l *slowLink) Notice(ctx context.Context, text string) {
	time.Sleep(l.delay)
	l.fakeLink.Notice(ctx, text)
}

func (l *slowLink) ShowState(ctx context.Context, s State) {
	time.Sleep(l.delay)
	l.fakeLink.ShowState(ctx, s)
}

// BenchmarkReceiveWhileMatrixSlow: 100 conversations of one login whose
// homeserver takes 50 ms for every call. All 100 key exchanges run at
// once, then bob's side sends, taking turns between the peers; each of
// his lines is handed to Receive as the IRC reader would. It reports how
// long Receive took (the time the IRC event loop is held up per line),
// during the key exchanges (ake-*) and for the messages (receive-*): it
// must not depend on the homeserver.
//
//	go test ./bridge/otrsession -run '^$' -bench ReceiveWhileMatrixSlow -benchtime 2000x
func BenchmarkReceiveWhileMatrixSlow(b *testing.B) {
	const peers, homeserver = 100, 50 * time.Millisecond
	ctx := context.Background()
	alice := newManager(b, newDB(b), "@alice:example.org", managerOpts{policy: "opportunistic", keys: []string{"otrbridge.key"}})
	bob := newManager(b, newDB(b), "@bob:example.org", managerOpts{policy: "opportunistic", keys: []string{"libotr-bob.key"}})
	var mu sync.Mutex
	// took collects Receive's durations of the current phase.
	var took, akeTook []time.Duration
	measure := true
	toAlice := make([]*slowLink, peers)
	toBob := make([]*fakeLink, peers)
	for i := range peers {
		la := &slowLink{fakeLink: newLink("net", fmt.Sprintf("bob%03d", i)), delay: homeserver}
		lb := newLink("net", fmt.Sprintf("alice%03d", i))
		la.remote = func(kind ircconn.Kind, line string) {
			bob.Receive(ctx, lb, IncomingText{Kind: kind, Text: line, Time: time.Now()})
		}
		lb.remote = func(kind ircconn.Kind, line string) {
			start := time.Now()
			alice.Receive(ctx, la, IncomingText{Kind: kind, Text: line, Time: time.Now()})
			d := time.Since(start)
			mu.Lock()
			if measure {
				took = append(took, d)
			}
			mu.Unlock()
		}
		toAlice[i], toBob[i] = la, lb
	}
	for i := range peers {
		if _, err := alice.Init(ctx, toAlice[i]); err != nil {
			b.Fatal(err)
		}
	}
	for i := range peers {
		deadline := time.Now().Add(time.Minute)
		for convState(alice, toAlice[i]) != otr.Encrypted || convState(bob, toBob[i]) != otr.Encrypted {
			if time.Now().After(deadline) {
				b.Fatalf("conversation %d never became private", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	mu.Lock()
	akeTook, took = took, nil
	mu.Unlock()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := send(bob, toBob[i%peers], ircconn.Privmsg, fmt.Sprintf("message %d", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	mu.Lock()
	measure = false
	d, ake := slices.Clone(took), slices.Clone(akeTook)
	mu.Unlock()
	slices.Sort(d)
	slices.Sort(ake)
	if len(d) == 0 || len(ake) == 0 {
		b.Fatal("no line was received")
	}
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	b.ReportMetric(ms(ake[len(ake)/2]), "ake-p50-ms")
	b.ReportMetric(ms(ake[len(ake)*99/100]), "ake-p99-ms")
	b.ReportMetric(ms(ake[len(ake)-1]), "ake-max-ms")
	b.ReportMetric(ms(d[len(d)/2]), "receive-p50-ms")
	b.ReportMetric(ms(d[len(d)*99/100]), "receive-p99-ms")
	b.ReportMetric(ms(d[len(d)-1]), "receive-max-ms")
	b.ReportMetric(float64(len(d))/float64(b.N), "lines/op")
}
