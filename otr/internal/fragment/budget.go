package fragment

import (
	"container/heap"
	"container/list"
	"slices"
	"sync"
	"time"
)

// partialOverhead is what one incomplete message costs beside its buffer:
// the partial itself, its queue element and its map entry. Charging it
// keeps a flood of one-byte pieces within the caps too.
const partialOverhead = 192

// Budget bounds the memory that incomplete messages hold over several
// Reassemblers, for example all conversations of one IRC login. It is safe
// for concurrent use: Reassemblers sharing it may run on different
// goroutines.
//
// When a piece does not fit, messages past their deadline go first (also
// those of a Reassembler nobody calls any more), then the oldest message
// of the Reassembler holding the most: a flood fills its own
// conversations up to their limits and loses its own pieces first, while a
// peer whose message arrives in a few lines holds little and completes.
// If the Reassembler asking holds the most, it loses its own oldest
// message, or the piece if that message is the one being extended.
//
// The Budget also guards the buffers it counts: every Reassembler that
// uses it reads and writes its buffers under the Budget's lock, which is
// what lets one Reassembler drop another's message.
type Budget struct {
	mu      sync.Mutex
	limit   int
	used    int
	queue   list.List // of *partial, in the order they were begun
	holders holders   // Reassemblers holding bytes, the most first
}

// NewBudget returns a Budget of limit bytes; limit <= 0 means no limit
// (the Budget then only guards the buffers).
func NewBudget(limit int) *Budget {
	if limit <= 0 {
		limit = noLimit
	}
	return &Budget{limit: limit}
}

const noLimit = int(^uint(0) >> 1)

// Used returns the bytes charged now.
func (b *Budget) Used() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// begin registers a new incomplete message. Called with b.mu held.
func (b *Budget) begin(p *partial) {
	p.elem = b.queue.PushBack(p)
	p.owner.parts = append(p.owner.parts, p)
}

// charge makes room for n more bytes for p and reports whether it
// succeeded; on failure nothing was charged and p is left for the caller
// to discard. Called with b.mu held.
func (b *Budget) charge(now time.Time, p *partial, n int) bool {
	if p.charge+n > b.limit {
		return false // p could not fit even alone: evict nothing for it
	}
	for b.used+n > b.limit {
		if front := b.queue.Front().Value.(*partial); front != p && now.Sub(front.first) > front.owner.lim.Expiry {
			b.evict(front)
			continue
		}
		if len(b.holders) == 0 {
			return false
		}
		victim := b.holders[0].oldestExcept(p)
		if victim == nil {
			return false
		}
		b.evict(victim)
	}
	b.used += n
	b.adjust(p.owner, n)
	p.charge += n
	return true
}

// evict drops q because memory was needed elsewhere; its Reassembler
// notices at its next call and counts the message as lost. Called with
// b.mu held.
func (b *Budget) evict(q *partial) {
	q.owner.dropped.Add(1)
	b.release(q)
}

// release forgets q and frees what it was charged. Called with b.mu held.
func (b *Budget) release(q *partial) {
	if q.elem == nil {
		return
	}
	b.queue.Remove(q.elem)
	b.used -= q.charge
	b.adjust(q.owner, -q.charge)
	r := q.owner
	if i := slices.Index(r.parts, q); i >= 0 {
		r.parts = slices.Delete(r.parts, i, i+1)
	}
	q.elem, q.buf, q.charge = nil, nil, 0
}

// adjust changes what r holds by n and keeps the holders in order. Called
// with b.mu held.
func (b *Budget) adjust(r *Reassembler, n int) {
	r.total += n
	switch {
	case r.heapIndex < 0 && r.total > 0:
		heap.Push(&b.holders, r)
	case r.heapIndex >= 0 && r.total == 0:
		heap.Remove(&b.holders, r.heapIndex)
	case r.heapIndex >= 0:
		heap.Fix(&b.holders, r.heapIndex)
	}
}

// holders is a heap of Reassemblers by the bytes they hold, the most
// first.
type holders []*Reassembler

func (h holders) Len() int           { return len(h) }
func (h holders) Less(i, j int) bool { return h[i].total > h[j].total }
func (h holders) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}

func (h *holders) Push(x any) {
	r := x.(*Reassembler)
	r.heapIndex = len(*h)
	*h = append(*h, r)
}

func (h *holders) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.heapIndex = -1
	return r
}
