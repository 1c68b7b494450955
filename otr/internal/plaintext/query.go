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

// FindQuery looks for a query message in text and returns the versions it
// offers among 2 and 3. Like libotr, only the first "?OTR" in the text is
// considered, wherever it is. It understands the forms libotr parses:
// "?OTRv23?", "?OTR?v23?" (v1 with others) and "?OTR?" (v1 only, reported
// as ok = false since v1 is never spoken). Versions other than 2 and 3 are
// ignored, so "?OTRv43?" offers v3.
func FindQuery(text string) (v Versions, ok bool) {
	i := strings.Index(text, "?OTR")
	if i < 0 {
		return 0, false
	}
	s := text[i+len("?OTR"):]
	s = strings.TrimPrefix(s, "?") // the v1 marker, maybe followed by "v..."
	s, found := strings.CutPrefix(s, "v")
	if !found {
		return 0, false
	}
	// Like libotr, read version digits up to the next "?" (or the end).
	if end := strings.IndexByte(s, '?'); end >= 0 {
		s = s[:end]
	}
	for _, c := range s {
		switch c {
		case '2':
			v |= V2
		case '3':
			v |= V3
		}
	}
	return v, v != 0
}
