package fragment

import (
	"fmt"
	"strings"
	"time"
)

// Limits bound the memory a Reassembler may use. Zero fields take the
// defaults listed in the package documentation.
type Limits struct {
	MaxPending      int           // incomplete messages kept at once
	MaxTotalBytes   int           // bytes buffered over all incomplete messages
	MaxMessageBytes int           // size of one reassembled message
	Expiry          time.Duration // drop a message that got no piece for this long
	OwnInstance     uint32        // if non-zero, drop v3 fragments for other receivers
}

const (
	defaultMaxPending      = 100
	defaultMaxTotalBytes   = 100 << 20
	defaultMaxMessageBytes = 1 << 20
	// IRC servers pace clients to a line or two per second, so a 100 KiB
	// message in 400-byte fragments takes minutes; expiry counts from the
	// latest piece, not the first.
	defaultExpiry = 5 * time.Minute
	// The lines of a message split by an IRC hop are sent back to back;
	// waiting longer would only glue unrelated lines onto a stale start.
	rawExpiry = 30 * time.Second
)

// partial is one message being joined.
type partial struct {
	k, n int
	buf  strings.Builder
	last time.Time
}

// Reassembler joins the fragments of one conversation. It is not safe for
// concurrent use.
type Reassembler struct {
	lim     Limits
	pending map[uint32]*partial // by sender instance tag; v2 uses 0
	total   int
	raw     *partial // an encoded message split by an IRC hop, k and n unused
}

// NewReassembler returns a Reassembler with the given limits.
func NewReassembler(l Limits) *Reassembler {
	if l.MaxPending <= 0 {
		l.MaxPending = defaultMaxPending
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = defaultMaxTotalBytes
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = defaultMaxMessageBytes
	}
	if l.Expiry <= 0 {
		l.Expiry = defaultExpiry
	}
	return &Reassembler{lim: l, pending: make(map[uint32]*partial)}
}

// Pending returns the number of incomplete messages held, including a raw
// encoded message waiting for its continuation lines.
func (r *Reassembler) Pending() int {
	n := len(r.pending)
	if r.raw != nil {
		n++
	}
	return n
}

// Expire drops incomplete messages that got no new piece within the expiry
// time.
func (r *Reassembler) Expire(now time.Time) {
	for tag, p := range r.pending {
		if now.Sub(p.last) > r.lim.Expiry {
			r.drop(tag)
		}
	}
	if r.raw != nil && now.Sub(r.raw.last) > min(r.lim.Expiry, rawExpiry) {
		r.raw = nil
	}
}

func (r *Reassembler) drop(tag uint32) {
	if p, ok := r.pending[tag]; ok {
		r.total -= p.buf.Len()
		delete(r.pending, tag)
	}
}

// Add takes one received line; see the package documentation for what it
// returns.
func (r *Reassembler) Add(now time.Time, line string) (msg string, done bool, err error) {
	r.Expire(now)
	if IsFragment(line) {
		r.raw = nil
		h, piece, err := ParseHeader(line)
		if err != nil {
			return "", false, err
		}
		if h.Version == 3 && r.lim.OwnInstance != 0 && h.Receiver != 0 && h.Receiver != r.lim.OwnInstance {
			return "", false, fmt.Errorf("%w: receiver %#x", ErrNotForUs, h.Receiver)
		}
		return r.addPiece(now, h, piece)
	}
	if r.raw != nil {
		if msg, done, ok, err := r.continueRaw(now, line); ok {
			return msg, done, err
		}
		// Not a continuation: the buffered start was not a split message
		// after all. Drop it and treat the line on its own.
		r.raw = nil
	}
	if i := strings.Index(line, "?OTR:AA"); i >= 0 && isBase64(line[i+len("?OTR:"):]) {
		// The start of an encoded v2/v3 message (version 0x0002 or 0x0003
		// encodes as "AAI"/"AAM") without its closing ".".
		if len(line) > r.lim.MaxMessageBytes {
			return "", false, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(line))
		}
		r.raw = &partial{last: now}
		r.raw.buf.WriteString(line)
		return "", false, nil
	}
	return line, true, nil
}

