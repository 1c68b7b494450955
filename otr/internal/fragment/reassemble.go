package fragment

import (
	"container/list"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// Limits bound the memory a Reassembler may use. Zero fields take the
// defaults listed in the package documentation.
type Limits struct {
	MaxPending  int           // incomplete messages kept at once
	MaxBytes    int           // memory all incomplete messages may hold together
	Expiry      time.Duration // drop an incomplete message this long after its first piece
	OwnInstance uint32        // if non-zero, drop v3 fragments for other receivers
	Budget      *Budget       // shared with other Reassemblers; nil: none
}

const (
	// A peer has one or two clients (instances) that may send fragments
	// at the same time; more pending messages are a flood.
	defaultMaxPending = 4
	// A Matrix event cannot exceed 64 KiB, so a message from IRC four
	// times that, base64 and fragment headers included, has nowhere to go.
	defaultMaxBytes = 256 << 10
	// IRC servers and clients pace lines (a second or two each), so a
	// long message in 400-byte fragments takes minutes. The deadline
	// counts from the first piece: a sender that drips pieces cannot keep
	// a message alive.
	defaultExpiry = 5 * time.Minute
	// The parts of a line cut by an IRC client are sent back to back;
	// waiting longer would only glue unrelated lines onto a stale start.
	cutExpiry = 30 * time.Second
)

// partial is one message being joined: the pieces of a fragmented message,
// or a line an IRC client cut in two.
type partial struct {
	owner *Reassembler
	first time.Time
	k, n  int // fragments: the last piece joined and the piece count
	// cutFragment tells, for a cut line, whether it is a fragment
	// (ends with ",") or an encoded message (ends with "."); pieceStart
	// is where a cut fragment's piece begins in buf.
	cutFragment bool
	pieceStart  int

	// Guarded by the budget's lock.
	buf    []byte
	charge int           // bytes charged for buf and the bookkeeping
	elem   *list.Element // in the budget's queue; nil once dropped
}

// Reassembler joins the fragments of one conversation. It is not safe for
// concurrent use; Reassemblers sharing a Budget may run concurrently.
type Reassembler struct {
	lim     Limits
	budget  *Budget             // lim.Budget, or own
	own     Budget              // guards the buffers when no Budget is shared
	pending map[uint32]*partial // by sender instance tag; v2 uses 0
	cut     *partial            // a line cut by an IRC client, waiting for its rest

	// Guarded by the budget's lock.
	total     int        // bytes charged for its messages
	parts     []*partial // its live messages, in the order they were begun
	heapIndex int        // in the budget's holders, -1 if it holds nothing

	dropped atomic.Int32 // messages lost since the last TakeDropped
}

// NewReassembler returns a Reassembler with the given limits.
func NewReassembler(l Limits) *Reassembler {
	if l.MaxPending <= 0 {
		l.MaxPending = defaultMaxPending
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.Expiry <= 0 {
		l.Expiry = defaultExpiry
	}
	r := &Reassembler{lim: l, budget: l.Budget, pending: make(map[uint32]*partial), heapIndex: -1}
	if r.budget == nil {
		r.own.limit = noLimit
		r.budget = &r.own
	}
	return r
}

// Pending returns the number of incomplete messages held, including a cut
// line waiting for its rest. A message the shared Budget dropped may be
// counted until the next Add or Expire.
func (r *Reassembler) Pending() int {
	n := len(r.pending)
	if r.cut != nil {
		n++
	}
	return n
}

// TakeDropped returns how many incomplete messages were lost since the
// last call without Add returning an error for them: expired, dropped to
// stay within the memory limits (also by another Reassembler sharing the
// Budget), or a cut line whose rest did not follow.
func (r *Reassembler) TakeDropped() int {
	return int(r.dropped.Swap(0))
}

// Expire drops incomplete messages whose deadline passed.
func (r *Reassembler) Expire(now time.Time) {
	if r.Pending() == 0 {
		return
	}
	r.budget.mu.Lock()
	defer r.budget.mu.Unlock()
	for tag, p := range r.pending {
		switch {
		case p.elem == nil: // dropped by the budget
			delete(r.pending, tag)
		case now.Sub(p.first) > r.lim.Expiry:
			r.dropped.Add(1)
			r.budget.release(p)
			delete(r.pending, tag)
		}
	}
	if p := r.cut; p != nil && (p.elem == nil || now.Sub(p.first) > min(r.lim.Expiry, cutExpiry)) {
		if p.elem != nil {
			r.dropped.Add(1)
			r.budget.release(p)
		}
		r.cut = nil
	}
}

// Add takes one received line; see the package documentation for what it
// returns.
func (r *Reassembler) Add(now time.Time, line string) (msg string, done bool, err error) {
	r.Expire(now)
	if r.cut != nil {
		joined, complete, ok, err := r.continueCut(now, line)
		switch {
		case !ok:
			// Not the rest of the cut line (or the budget dropped it):
			// that line is lost, and this one stands on its own.
			r.discard(r.cut, true)
			r.cut = nil
		case err != nil || !complete:
			return "", false, err
		case IsFragment(joined):
			return r.addFragment(now, joined)
		default:
			return joined, true, nil
		}
	}
	if IsFragment(line) {
		return r.addFragment(now, line)
	}
	if i := strings.Index(line, "?OTR:AA"); i >= 0 && isBase64(line[i+len("?OTR:"):]) {
		// The start of an encoded v2/v3 message (version 0x0002 or 0x0003
		// encodes as "AAI"/"AAM") without its closing ".".
		return "", false, r.startCut(now, line, 0)
	}
	return line, true, nil
}

// addFragment handles a line holding a fragment marker.
func (r *Reassembler) addFragment(now time.Time, line string) (string, bool, error) {
	h, piece, err := ParseHeader(line)
	if err != nil {
		if start, ok := cutFragmentPiece(line); ok {
			return "", false, r.startCut(now, line, start)
		}
		return "", false, err
	}
	if h.Version == 3 && r.lim.OwnInstance != 0 && h.Receiver != 0 && h.Receiver != r.lim.OwnInstance {
		return "", false, fmt.Errorf("%w: receiver %#x", ErrNotForUs, h.Receiver)
	}
	return r.addPiece(now, h, piece)
}

// startCut buffers the first part of a line an IRC client cut. pieceStart
// is where the piece begins if the line is a fragment, else 0.
func (r *Reassembler) startCut(now time.Time, line string, pieceStart int) error {
	p := &partial{owner: r, first: now, cutFragment: pieceStart > 0, pieceStart: pieceStart}
	r.budget.mu.Lock()
	defer r.budget.mu.Unlock()
	if err := r.begin(now, p); err != nil {
		return err
	}
	if err := r.appendLocked(now, p, line); err != nil {
		r.budget.release(p)
		return err
	}
	r.cut = p
	return nil
}

// continueCut appends line to the cut line if it can be its rest: for an
// encoded message base64 optionally closed by the final ".", for a
// fragment more of the piece optionally closed by its ",". ok is false if
// it cannot; complete tells whether joined is now the whole line.
func (r *Reassembler) continueCut(now time.Time, line string) (joined string, complete, ok bool, err error) {
	p := r.cut
	var body string
	if p.cutFragment {
		body, complete = strings.CutSuffix(line, ",")
		if strings.Contains(body, "?OTR") || strings.ContainsAny(body, ", ") {
			return "", false, false, nil
		}
	} else {
		body, complete = strings.CutSuffix(line, ".")
		// The cut may fall just before the final ".", leaving it alone.
		if !(body == "" && complete) && !isBase64(body) {
			return "", false, false, nil
		}
	}
	r.budget.mu.Lock()
	defer r.budget.mu.Unlock()
	if p.elem == nil { // dropped by the budget
		return "", false, false, nil
	}
	if p.cutFragment && !isPiecePrefix(string(p.buf[p.pieceStart:])+body) {
		return "", false, false, nil
	}
	if err := r.appendLocked(now, p, line); err != nil {
		r.budget.release(p)
		r.cut = nil
		return "", false, true, err
	}
	if !complete {
		return "", false, true, nil
	}
	r.cut = nil
	return r.takeLocked(p), true, true, nil
}

// addPiece follows the spec's (and libotr's) receiving rules, per sender.
func (r *Reassembler) addPiece(now time.Time, h Header, piece string) (string, bool, error) {
	if h.K == 0 || h.N == 0 || h.K > h.N {
		return "", false, fmt.Errorf("%w: %d of %d", ErrBadIndex, h.K, h.N)
	}
	tag := h.Sender
	p := r.pending[tag]
	if h.K == 1 {
		if p != nil {
			// A sender that starts over abandons its message, as in
			// libotr; that is no loss to report.
			r.discard(p, false)
			delete(r.pending, tag)
		}
		if h.N == 1 {
			return complete(piece)
		}
		for len(r.pending) >= r.lim.MaxPending {
			o := r.oldest()
			r.discard(o, true)
			r.forget(o)
		}
		p = &partial{owner: r, first: now, n: h.N}
		r.budget.mu.Lock()
		err := r.begin(now, p)
		r.budget.mu.Unlock()
		if err != nil {
			return "", false, err
		}
		r.pending[tag] = p
	} else if p == nil || h.N != p.n || h.K != p.k+1 {
		if p != nil {
			r.discard(p, false)
			delete(r.pending, tag)
		}
		return "", false, fmt.Errorf("%w: got %d of %d", ErrOutOfOrder, h.K, h.N)
	}
	r.budget.mu.Lock()
	defer r.budget.mu.Unlock()
	if p.elem == nil { // dropped by the budget since the last piece
		delete(r.pending, tag)
		return "", false, fmt.Errorf("%w: got %d of %d after the message was dropped", ErrOutOfOrder, h.K, h.N)
	}
	if err := r.appendLocked(now, p, piece); err != nil {
		r.budget.release(p)
		delete(r.pending, tag)
		return "", false, err
	}
	p.k = h.K
	if p.k < p.n {
		return "", false, nil
	}
	delete(r.pending, tag)
	return complete(r.takeLocked(p))
}

func complete(msg string) (string, bool, error) {
	if IsFragment(msg) {
		return "", false, ErrNested
	}
	return msg, true, nil
}

// begin registers p and charges its bookkeeping. Called with the budget's
// lock held.
func (r *Reassembler) begin(now time.Time, p *partial) error {
	r.budget.begin(p)
	if err := r.reserve(now, p, partialOverhead); err != nil {
		r.budget.release(p)
		return err
	}
	return nil
}

// appendLocked appends s to p's buffer, growing it within the limits.
// Called with the budget's lock held; on error p is left to the caller.
func (r *Reassembler) appendLocked(now time.Time, p *partial, s string) error {
	need := len(p.buf) + len(s)
	if need > cap(p.buf) {
		// Double the buffer as append would, but never beyond what
		// the limits leave: room that may never be used must not push
		// out other messages.
		room := min(r.lim.MaxBytes-r.total, r.budget.limit-r.budget.used)
		grown := max(min(2*cap(p.buf), cap(p.buf)+room), need)
		if err := r.reserve(now, p, grown-cap(p.buf)); err != nil {
			return err
		}
		buf := make([]byte, len(p.buf), grown)
		copy(buf, p.buf)
		p.buf = buf
	}
	p.buf = append(p.buf, s...)
	return nil
}

// reserve charges n bytes to p: first within this Reassembler's MaxBytes,
// dropping its own oldest other messages, then within the budget. Called
// with the budget's lock held.
func (r *Reassembler) reserve(now time.Time, p *partial, n int) error {
	for r.total+n > r.lim.MaxBytes {
		q := r.oldestExcept(p)
		if q == nil {
			return fmt.Errorf("%w: message over %d bytes", ErrLimit, r.lim.MaxBytes)
		}
		r.budget.evict(q)
		r.forget(q)
	}
	if !r.budget.charge(now, p, n) {
		return fmt.Errorf("%w: shared fragment memory (%d bytes) is full", ErrLimit, r.budget.limit)
	}
	return nil
}

// takeLocked returns p's contents and releases it. Called with the
// budget's lock held.
func (r *Reassembler) takeLocked(p *partial) string {
	buf := p.buf
	r.budget.release(p)
	// The buffer is no longer referenced anywhere else: share it with
	// the string instead of copying it.
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// discard drops p; lost tells whether to count it as a lost message.
func (r *Reassembler) discard(p *partial, lost bool) {
	r.budget.mu.Lock()
	defer r.budget.mu.Unlock()
	if lost && p.elem != nil {
		r.dropped.Add(1)
	}
	r.budget.release(p)
}

// oldest returns the pending fragmented message begun first. Called only
// when some are pending.
func (r *Reassembler) oldest() *partial {
	var o *partial
	for _, p := range r.pending {
		if o == nil || p.first.Before(o.first) {
			o = p
		}
	}
	return o
}

// forget removes q, which was dropped, from this Reassembler's messages.
func (r *Reassembler) forget(q *partial) {
	if r.cut == q {
		r.cut = nil
	}
	for tag, p := range r.pending {
		if p == q {
			delete(r.pending, tag)
		}
	}
}

// oldestExcept returns this Reassembler's live message begun first other
// than keep, or nil. Called with the budget's lock held.
func (r *Reassembler) oldestExcept(keep *partial) *partial {
	for _, p := range r.parts {
		if p != keep {
			return p
		}
	}
	return nil
}
