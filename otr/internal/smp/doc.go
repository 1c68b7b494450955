// Package smp implements one side of the Socialist Millionaires' Protocol
// of OTR v2/v3: two parties learn whether they hold the same secret without
// revealing it.
//
// The caller (the conversation engine) hashes the user's secret into
// x = SHA256(0x01 || initiator fingerprint || responder fingerprint || ssid
// || secret) and carries the TLV payloads this package produces inside
// encrypted data messages. A zero State is waiting for an exchange to begin.
//
// Initiator: Start returns the SMP1 payload (send as TLV 2, or as TLV 7
// after JoinSMP1Q when asking a question). Responder: Receive on TLV 2 or 7
// reports NeedSecret; once the user answers, Respond returns the SMP2
// payload (TLV 3). From then on Receive returns the next payload to send,
// and the outcome. As libotr does, the responder always sends SMP4, so both
// sides learn the result.
//
// Every received group element must lie in [2, p-2] and every exponent in
// [1, q); every zero-knowledge proof is checked before any value is used.
// A bad or unexpected message makes Receive return an abort TLV to send
// and return to the initial state, as libotr does. Secret exponents are
// used only with the constant-time operations of package group.
package smp
