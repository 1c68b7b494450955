package fragment

import (
	"fmt"
	"strings"
)

const (
	v3Tag = "?OTR|"
	v2Tag = "?OTR,"
)

// Header is the parsed prefix of one fragment.
type Header struct {
	Version          int    // 3 for "?OTR|", 2 for "?OTR,"
	Sender, Receiver uint32 // instance tags, version 3 only
	K, N             int    // this piece's number and the piece count, 1-based
}

// IsFragment reports whether line holds an OTR fragment. Like libotr it
// looks for the marker anywhere in the line.
func IsFragment(line string) bool {
	return strings.Contains(line, v3Tag) || strings.Contains(line, v2Tag)
}

// ParseHeader parses the fragment in line, accepting fields of any width. The
// v3 marker is looked for first, as the spec requires. Text after the
// closing comma is ignored, as libotr does.
func ParseHeader(line string) (h Header, piece string, err error) {
	h, s, err := parseFields(line)
	if err != nil {
		return Header{}, "", err
	}
	end := strings.IndexByte(s, ',')
	if end <= 0 {
		// libotr's sscanf pattern "%*[^,]," needs at least one character
		// and the closing comma.
		return Header{}, "", fmt.Errorf("%w: empty or unterminated piece", ErrMalformed)
	}
	return h, s[:end], nil
}

// parseFields parses the header up to the piece and returns the rest of
// the line.
func parseFields(line string) (h Header, rest string, err error) {
	var s string
	if i := strings.Index(line, v3Tag); i >= 0 {
		h.Version = 3
		s = line[i+len(v3Tag):]
		var ok bool
		if h.Sender, s, ok = hexField(s, '|'); !ok {
			return Header{}, "", fmt.Errorf("%w: sender instance tag", ErrMalformed)
		}
		if h.Receiver, s, ok = hexField(s, ','); !ok {
			return Header{}, "", fmt.Errorf("%w: receiver instance tag", ErrMalformed)
		}
	} else if i := strings.Index(line, v2Tag); i >= 0 {
		h.Version = 2
		s = line[i+len(v2Tag):]
	} else {
		return Header{}, "", fmt.Errorf("%w: no fragment marker", ErrMalformed)
	}
	var ok bool
	if h.K, s, ok = decField(s); !ok {
		return Header{}, "", fmt.Errorf("%w: fragment number", ErrMalformed)
	}
	if h.N, s, ok = decField(s); !ok {
		return Header{}, "", fmt.Errorf("%w: fragment count", ErrMalformed)
	}
	return h, s, nil
}

// cutFragmentPiece reports whether line is the start of a fragment whose
// line an IRC client cut in two: a header, then the beginning of a piece
// without its closing comma. It returns where the piece begins.
func cutFragmentPiece(line string) (int, bool) {
	_, rest, err := parseFields(line)
	if err != nil || rest == "" || !isPiecePrefix(rest) {
		return 0, false
	}
	return len(line) - len(rest), true
}

// isPiecePrefix reports whether s can begin a piece of an encoded message:
// the first piece starts with "?OTR:", the last ends with ".", all else is
// base64.
func isPiecePrefix(s string) bool {
	if len(s) < len("?OTR:") && strings.HasPrefix("?OTR:", s) {
		return true
	}
	s = strings.TrimPrefix(s, "?OTR:")
	s = strings.TrimSuffix(s, ".")
	return s == "" || isBase64(s)
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

// hexField reads hex digits up to sep. Leading zeros of any number are
// allowed; the value must fit in 32 bits.
func hexField(s string, sep byte) (uint32, string, bool) {
	var v uint64
	i := 0
	for ; i < len(s) && s[i] != sep; i++ {
		d, ok := hexDigit(s[i])
		if !ok {
			return 0, "", false
		}
		v = v<<4 | uint64(d)
		if v > 0xffffffff {
			return 0, "", false
		}
	}
	if i == 0 || i == len(s) {
		return 0, "", false
	}
	return uint32(v), s[i+1:], true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decField reads a decimal unsigned short followed by a comma.
func decField(s string) (int, string, bool) {
	v := 0
	i := 0
	for ; i < len(s) && s[i] != ','; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, "", false
		}
		v = v*10 + int(c-'0')
		if v > 0xffff {
			return 0, "", false
		}
	}
	if i == 0 || i == len(s) {
		return 0, "", false
	}
	return v, s[i+1:], true
}
