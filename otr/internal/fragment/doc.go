// Package fragment splits outgoing OTR messages into fragments and joins
// incoming ones, compatibly with libotr 4.1.1.
//
// # Sending
//
//	func Split(msg string, max int, version int, sender, receiver uint32) ([]string, error)
//
// Split returns []string{msg} when max <= 0 or len(msg) <= max (libotr
// fragments only messages longer than the limit). Otherwise it writes
// libotr's fixed-width headers, "?OTR|%08x|%08x,%05d,%05d,<piece>," for
// version 3 and "?OTR,%05d,%05d,<piece>," for version 2, with libotr's piece
// size: max-37 (v3) and max-19 (v2). Those constants are the header length
// plus one byte for C's NUL terminator, so every line is at most max-1
// bytes and our fragment counts equal libotr's for the same max. No piece is
// ever empty, and the output is byte for byte what libotr writes. Errors:
// ErrVersion, ErrMaxTooSmall, ErrTooManyFragments (more than 65535
// pieces), ErrMalformed (a comma in msg, which would end a piece early).
//
// # Receiving
//
//	type Limits struct {
//		MaxPending      int           // incomplete messages kept at once (default 100)
//		MaxTotalBytes   int           // bytes buffered over all of them (default 100 MiB)
//		MaxMessageBytes int           // size of one reassembled message (default 1 MiB)
//		Expiry          time.Duration // drop a message with no new piece for this long (default 5 min)
//		OwnInstance     uint32        // if non-zero, v3 fragments for another receiver tag are dropped
//	}
//	func NewReassembler(l Limits) *Reassembler
//	func (r *Reassembler) Add(now time.Time, line string) (msg string, done bool, err error)
//	func (r *Reassembler) Expire(now time.Time)
//	func (r *Reassembler) Pending() int
//
// Pass EVERY received line of one conversation to Add:
//
//   - a fragment (IsFragment) is stored per sender instance tag (v2: tag 0);
//     when its last piece arrives Add returns the joined message with done =
//     true, before that ("", false, nil);
//   - a line that starts an encoded message ("?OTR:" with no closing ".")
//     is buffered, and following lines made only of base64 characters are
//     appended up to the line holding the final "." (within 30 s; an IRC
//     hop such as irssi, weechat or ZNC split it without OTR fragment
//     headers);
//   - any other line comes back unchanged: (line, true, nil).
//
// Unlike libotr for v2, a plain line between two fragments does not discard
// the partial message: on IRC people keep typing while a long message
// arrives (libotr 4 keeps v3 fragments in the instance's own context, so it
// does not discard them either). Otherwise Add agrees with libotr's
// accumulator line by line (testdata/libotr-join.txt), and Split's output
// is byte for byte libotr's (testdata/libotr-split.txt).
//
// Any error means the line was consumed and nothing is to be delivered.
// Errors (all errors.Is-able): ErrMalformed (bad header or empty piece),
// ErrBadIndex (k == 0, n == 0 or k > n), ErrOutOfOrder (a gap, a duplicate
// or a different n: like libotr the partial message is discarded; k == 1
// always restarts), ErrNotForUs (v3 receiver tag is another instance),
// ErrMessageTooLarge (MaxMessageBytes or MaxTotalBytes exceeded), ErrNested
// (the joined message is itself a fragment).
//
// # Parsing
//
//	type Header struct{ Version int; Sender, Receiver uint32; K, N int }
//	func IsFragment(line string) bool
//	func ParseHeader(line string) (h Header, piece string, err error)
//
// Like libotr, a fragment is recognised anywhere in the line ("?OTR|" for
// v3, "?OTR,", for v2) and fields may have any width ("?OTR,1,2,...," from
// python-potr, unpadded hex tags).
package fragment
