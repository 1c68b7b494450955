// Package otr implements Off-the-Record Messaging, protocol versions 3 and 2
// (never 1), interoperable with libotr 4.1.1 and the clients built on it
// (irssi, Pidgin, HexChat, ZNC, bitlbee) and with python-potr (v2).
//
// # Shape
//
// The package is sans-IO: it never reads the network or the clock, starts
// no goroutines and logs nothing. A Conversation is the whole OTR state
// with one peer (one local account talking to one remote nick). You feed
// it what happens and it tells you what to do:
//
//   - Receive(now, line) for every line (IRC PRIVMSG body) from the peer;
//   - Send(now, text) for every message the local user writes;
//   - Start, End, StartSMP, AnswerSMP, AbortSMP, ExtraSymmetricKey for the
//     user's commands;
//   - Tick(now) every few seconds, to expire held messages and fragments.
//
// Each call returns an Output: Wire lines to send to the peer, in order;
// Messages to show the local user (Received.Encrypted tells whether the
// text was private); and Events (GoneSecure, PeerEnded, SMPAsked,
// HeldExpired, ...) describing state changes. Output is valid even when
// Receive also returns an error: it may carry an "?OTR Error:" reply.
//
// A Conversation is not safe for concurrent use; give each its own lock or
// goroutine. All randomness comes from Config.Rand, read in a fixed order,
// so a conversation replays identically from the same inputs and seed.
//
// # Sessions and instances
//
// OTR v3 peers may be logged in from several clients, each with an
// instance tag. A Conversation keeps one session per peer instance (tag 0
// for a v2 peer) and sends to the best one as libotr does: encrypted
// before finished before plaintext, then a trusted fingerprint
// (Config.Trusted), then the instance heard from most recently. Info
// reports that instance, Instances lists all, and SelectInstance pins one.
//
// # Policy and failing closed
//
// Policy holds libotr's bits and presets (PolicyManual, PolicyOpportunistic,
// PolicyAlways, ...). With RequireEncryption a Send in plaintext never puts
// the text on the wire: the message is held (HeldMessage event with an ID),
// a query goes out, and after the AKE the held messages are sent encrypted
// (HeldSent) or, after Config.HoldTimeout, dropped (HeldExpired, from
// Tick). Config.HeldMayGoTo may refuse the key of the session that came up
// (HeldRefused: they are dropped, and Send fails with ErrKeyRefused until
// AcceptKey): a message written before the AKE must not go to whoever
// answered it. After the peer ends the session (PeerEnded) Send returns
// ErrFinished and produces no wire output until the user calls End or a new
// AKE (Start) completes.
//
// # Keys
//
// PrivateKey is the long-term DSA identity (GenerateKey, MarshalBinary for
// storage; ImportLibotrPrivateKeys to bring keys over from other clients).
// Fingerprint.String gives libotr's "5 groups of 8 hex digits" form.
// Trust is the caller's business: SMPSucceeded.SetTrust says when libotr
// would mark a fingerprint verified.
//
// # Under the hood
//
// Messages are AES-128-CTR with HMAC-SHA1 over Diffie-Hellman keys in the
// 1536-bit MODP group, rotated as each side speaks; session keys are cached
// so a message costs a modular exponentiation only when keys rotate. Secret
// exponent arithmetic is constant time (filippo.io/bigmod). Long messages
// are split into fragments of Config.FragmentSize bytes and incoming
// fragments are joined per sender instance, within memory caps: 256 KiB
// and 4 incomplete messages per Conversation, 5 minutes from a message's
// first piece, and a FragmentBudget shared by all Conversations of a
// login (Config.FragmentBudget). A line the peer's IRC client cut in two
// (WeeChat cuts potr's fragment lines) is joined with its rest when that
// follows as the next line.
package otr
