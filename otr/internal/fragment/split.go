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
	// Write all fragments into one buffer and slice it: two allocations
	// however many fragments there are.
	buf := make([]byte, 0, len(msg)+n*overhead)
	ends := make([]int, n)
	for k := 1; k <= n; k++ {
		chunk := msg[:min(piece, len(msg))]
		msg = msg[len(chunk):]
		if version == 3 {
			buf = append(buf, "?OTR|"...)
			buf = appendHex8(buf, sender)
			buf = append(buf, '|')
			buf = appendHex8(buf, receiver)
			buf = append(buf, ',')
		} else {
			buf = append(buf, "?OTR,"...)
		}
		buf = appendDec5(buf, k)
		buf = append(buf, ',')
		buf = appendDec5(buf, n)
		buf = append(buf, ',')
		buf = append(buf, chunk...)
		buf = append(buf, ',')
		ends[k-1] = len(buf)
	}
	all := string(buf)
	out := make([]string, n)
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	return out, nil
}

// appendHex8 is printf's %08x.
func appendHex8(b []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>uint(shift)&0xf])
	}
	return b
}

// appendDec5 is printf's %05d for 0 <= v <= 65535.
func appendDec5(b []byte, v int) []byte {
	return append(b, byte('0'+v/10000), byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
