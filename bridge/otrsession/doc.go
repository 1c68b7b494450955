// Package otrsession is the per-peer OTR session manager of one login (one
// Matrix user on one IRC network): one otr.Conversation per peer, the
// user's identity key, the trust store and the policies. The connector
// (package bridge) gives it each peer as a PeerLink, passes every message
// to and from the peer through Send and Receive, and calls the user's
// actions (Init, Finish, StartSMP, Trust, SetPolicy, ...) from its `!otr`
// commands. This package knows nothing about Matrix beyond the PeerLink.
//
//   - Identity: one DSA key and instance tag per (Matrix user, network),
//     loaded from db.Identity (sealed with internal/seal, purpose
//     SealPurpose, associated data db.KeyAssociatedData) or generated in a
//     goroutine the first time OTR is needed. Nothing waits for it on the
//     IRC side: lines received meanwhile are kept (up to 64 per peer) and
//     processed once the key is there; Send waits for it (at most
//     Config.HoldTimeout).
//   - Policy: per-peer override → user default → Config.DefaultPolicy
//     (db.Policies). Channels, and services (Config.IsService, exact
//     names) the user has no OTR history with, get no OTR or whitespace
//     tags. A policy applies to new conversations: a private, finished or
//     restart-interrupted one is never turned into plaintext by a policy
//     (or a rename), only by Finish.
//   - Send: encrypted when private (emotes as "/me ..."), fragments sized to
//     min(Config.MaxFragmentSize, PeerLink.LineBudget), all lines of one
//     message in one PeerLink.SendLines (room is left for a rename to a
//     longer nick: the engine's fragment size is fixed per conversation).
//     Held while policy requires encryption, while the bridge recovers
//     from a restart, or while a requested key exchange runs; a held
//     message that does not go out in time fails with a *SendError
//     (ErrNotPrivate). After the peer ended the conversation Send fails
//     with ErrFinished and sends nothing. SendResult says whether a message
//     went out unencrypted; the first one after a private period also
//     gets a notice.
//   - Receive: OTR protocol lines (queries with libotr's HTML explanation,
//     fragments, errors, AKE, SMP) never reach Matrix; decrypted text is
//     delivered (HTML from Pidgin reduced to IRC formatting, "/me"
//     as an emote); plaintext during a private conversation is delivered
//     with Annotation "unencrypted". Every event becomes a notice: private
//     conversation started (both fingerprints, how to verify), refreshed,
//     ended by the peer, a NEW key for a known peer (loud; trust never
//     carries over), SMP asked/progress/result, unreadable messages. What
//     a peer's client sends that is ignored or unreadable (malformed OTR
//     messages, unreadable ones, OTR errors) is shown once and then
//     counted: one notice per kind and minute (noise.go). Every change of
//     State goes to PeerLink.ShowState.
//   - Lost sessions (lost.go): PeerGone (the peer left IRC), the peer's
//     "?OTR Error:", or a new instance of the peer going private end the
//     session on our side; messages sent since the peer's last data
//     message are marked (PeerLink.Unconfirmed) and sent once more,
//     "[resent] ", in the next session with the same key.
//   - Held messages (heldkey.go) go only to a key the peer is known by
//     (the lost session's, a stored one; any at first contact); any
//     other key is refused: they fail (ErrKeyRefused), and so does every
//     Send to that conversation, until the user verifies the key (Trust,
//     SMP) or ends it (Finish).
//   - Trust store: db.Fingerprints.Seen on every new session, SetTrust on
//     SMP success when otr.SMPSucceeded.SetTrust says so, Trust/Distrust/
//     Forget. db.Private markers survive a restart: the next contact with
//     such a peer (or Announce, right after the login connects) gets a
//     notice and messages are held until a new private conversation is up
//     (or Finish).
//   - Time: a timer, armed only while a conversation has held or
//     incomplete messages, expires them; automatic replies to a peer
//     are rate limited (Config.ReplyBurst, then one per ReplyInterval) so
//     two misbehaving clients cannot keep each other busy.
//   - Strangers: automatic replies (answers to the peer's queries, errors,
//     key exchange and SMP messages) go out through PeerLink.SendReply,
//     behind the user's own messages and within the connection's budget;
//     a dropped one is explained like noise. Incomplete fragmented
//     messages of all peers share one budget (fragmentBudget). A peer idle
//     for 30 minutes that holds nothing that matters is forgotten; a
//     private conversation never is (idle.go). A panic costs one peer,
//     fail closed, never the login (recover.go).
//
// Every call decides under the peer's lock: engine calls, state changes,
// and the wire lines queued in order on the peer's send queue (one
// goroutine writes them through PeerLink.SendLines). What the Matrix user
// sees (Deliver, Notice, ShowState) is collected as effects and queued, in
// the order of the decisions, on the peer's effect queue, whose goroutine
// (running only while the queue is not empty) calls the PeerLink. So no
// call here waits for the homeserver: Receive, the key exchange and the
// replies to the peer go on while Matrix is slow. The queue is bounded:
// what a peer's lines cause beyond 512 KiB per peer or 4 MiB per login is
// refused, counted and reported to the user in one notice once the queue
// drained (a state change and everything the user causes always queue).
// Writes to the trust store and the private-conversation markers that a
// key exchange or its end cause go through the same queue, so the
// protocol does not wait for the database either: the notice of a new
// private session is composed there, after the trust store answered. The
// wire lines have a queue of their own with its own lock, so a reply
// leaves while the peer is still locked.
// The state is shown once per change, after the notices about it and
// before the messages that depend on it; a new portal has no OTR topic,
// which says plaintext, so nothing is shown until the state changes.
//
// Send may block until a held message goes out (at most HoldTimeout, 60 s
// by default); with bridgev2's portal_event_buffer > 0 (the default) the
// IRC side keeps flowing meanwhile. Keep it above 0.
//
// Nothing here logs message text, SMP secrets or keys; errors shown to
// users never contain them.
package otrsession
