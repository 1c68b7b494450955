package plaintext

import "strings"

// The whitespace tag: a 16-byte base marking OTR support, then 8 bytes per
// offered version.
const (
	tagBase = " \t  \t\t\t\t \t \t \t  "
	tagV2   = "  \t\t  \t "
	tagV3   = "  \t\t  \t\t"
)

// WhitespaceTag returns the tag offering v, to append to a plaintext
// message. It returns "" when v holds neither version 2 nor 3.
func WhitespaceTag(v Versions) string {
	if !v.Has(V2) && !v.Has(V3) {
		return ""
	}
	// libotr's order: v2 before v3.
	s := tagBase
	if v.Has(V2) {
		s += tagV2
	}
	if v.Has(V3) {
		s += tagV3
	}
	return s
}

// FindWhitespaceTag looks for a whitespace tag anywhere in text. When found
// it returns text with the tag (base and every version block after it)
// removed and the versions offered among 2 and 3. Like libotr, every
// 8-byte group of spaces and tabs after the base counts as part of the tag,
// so blocks of unknown versions are stripped too. found may be true with
// v == 0 when only v1 or unknown versions are offered.
func FindWhitespaceTag(text string) (stripped string, v Versions, found bool) {
	i := strings.Index(text, tagBase)
	if i < 0 {
		return text, 0, false
	}
	end := i + len(tagBase)
	for end+8 <= len(text) && strings.Trim(text[end:end+8], " \t") == "" {
		switch text[end : end+8] {
		case tagV2:
			v |= V2
		case tagV3:
			v |= V3
		}
		end += 8
	}
	return text[:i] + text[end:], v, true
}
