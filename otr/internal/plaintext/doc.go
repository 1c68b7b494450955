// Package plaintext handles the OTR messages that travel unencrypted: query
// messages ("?OTRv23?"), whitespace tags appended to plain text, and
// "?OTR Error:" messages. Detection follows libotr 4.1.1, which looks for
// each marker anywhere in a line.
package plaintext
