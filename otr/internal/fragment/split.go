package fragment

import (
	"fmt"
	"strings"
)

// libotr's header lengths: the printed header and closing comma plus one
// byte for the C string terminator. Using the same numbers gives the same
// fragment count as libotr for the same limit.
const (
	overheadV3 = len("?OTR|12345678|12345678,00001,00002,,") + 1 // 37
	overheadV2 = len("?OTR,00001,00002,,") + 1                   // 19
	maxPieces  = 65535
)

// Split splits an encoded message into fragments of at most max bytes each
// (libotr leaves one byte of the limit unused, and so do we). It returns
// []string{msg} when max <= 0 or msg already fits. sender and receiver are
// the instance tags written in version 3 headers.
func Split(msg string, max int, version int, sender, receiver uint32) ([]string, error) {
	var overhead int
	switch version {
	case 3:
		overhead = overheadV3
	case 2:
		overhead = overheadV2
	default:
		return nil, ErrVersion
	}
	if max <= 0 || len(msg) <= max {
		return []string{msg}, nil
	}
	if strings.IndexByte(msg, ',') >= 0 {
		// A comma ends a piece; encoded messages (base64) never hold one.
		return nil, fmt.Errorf("%w: message to split contains a comma", ErrMalformed)
	}
	piece := max - overhead
	if piece < 1 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMaxTooSmall, max)
	}
	// Rounding up this way never leaves an empty last piece, also when
	// len(msg) is a multiple of piece.
	n := (len(msg)-1)/piece + 1
	if n > maxPieces {
		return nil, fmt.Errorf("%w: %d needed", ErrTooManyFragments, n)
	}
	out := make([]string, 0, n)
	var b strings.Builder
	for k := 1; k <= n; k++ {
		chunk := msg[:min(piece, len(msg))]
		msg = msg[len(chunk):]
		b.Reset()
		b.Grow(len(chunk) + overhead)
		if version == 3 {
			fmt.Fprintf(&b, "?OTR|%08x|%08x,%05d,%05d,", sender, receiver, k, n)
		} else {
			fmt.Fprintf(&b, "?OTR,%05d,%05d,", k, n)
		}
		b.WriteString(chunk)
		b.WriteByte(',')
		out = append(out, b.String())
	}
	return out, nil
}
