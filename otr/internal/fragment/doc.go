// Package fragment splits outgoing OTR messages into fragments and joins
// incoming ones, compatibly with libotr 4.1.1.
//
// # Sending
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
// A Reassembler (NewReassembler with Limits: incomplete messages kept at once,
// default 4; memory they hold together, default 256 KiB; expiry counted from
// a message's first piece, default 5 min; our own instance tag; a Budget
// shared by one login's conversations) joins one conversation's fragments.
//
// Pass EVERY received line of one conversation to Add:
//
//   - a fragment (IsFragment) is stored per sender instance tag (v2: tag 0);
//     when its last piece arrives Add returns the joined message with done =
//     true, before that ("", false, nil);
//   - a line that an IRC client cut in two is buffered until its rest
//     arrives as the next line, within 30 s of the first part: the start
//     of an encoded message ("?OTR:" with no closing ".") followed by lines
//     of base64 up to the one holding the "."; or a fragment header and the
//     start of its piece with no closing ",", followed by more of the piece
//     up to the ",". WeeChat cuts a PRIVMSG text at what its
//     split_msg_max_length (512) leaves after the longest possible
//     nick!user@host, about 390 bytes, so potr's 403-byte fragment lines of
//     weechat-otr arrive in two; irssi and ZNC cut long lines too. A line
//     that is not such a rest ends the wait: the cut line is dropped and
//     the new line stands on its own, so a rest is never shown as text;
//   - any other line comes back unchanged: (line, true, nil).
//
// Memory: every incomplete message is charged its buffer's capacity plus
// its bookkeeping. Over MaxBytes the Reassembler drops its own messages
// begun first; over the Budget, the messages begun first in any
// Reassembler sharing it go (see Budget). MaxPending bounds the messages
// of one conversation and Expiry counts from the first piece, so a sender
// dripping pieces cannot keep a message alive. TakeDropped reports the
// messages lost that way (no error was returned for them).
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
// ErrLimit (the message would exceed MaxBytes or the Budget and was
// discarded), ErrNested (the joined message is itself a fragment).
//
// # Parsing
//
// IsFragment and ParseHeader read a fragment's header. Like libotr, a fragment is recognised anywhere in the line ("?OTR|" for
// v3, "?OTR,", for v2) and fields may have any width ("?OTR,1,2,...," from
// python-potr, unpadded hex tags).
package fragment
