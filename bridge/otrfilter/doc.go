// Package otrfilter puts OTR into the bridge: it implements
// bridge.MessageFilter with one otr.Conversation per peer of a login (one
// Matrix user on one IRC network), and the logic of the `!otr` commands.
//
// # What it does
//
//   - Identity: one DSA key and instance tag per (Matrix user, network),
//     loaded from db.Identity (sealed with internal/seal, purpose
//     SealPurpose, associated data db.KeyAssociatedData) or generated in a
//     goroutine the first time OTR is needed. Nothing waits for it on the
//     IRC side: lines received meanwhile are kept (up to 64 per peer) and
//     processed once the key is there; Send waits for it (at most
//     Config.HoldTimeout).
//   - Policy: per-peer override → user default → Config.DefaultPolicy
//     (db.Policies). Services (Config.IsService) and channels never get
//     OTR or whitespace tags.
//   - Send: encrypted when private (emotes as "/me ..."), fragments sized to
//     min(Config.MaxFragmentSize, PeerLink.LineBudget), all lines of one
//     message in one PeerLink.SendLines (room is left for a rename to a
//     longer nick: the engine's fragment size is fixed per conversation). Held while policy requires
//     encryption, while the bridge recovers from a restart, or while a
//     requested key exchange runs; a held message that does not go out in
//     time fails with a *SendError (ErrNotPrivate). After the peer ended the
//     conversation Send fails with ErrFinished and sends nothing. A message
//     sent unencrypted although OTR is on is reported through
//     WithSendReport, and the first one after a private period also gets a
//     notice.
//   - Receive: OTR protocol lines (queries with libotr's HTML explanation,
//     fragments, errors, AKE, SMP) never reach Matrix; decrypted text is
//     delivered (HTML from Pidgin sanitised into IncomingText.HTML, "/me"
//     as an emote); plaintext during a private conversation is delivered
//     with Annotation "unencrypted". Every event becomes a notice: private
//     conversation started (both fingerprints, how to verify), refreshed,
//     ended by the peer, a NEW key for a known peer (loud; trust never
//     carries over), SMP asked/progress/result, unreadable messages.
//   - Trust store: db.Fingerprints.Seen on every new session, SetTrust on
//     SMP success when otr.SMPSucceeded.SetTrust says so, trust/distrust/
//     forget commands. db.Private markers survive a restart: the next
//     contact with such a peer gets a notice and messages are held until a
//     new private conversation is up (or `finish`).
//   - Clock: a ticker (Config.Clock) expires held messages; automatic
//     replies to a peer are rate limited (Config.ReplyBurst per
//     ReplyInterval) so two misbehaving clients cannot keep each other busy.
//   - State at a glance: a PeerLink that also implements StateShower is
//     told every change of State (plaintext, private unverified, private
//     verified, finished), e.g. to set the portal topic.
//
// # Wiring it into the bridge
//
// Package bridge must not import this package, so cmd/otrbridge (or a
// small file there) connects them:
//
//	otrKey, err := seal.NewKey(ic.Config.Secret, otrfilter.SealPurpose)
//	ic.NewFilter = func(c *bridge.IRCClient) bridge.MessageFilter {
//		net := c.Network()
//		f, err := otrfilter.New(otrfilter.Config{
//			DB: ic.DB, Seal: otrKey,
//			User: c.Login().UserMXID, Network: net,
//			DefaultPolicy:   ic.Config.Policy(net),
//			IsService:       ic.Config.IsService,
//			MaxFragmentSize: ic.Config.Networks[net].FragmentSize(),
//			Resolve:         c.LinkFor, // to add: nick → PeerLink (peerID + link)
//			Account:         c.Login().RemoteName,
//			Log:             c.Login().Log.With().Str("component", "otr").Logger(),
//		})
//		if err != nil { ... } // only for a broken config: refuse to start
//		return f
//	}
//
// ic.DB must be upgraded before the first message (it is, in Start).
// After a login connects, call Announce for each of RestartedPeers (with
// the peer's link) so portals cut off by a restart are told at once;
// State gives the state for a portal's topic when it is created.
// Call (*Filter).Close when the login is removed or the bridge stops
// (e.g. through an optional `interface{ Close() }` check in bridge).
//
// Commands: register every entry of Commands (name and aliases; help from
// Description/Args) with the bridge's command processor. In a DM portal
// call Filter.Command(ctx, link, name, args) with the portal's PeerLink; in
// the control room call Filter.ControlCommand(ctx, name, args) (peer
// commands then take the nick first). Show the reply or the error as a
// notice. For commands with Secret set (auth/smp, authq/smpq) redact the
// Matrix event as soon as it was read, and say so when the bot may not
// redact. `import-key`: read the uploaded files and call
// ImportLibotrKey (otr.private_key) and ImportLibotrFingerprints
// (otr.fingerprints). To reach the Filter from bridge code, declare there
// an interface with the methods you need (Command, ControlCommand,
// ImportLibotrKey, ImportLibotrFingerprints) and type-assert the login's
// MessageFilter to it.
//
// Send may block until a held message goes out (at most HoldTimeout, 60 s
// by default); with bridgev2's portal_event_buffer > 0 (the default) the
// IRC side keeps flowing meanwhile. Keep it above 0.
//
// Nothing here logs message text, SMP secrets or keys; errors shown to
// users never contain them.
package otrfilter