// continueRaw appends line to the buffered encoded message if it is made
// of base64 characters, optionally closed by the final ".".
func (r *Reassembler) continueRaw(now time.Time, line string) (msg string, done, ok bool, err error) {
	body, closed := strings.CutSuffix(line, ".")
	// The split may fall just before the final ".", leaving it alone.
	if !(body == "" && closed) && !isBase64(body) {
		return "", false, false, nil
	}
	if r.raw.buf.Len()+len(line) > r.lim.MaxMessageBytes {
		r.raw = nil
		return "", false, true, fmt.Errorf("%w: split encoded message over %d bytes", ErrMessageTooLarge, r.lim.MaxMessageBytes)
	}
	r.raw.buf.WriteString(line)
	r.raw.last = now
	if !closed {
		return "", false, true, nil
	}
	msg = r.raw.buf.String()
	r.raw = nil
	return msg, true, true, nil
}

// isBase64 reports whether s is non-empty and made only of base64
// characters, as the body of an encoded message is.
func isBase64(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// addPiece follows the spec's (and libotr's) receiving rules, per sender.
func (r *Reassembler) addPiece(now time.Time, h Header, piece string) (string, bool, error) {
	if h.K == 0 || h.N == 0 || h.K > h.N {
		return "", false, fmt.Errorf("%w: %d of %d", ErrBadIndex, h.K, h.N)
	}
	tag := h.Sender
	p := r.pending[tag]
	if h.K == 1 {
		r.drop(tag)
		if h.N == 1 {
			return complete(piece)
		}
		if len(piece) > r.lim.MaxMessageBytes {
			return "", false, fmt.Errorf("%w: over %d bytes", ErrMessageTooLarge, r.lim.MaxMessageBytes)
		}
		for len(r.pending) >= r.lim.MaxPending {
			r.drop(r.oldest(tag))
		}
		p = &partial{n: h.N}
		r.pending[tag] = p
	} else if p == nil || h.N != p.n || h.K != p.k+1 {
		r.drop(tag)
		return "", false, fmt.Errorf("%w: got %d of %d", ErrOutOfOrder, h.K, h.N)
	}
	if p.buf.Len()+len(piece) > r.lim.MaxMessageBytes {
		r.drop(tag)
		return "", false, fmt.Errorf("%w: over %d bytes", ErrMessageTooLarge, r.lim.MaxMessageBytes)
	}
	// Make room by dropping the stalest other messages first; a sender
	// that restarted leaves such leftovers behind.
	for r.total+len(piece) > r.lim.MaxTotalBytes && len(r.pending) > 1 {
		r.drop(r.oldest(tag))
	}
	if r.total+len(piece) > r.lim.MaxTotalBytes {
		r.drop(tag)
		return "", false, fmt.Errorf("%w: over %d buffered bytes", ErrMessageTooLarge, r.lim.MaxTotalBytes)
	}
	p.buf.WriteString(piece)
	r.total += len(piece)
	p.k = h.K
	p.last = now
	if p.k < p.n {
		return "", false, nil
	}
	msg := p.buf.String()
	r.drop(tag)
	return complete(msg)
}

func complete(msg string) (string, bool, error) {
	if IsFragment(msg) {
		return "", false, ErrNested
	}
	return msg, true, nil
}

// oldest returns the tag of the least recently extended message other
// than keep.
func (r *Reassembler) oldest(keep uint32) uint32 {
	var (
		tag   uint32
		when  time.Time
		found bool
	)
	for t, p := range r.pending {
		if t == keep {
			continue
		}
		if !found || p.last.Before(when) {
			tag, when, found = t, p.last, true
		}
	}
	return tag
}
