package otr

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// benchPair returns two conversations with an established v3 session.
func benchPair(b *testing.B) (*peer, *peer) {
	a, c := newPair(b, PolicyManual, PolicyManual)
	establish(b, a, c)
	return a, c
}

// oneWay sends text from a to b without bookkeeping.
func oneWay(b *testing.B, from, to *peer, text string) {
	o, err := from.c.Send(t0, text)
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range o.Wire {
		r, err := to.c.Receive(t0, l)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Messages) == 0 && len(r.Wire) == 0 && l == o.Wire[len(o.Wire)-1] {
			b.Fatal("message lost")
		}
	}
}

// BenchmarkAKE runs a full v3 AKE (query, commit, key, reveal signature,
// signature) with both ends in this process.
func BenchmarkAKE(b *testing.B) {
	ka, kb := testKey(b, testKeyAlice), testKey(b, testKeyBob)
	ra, rb := detRand(1), detRand(2)
	for b.Loop() {
		a, _ := NewConversation(Config{PrivateKey: ka, InstanceTag: 0x1000, Policy: PolicyManual, Rand: ra})
		c, _ := NewConversation(Config{PrivateKey: kb, InstanceTag: 0x2000, Policy: PolicyManual, Rand: rb})
		q, _ := a.Start(t0)
		lines := q.Wire
		from, to := a, c
		for len(lines) > 0 {
			var next []string
			for _, l := range lines {
				o, err := to.Receive(t0, l)
				if err != nil {
					b.Fatal(err)
				}
				next = append(next, o.Wire...)
			}
			lines = next
			from, to = to, from
		}
		if a.Info().State != Encrypted || c.Info().State != Encrypted {
			b.Fatal("AKE failed")
		}
	}
}

// BenchmarkDataOneWay encrypts and decrypts a message from the same
// speaker each time (no key rotation: cached session keys).
func BenchmarkDataOneWay(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(byteSize(size), func(b *testing.B) {
			a, c := benchPair(b)
			text := strings.Repeat("x", size)
			oneWay(b, a, c, text) // first message rotates once
			b.SetBytes(int64(size))
			for b.Loop() {
				oneWay(b, a, c, text)
			}
		})
	}
}

// byteSize names a benchmark's message size: "100B", "1KiB".
func byteSize(n int) string {
	if n >= 1024 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// BenchmarkSpeakerChange alternates the sender, so every message rotates
// DH keys on both sides (the expensive case).
func BenchmarkSpeakerChange(b *testing.B) {
	a, c := benchPair(b)
	text := strings.Repeat("x", 100)
	from, to := a, c
	for b.Loop() {
		oneWay(b, from, to, text)
		from, to = to, from
	}
}

// BenchmarkSMP runs a whole SMP exchange (four messages) with a question.
func BenchmarkSMP(b *testing.B) {
	a, c := benchPair(b)
	for b.Loop() {
		o, err := a.c.StartSMP(t0, "q", []byte("secret"))
		if err != nil {
			b.Fatal(err)
		}
		r, err := c.c.Receive(t0, o.Wire[0])
		if err != nil || len(r.Events) == 0 {
			b.Fatal(err)
		}
		o, err = c.c.AnswerSMP(t0, []byte("secret"))
		if err != nil {
			b.Fatal(err)
		}
		lines := o.Wire
		from, to := c, a
		ok := false
		for len(lines) > 0 {
			var next []string
			for _, l := range lines {
				r, err := to.c.Receive(t0, l)
				if err != nil {
					b.Fatal(err)
				}
				if _, s := hasEvent[SMPSucceeded](r.Events); s {
					ok = true
				}
				next = append(next, r.Wire...)
			}
			lines = next
			from, to = to, from
		}
		if !ok {
			b.Fatal("SMP did not succeed")
		}
	}
}

// BenchmarkFragment100KiB encrypts a 100 KiB message, splits it into
// fragments of 400 bytes and reassembles and decrypts it on the other side.
func BenchmarkFragment100KiB(b *testing.B) {
	a, c := benchPair(b)
	a.c.cfg.FragmentSize = 400
	text := strings.Repeat("y", 100<<10)
	oneWay(b, a, c, text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		oneWay(b, a, c, text)
	}
}

// BenchmarkSessionHeap reports the live heap held by one established
// session (one side's Conversation after an AKE and a message each way).
func BenchmarkSessionHeap(b *testing.B) {
	const n = 50
	var perSession float64
	for b.Loop() {
		perSession = sessionHeap(b, n)
	}
	b.ReportMetric(perSession, "B/session")
}

func sessionHeap(tb testing.TB, n int) float64 {
	keep := make([]*Conversation, 0, 2*n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		a, c := newPair(tb, PolicyManual, PolicyManual)
		establish(tb, a, c)
		send(tb, t0, a, c, "hello")
		send(tb, t0, c, a, "hi")
		keep = append(keep, a.c, c.c)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(len(keep))
}

func TestSessionHeapUnder16KiB(t *testing.T) {
	if got := sessionHeap(t, 20); got > 16<<10 {
		t.Fatalf("%.0f bytes of heap per established session, want < 16 KiB", got)
	} else {
		t.Logf("%.0f bytes per session", got)
	}
}

// BenchmarkFragmentFlood feeds one login 20,000 fragment pieces of
// messages that never complete, from 200 strangers (one Conversation
// each, all sharing the login's FragmentBudget; every stranger begins a
// new message from a new instance tag every 10 pieces), and reports the
// heap they leave behind (heap-B, live heap after the flood with every
// Conversation still alive, less before it) and the bytes the budget
// counts (held-B).
func BenchmarkFragmentFlood(b *testing.B) {
	const strangers, pieces, perMessage = 200, 20000, 10
	key := testKey(b, testKeyBob)
	lines := make([]string, pieces)
	body := strings.Repeat("Q", 360)
	for i := range lines {
		message := i / (strangers * perMessage)
		lines[i] = fmt.Sprintf("?OTR|%08x|00000000,%05d,65535,%s,", 0x1000+message, i/strangers%perMessage+1, body)
	}
	var heapGrowth, held float64
	for b.Loop() {
		b.StopTimer()
		budget := NewFragmentBudget(0)
		convs := make([]*Conversation, strangers)
		for i := range convs {
			c, err := NewConversation(Config{PrivateKey: key, InstanceTag: 0x2000, Policy: PolicyManual, FragmentBudget: budget})
			if err != nil {
				b.Fatal(err)
			}
			convs[i] = c
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for i, l := range lines {
			convs[i%strangers].Receive(t0, l)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(convs)
		heapGrowth = float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
		held = float64(budget.InUse())
		b.StartTimer()
	}
	b.ReportMetric(heapGrowth, "heap-B")
	b.ReportMetric(held, "held-B")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*pieces), "ns/piece")
}
