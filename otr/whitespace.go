package otr

import "github.com/otrbridge/otrbridge/otr/internal/plaintext"

// StripWhitespaceTag removes an OTR whitespace tag (the base and every
// version block after it) from a plaintext message, for a peer that gets
// no OTR but whose client still advertises it. Text without a tag is
// returned unchanged.
func StripWhitespaceTag(text string) string {
	stripped, _, _ := plaintext.FindWhitespaceTag(text)
	return stripped
}
