package fragment

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// A flood spread over many Reassemblers stays within the shared budget,
// and a message begun after the flood still completes.
func TestBudgetFloodKeepsLimit(t *testing.T) {
	t0 := time.Unix(1000, 0)
	budget := NewBudget(64 << 10)
	var flood []*Reassembler
	for i := range 50 {
		r := NewReassembler(Limits{Budget: budget})
		flood = append(flood, r)
		for k := 1; k <= 40; k++ {
			line := fmt.Sprintf("?OTR|%x|0,%d,65535,%s,", 0x100+i, k, strings.Repeat("A", 360))
			r.Add(t0.Add(time.Duration(i*40+k)*time.Millisecond), line)
			if used := budget.Used(); used > 64<<10 {
				t.Fatalf("budget holds %d bytes, limit %d", used, 64<<10)
			}
		}
	}
	peer := NewReassembler(Limits{Budget: budget})
	msg := encoded(2000)
	got, err := feed(t, peer, t0.Add(time.Minute), mustSplit(t, msg, 400, 3))
	if err != nil || got != msg {
		t.Fatalf("the peer's message did not survive the flood: %v", err)
	}
	dropped := 0
	for _, r := range flood {
		dropped += r.TakeDropped()
	}
	if dropped == 0 {
		t.Error("no flooded message was reported dropped")
	}
}

// When the budget is full, the Reassembler holding the most loses its
// oldest message; its owner learns of it and its next piece is out of
// order.
func TestBudgetEvictsFromLargestHolder(t *testing.T) {
	t0 := time.Unix(1000, 0)
	budget := NewBudget(4000)
	a := NewReassembler(Limits{Budget: budget})
	b := NewReassembler(Limits{Budget: budget})
	b.Add(t0, "?OTR|100|0,1,2,"+strings.Repeat("b", 1000)+",")
	a.Add(t0.Add(time.Second), "?OTR,1,2,"+strings.Repeat("a", 500)+",")
	b.Add(t0.Add(2*time.Second), "?OTR|101|0,1,2,"+strings.Repeat("c", 1000)+",")
	// a needs 1000 more: b holds the most and loses its oldest (0x100).
	if _, _, err := a.Add(t0.Add(3*time.Second), "?OTR|102|0,1,2,"+strings.Repeat("d", 1000)+","); err != nil {
		t.Fatal(err)
	}
	if a.TakeDropped() != 0 || b.TakeDropped() != 1 || len(b.parts) != 1 || b.parts[0] != b.pending[0x101] {
		t.Fatalf("b's oldest message was not the one dropped: b holds %d messages", len(b.parts))
	}
	if _, _, err := b.Add(t0.Add(4*time.Second), "?OTR|100|0,2,2,x,"); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("piece of a dropped message: %v, want ErrOutOfOrder", err)
	}
	if budget.Used() != a.total+b.total || budget.Used() > 4000 {
		t.Errorf("budget counts %d, a and b hold %d", budget.Used(), a.total+b.total)
	}
	// Holding the most itself, a loses its own oldest message rather
	// than take b's.
	if _, _, err := a.Add(t0.Add(5*time.Second), "?OTR|103|0,1,2,"+strings.Repeat("e", 1000)+","); err != nil {
		t.Fatal(err)
	}
	if a.TakeDropped() != 1 || b.TakeDropped() != 0 {
		t.Error("a message of the smaller holder was dropped")
	}
	// A message that cannot fit even alone is refused without dropping
	// anything else for it.
	if _, _, err := b.Add(t0.Add(6*time.Second), "?OTR|101|0,2,2,"+strings.Repeat("f", 4000)+","); !errors.Is(err, ErrLimit) {
		t.Errorf("%v, want ErrLimit", err)
	}
	if a.TakeDropped() != 0 || len(a.parts) != 2 {
		t.Error("messages dropped for a message that could not fit")
	}
}

// Messages past their deadline go first, also those of a Reassembler that
// is no longer called (its conversation was dropped).
func TestBudgetEvictsExpiredFirst(t *testing.T) {
	t0 := time.Unix(1000, 0)
	budget := NewBudget(3000)
	abandoned := NewReassembler(Limits{Budget: budget, Expiry: time.Minute})
	abandoned.Add(t0, "?OTR,1,2,"+strings.Repeat("a", 500)+",")
	busy := NewReassembler(Limits{Budget: budget})
	busy.Add(t0.Add(50*time.Second), "?OTR,1,2,"+strings.Repeat("b", 1500)+",")
	if _, _, err := busy.Add(t0.Add(70*time.Second), "?OTR|100|0,1,2,"+strings.Repeat("c", 600)+","); err != nil {
		t.Fatal(err)
	}
	if abandoned.TakeDropped() != 1 || busy.TakeDropped() != 0 || abandoned.total != 0 {
		t.Errorf("the expired message was not dropped first")
	}
}

// Reassemblers sharing a budget run on different goroutines (the race
// detector checks the locking) and the budget's count stays exact.
func TestBudgetConcurrent(t *testing.T) {
	budget := NewBudget(32 << 10)
	var wg sync.WaitGroup
	rs := make([]*Reassembler, 8)
	for i := range rs {
		rs[i] = NewReassembler(Limits{Budget: budget})
		frags := mustSplit(t, encoded(3000+i), 400, 3)
		wg.Go(func() {
			now := time.Unix(1000, 0)
			for round := range 50 {
				now = now.Add(time.Second)
				lines := frags
				if round%5 != 0 {
					lines = nil
					for k := 1; k <= 8; k++ {
						lines = append(lines, fmt.Sprintf("?OTR|%x|0,%d,9,%s,", 0x100+round%3, k, strings.Repeat("Z", 500)))
					}
				}
				for _, l := range lines {
					rs[i].Add(now, l)
				}
				rs[i].TakeDropped()
			}
		})
	}
	wg.Wait()
	budget.mu.Lock()
	defer budget.mu.Unlock()
	sum := 0
	for _, r := range rs {
		sum += r.total
	}
	if budget.used != sum || budget.used > 32<<10 {
		t.Errorf("budget counts %d bytes, the Reassemblers hold %d", budget.used, sum)
	}
}
