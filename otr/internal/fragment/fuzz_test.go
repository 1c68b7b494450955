package fragment

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzReassembler feeds newline-separated lines to one Reassembler and
// checks that it never panics and keeps within its limits.
func FuzzReassembler(f *testing.F) {
	frags, _ := Split(encoded(1000), 200, 3, 0x5a73a599, 0x27e31597)
	f.Add(strings.Join(frags, "\n"))
	frags, _ = Split(encoded(500), 100, 2, 0, 0)
	f.Add(strings.Join(frags, "\n"))
	f.Add("?OTR,1,2,abc,\n?OTR,2,2,def,")
	f.Add("?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAAAA,\n?OTR|5a73a599|27e31597,00003,00003,pkTtquknfx6HodLvk3RAAAAAA==.,")
	f.Add("?OTR:AAMDabc\ndefg\nhij=.")
	// Fragment lines an IRC client cut in two.
	f.Add("?OTR,1,2,?OTR:AAIC\nZm9v,\n?OTR,2,2,YmFy.,")
	f.Add("?OTR|5a73a599|27e31597,00001,00002,?OTR:AAMDJ+MV\n,\n?OTR|5a73a599|27e31597,00002,00002,mS\nfjFZc=.,")
	f.Add("?OTR,1,2,?OT\nR:AAIC,\nhello\n?OTR,1,2,abc")
	// Lines received from libotr in the recorded transcripts, a few
	// consecutive ones per seed.
	for _, path := range transcriptFiles() {
		var run []string
		for _, l := range transcriptLines(path, "recv ") {
			if run = append(run, l); len(run) == 6 {
				f.Add(strings.Join(run, "\n"))
				run = nil
			}
		}
		if len(run) > 0 {
			f.Add(strings.Join(run, "\n"))
		}
	}
	if b, err := os.ReadFile("testdata/libotr-join.txt"); err == nil {
		for _, block := range strings.Split(string(b), "\n\n")[1:] {
			var in []string
			for _, l := range strings.Split(block, "\n") {
				if s, ok := strings.CutPrefix(l, "< "); ok {
					in = append(in, s)
				}
			}
			f.Add(strings.Join(in, "\n"))
		}
	}
	f.Add("?OTR,65535,65535,x,\n?OTR,0,0,,\n?OTR|ffffffff|0,1,1,?OTR|1|1,")
	f.Fuzz(func(t *testing.T, input string) {
		// Two Reassemblers share a budget smaller than both their limits,
		// so both limits and evictions across them are exercised.
		budget := NewBudget(3000)
		lim := Limits{MaxPending: 4, MaxBytes: 2000, Expiry: time.Minute, OwnInstance: 0x27e31597, Budget: budget}
		rs := []*Reassembler{NewReassembler(lim), NewReassembler(lim)}
		now := time.Unix(0, 0)
		for i, line := range strings.Split(input, "\n") {
			now = now.Add(7 * time.Second)
			// Mostly the first Reassembler, so that its messages span
			// several lines; every third line goes to the second.
			r := rs[0]
			if i%3 == 2 {
				r = rs[1]
			}
			msg, done, err := r.Add(now, line)
			if err != nil && (done || msg != "") {
				t.Fatalf("error %v with a message", err)
			}
			if done && IsFragment(msg) {
				t.Fatalf("delivered a fragment %q", msg)
			}
			checkLimits(t, budget, lim, rs)
		}
	})
}

// checkLimits checks that rs keep within lim and their budget, and that
// the bytes counted are the bytes held.
func checkLimits(t *testing.T, budget *Budget, lim Limits, rs []*Reassembler) {
	t.Helper()
	budget.mu.Lock()
	defer budget.mu.Unlock()
	sum := 0
	for _, r := range rs {
		if len(r.pending) > lim.MaxPending || r.total > lim.MaxBytes || r.total < 0 {
			t.Fatalf("limits broken: %d pending, %d bytes", len(r.pending), r.total)
		}
		held, live := 0, 0
		for _, p := range append(slices.Collect(maps.Values(r.pending)), r.cut) {
			if p != nil && p.elem != nil {
				held += p.charge
				live++
				if p.charge != cap(p.buf)+partialOverhead {
					t.Fatalf("charged %d for a buffer of %d", p.charge, cap(p.buf))
				}
			}
		}
		if held != r.total || live != len(r.parts) {
			t.Fatalf("byte count %d, messages hold %d; %d live, %d listed", r.total, held, live, len(r.parts))
		}
		if (r.heapIndex >= 0) != (r.total > 0) || r.heapIndex >= 0 && budget.holders[r.heapIndex] != r {
			t.Fatalf("holders heap out of step: index %d, %d bytes", r.heapIndex, r.total)
		}
		if len(budget.holders) > 0 && r.total > budget.holders[0].total {
			t.Fatalf("heap top holds %d, another %d", budget.holders[0].total, r.total)
		}
		sum += r.total
	}
	if budget.used != sum || budget.used > budget.limit || budget.queue.Len() > 2*(lim.MaxPending+1) {
		t.Fatalf("budget: %d used of %d, %d queued; Reassemblers hold %d", budget.used, budget.limit, budget.queue.Len(), sum)
	}
}

// FuzzSplit checks that Split's fragments always join back to the message.
func FuzzSplit(f *testing.F) {
	f.Add(encoded(1000), 200, true)
	f.Add(encoded(363*3), 400, true)
	f.Add(encoded(100), 20, false)
	f.Fuzz(func(t *testing.T, msg string, max int, v3 bool) {
		version := 2
		if v3 {
			version = 3
		}
		max %= 4096
		frags, err := Split(msg, max, version, 0x100, 0x200)
		if err != nil {
			return
		}
		if len(frags) == 1 && frags[0] == msg {
			return
		}
		r := NewReassembler(Limits{MaxBytes: 1 << 30})
		for i, fr := range frags {
			if len(fr) >= max {
				t.Fatalf("fragment of %d bytes for max %d", len(fr), max)
			}
			got, done, err := r.Add(time.Unix(0, 0), fr)
			if err != nil {
				// A message that itself holds a fragment marker cannot be
				// delivered; everything else must be.
				if IsFragment(msg) {
					return
				}
				t.Fatalf("fragment %d: %v", i+1, err)
			}
			if done != (i == len(frags)-1) || done && got != msg {
				t.Fatalf("fragment %d: done %v, joined equal %v", i+1, done, got == msg)
			}
		}
	})
}

// transcriptFiles lists the libotr session transcripts recorded for the
// otr package's replay tests.
func transcriptFiles() []string {
	paths, _ := filepath.Glob("../../testdata/*.transcript")
	return paths
}

// transcriptLines returns the lines of a transcript that start with prefix,
// without it.
func transcriptLines(path, prefix string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(l, prefix); ok {
			out = append(out, s)
		}
	}
	return out
}
