package plaintext

import "strings"

// Versions is a set of OTR protocol versions, one bit per version number.
type Versions uint8

const (
	V2 Versions = 1 << 2
	V3 Versions = 1 << 3
)

// Has reports whether v includes all versions in w.
func (v Versions) Has(w Versions) bool { return v&w == w }

// QueryMessage returns the bare query for v ("?OTRv23?", "?OTRv2?",
// "?OTRv3?"), a single line. libotr's default query adds 342 bytes of HTML
// over several lines, which IRC cannot carry. It returns "" when v holds
// neither version.
func QueryMessage(v Versions) string {
	s := "?OTRv"
	if v.Has(V2) {
		s += "2"
	}
	if v.Has(V3) {
		s += "3"
	}
	if len(s) == len("?OTRv") {
		return ""
	}
	return s + "?"
}

// FindQuery looks for a query message anywhere in text and returns the
// versions it offers among 2 and 3. It understands the forms libotr
// parses: "?OTRv23?", "?OTR?v23?" (v1 with others) and "?OTR?" (v1 only,
// reported as ok = false since v1 is never spoken). Versions other than 2
// and 3 are ignored, so "?OTRv43?" offers v3.
func FindQuery(text string) (v Versions, ok bool) {
	for rest := text; ; {
		i := strings.Index(rest, "?OTR")
		if i < 0 {
			return 0, false
		}
		rest = rest[i+len("?OTR"):]
		s := rest
		isQuery := false
		if strings.HasPrefix(s, "?") {
			isQuery = true // v1 marker, maybe followed by "v..."
			s = s[1:]
		}
		if strings.HasPrefix(s, "v") {
			isQuery = true
			s = s[1:]
			// Like libotr, read version digits up to the next "?" (or the end).
			end := strings.IndexByte(s, '?')
			if end < 0 {
				end = len(s)
			}
			for _, c := range s[:end] {
				switch c {
				case '2':
					v |= V2
				case '3':
					v |= V3
				}
			}
		}
		if isQuery && v != 0 {
			return v, true
		}
		v = 0
	}
}
