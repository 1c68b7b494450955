package plaintext

import "strings"

const errorPrefix = "?OTR Error:"

// ErrorMessage returns the OTR error message carrying text, as libotr
// writes it: "?OTR Error: " followed by the text.
func ErrorMessage(text string) string { return errorPrefix + " " + text }

// FindError looks for an OTR error message in text and returns the
// human-readable part after the marker, without the leading space. Like
// libotr, the marker counts when it is the first "?OTR" in the text,
// wherever that is.
func FindError(text string) (msg string, ok bool) {
	i := strings.Index(text, "?OTR")
	if i < 0 || !strings.HasPrefix(text[i:], errorPrefix) {
		return "", false
	}
	return strings.TrimPrefix(text[i+len(errorPrefix):], " "), true
}
