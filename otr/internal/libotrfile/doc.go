// Package libotrfile reads and writes the files libotr keeps per user, so
// keys and trust decisions can move between otrbridge and irssi, Pidgin,
// HexChat or any other libotr client:
//
//   - the private key file (otr.private_key): an S-expression written by
//     libgcrypt, one (account (name ..) (protocol ..) (private-key (dsa
//     (p ..) (q ..) (g ..) (y ..) (x ..)))) per account;
//   - the fingerprints file (otr.fingerprints): lines of
//     user TAB account TAB protocol TAB 40 hex digits TAB trust;
//   - the instance tags file (otr.instance_tags): lines of
//     account TAB protocol TAB 8 hex digits, after a comment line.
//
// Parsers reject malformed input with errors wrapping ErrMalformed (or
// ErrTooLarge), never panic, and bound every size. Writers produce the
// bytes libotr 4.1.1 writes for the same content.
package libotrfile
