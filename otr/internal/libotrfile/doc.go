// Package libotrfile reads the files libotr keeps per user, so keys and
// trust decisions can move from irssi, Pidgin, HexChat or any other libotr
// client to otrbridge (import-key, import-fingerprints), and writes the
// fingerprints file (export-fingerprints):
//
//   - the private key file (otr.private_key): an S-expression written by
//     libgcrypt, one (account (name ..) (protocol ..) (private-key (dsa
//     (p ..) (q ..) (g ..) (y ..) (x ..)))) per account;
//   - the fingerprints file (otr.fingerprints): lines of
//     user TAB account TAB protocol TAB 40 hex digits TAB trust.
//
// Parsers reject malformed input with errors wrapping ErrMalformed (or
// ErrTooLarge), never panic, and bound every size. The fingerprints writer
// produces the bytes libotr 4.1.1 writes for the same content.
package libotrfile
