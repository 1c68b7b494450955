package ircconn

import "strings"

// Casemapping is the server's ISUPPORT CASEMAPPING: how nick and channel
// names compare case-insensitively.
type Casemapping int

const (
	// RFC1459 folds A-Z and []\~ to a-z and {}|^ (the default per RFC 1459).
	RFC1459 Casemapping = iota
	// RFC1459Strict folds A-Z and []\ (not ~).
	RFC1459Strict
	// ASCII folds only A-Z.
	ASCII
)

// ParseCasemapping maps an ISUPPORT CASEMAPPING value; unknown values (such
// as rfc7613 or utf8) fall back to RFC1459, which folds a superset of ASCII.
func ParseCasemapping(s string) Casemapping {
	switch strings.ToLower(s) {
	case "ascii":
		return ASCII
	case "rfc1459-strict", "strict-rfc1459":
		return RFC1459Strict
	}
	return RFC1459
}

func (m Casemapping) String() string {
	switch m {
	case ASCII:
		return "ascii"
	case RFC1459Strict:
		return "rfc1459-strict"
	}
	return "rfc1459"
}

// Fold returns s in the canonical lower case of this mapping. Bytes outside
// ASCII are left alone.
func (m Casemapping) Fold(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		f := m.foldByte(c)
		if f != c && b == nil {
			b = []byte(s)
		}
		if b != nil {
			b[i] = f
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

func (m Casemapping) foldByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + ('a' - 'A')
	case m == ASCII:
		return c
	case c == '[' || c == ']' || c == '\\':
		return c + ('{' - '[')
	case c == '~' && m == RFC1459:
		return '^'
	}
	return c
}
