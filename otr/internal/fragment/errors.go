package fragment

import "errors"

var (
	// ErrVersion means Split was asked for a protocol version other than 2 or 3.
	ErrVersion = errors.New("otr fragment: version must be 2 or 3")
	// ErrMaxTooSmall means the line limit leaves no room for a header and one
	// character of payload.
	ErrMaxTooSmall = errors.New("otr fragment: maximum line length too small for a fragment")
	// ErrTooManyFragments means the message would need more than 65535 pieces.
	ErrTooManyFragments = errors.New("otr fragment: message needs more than 65535 fragments")

	// ErrMalformed means a fragment header or piece could not be parsed.
	ErrMalformed = errors.New("otr fragment: malformed fragment")
	// ErrBadIndex means a fragment had k == 0, n == 0 or k > n.
	ErrBadIndex = errors.New("otr fragment: illegal fragment number")
	// ErrOutOfOrder means a piece did not continue the stored message (a gap,
	// a duplicate or a different count); the stored pieces were discarded.
	ErrOutOfOrder = errors.New("otr fragment: fragment out of order")
	// ErrNotForUs means a v3 fragment was addressed to another instance tag.
	ErrNotForUs = errors.New("otr fragment: fragment for another instance")
	// ErrLimit means a message being joined would have exceeded a memory
	// limit (the Reassembler's or the shared Budget's) and was discarded.
	ErrLimit = errors.New("otr fragment: fragment memory limit reached")
	// ErrNested means a joined message was itself a fragment, which the
	// protocol forbids.
	ErrNested = errors.New("otr fragment: fragment of a fragment")
)
