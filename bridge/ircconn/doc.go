// Package ircconn owns one IRC client connection for one (Matrix user, network)
// login of the bridge.
//
// It is built on github.com/ergochat/irc-go's ircmsg (parsing and serialising)
// and ircreader, with its own connection loop rather than ircevent, because the
// bridge needs control over three things ircevent does not give it: a paced
// send queue in which the lines of one message are never interleaved with the
// lines of another (OTR fragments must arrive in order), per-message delivery
// confirmation (echo-message / labeled-response), and a reconnect policy that
// distinguishes transient failures from bans and bad credentials.
//
// # Life cycle
//
// New validates a Config; Start begins connecting in the background and keeps
// the connection up (reconnecting with capped exponential backoff and jitter)
// until Disconnect or Close. State changes are reported to Config.Handler as
// StateChanged events: Connecting, Connected, TransientDisconnect (will retry),
// BadCredentials and Fatal (k-line, ban, unusable nick; no retry until
// Reconnect), Disconnected (the caller asked).
//
// # Transport and login
//
// The connection is TLS (verified) unless Config.PlainText, optionally with
// a client certificate (Config.ClientCertificate, for CertFP), and goes
// either directly or through a SOCKS5 proxy (Config.Proxy, e.g. Tor). With a
// proxy the server's host name is resolved by the proxy, never here, and a
// failing proxy fails the attempt: there is no direct fallback.
// Config.ProxyIsolation gives each login its own proxy credentials, which Tor
// turns into its own circuit.
//
// Registration sends the server password (PASS) first when set, then logs in
// as configured: SASL PLAIN, SASL EXTERNAL (the certificate), or NickServ
// IDENTIFY after registration. A server that does not offer the configured
// SASL mechanism stops the connection in state Fatal; a rejected login
// (SASL failure, 464, NickServ's refusal, or InspIRCd's "Access denied by
// configuration" after a server password) in state BadCredentials. Neither
// retries, and no other way of logging in is tried in place of the one
// configured. NewClientCertificate, MarshalClientCertificate,
// ParseClientCertificate and CertFingerprints create, store and show a
// certificate for CertFP.
//
// # Sending
//
// Send enqueues all lines of one message as a unit: the writer sends them
// back to back, paced by a token bucket (Config.Flood), and no line of another
// message is sent in between.
//
// Messages come in two classes. Send is for the user's own messages;
// SendWith(..., SendOptions{Automatic: true}) is for replies the bridge
// sends by itself (OTR key exchange, query and error answers), which any
// stranger can provoke. The writer always takes the oldest user message
// first and an automatic one only when no user message waits (a message
// already started is finished first). Automatic messages also have a
// per-connection budget (Config.AutoReplies: a burst, then a rate) and a
// deadline (StaleAfter) to start; beyond either they fail with ErrDropped,
// and nothing of them is written. User messages are never dropped.
//
// When the server offers labeled-response or echo-message, Send waits for
// the server's confirmation of every line and Receipt.Confirmed is true;
// otherwise success means "written to the socket". Errors the server
// reports for the target (401, 404, 477, 486, 531, 716, ...) fail the Send
// with a *PeerError and are not reported again as events; without
// confirmation they arrive after Send returned, as PeerNotice events.
// If ctx ends after the first line was written, the remaining lines are still
// sent (half an OTR message is worse than a late one) and Send returns the
// context's error.
//
// Messages submitted while the connection is down are held and delivered
// after the next successful registration, as long as their context and
// Config.QueueTimeout allow; they are failed explicitly (ErrNotConnected,
// ErrStopped, or the context's error) when that time runs out or the
// connection reaches a terminal state. A message whose lines were (partly)
// written but not confirmed when the connection dropped fails with
// ErrConnectionLost; it is never resent, because the peer may already have
// some of it. No message is ever dropped silently.
//
// # Flood pacing
//
// Every line we send takes a token from one bucket per connection
// (Config.Flood: Burst lines at once, then Rate lines per second; defaults 4
// and 1; golang.org/x/time/rate). Lines that cannot wait (PONG,
// registration, CTCP replies, QUIT) are sent at once but still take their
// token, driving the bucket into debt (capped at one burst), because the
// server counts them too. Configure the bucket below the server's own
// limits (InspIRCd: threshold and commandrate of the connect class).
//
// # Line budget
//
// LineBudget is 512 minus the prefix the server puts in front of our text
// when it relays it, ":nick!user@host PRIVMSG target :" plus CRLF, with our
// host as others see it (learnt from our echoes, 396 or CHGHOST; USERHOST
// and the welcome line only until then). Until the host is known it assumes
// 63 bytes. The label tag we add does not count: tags have their own budget.
//
// # Receiving
//
// Incoming traffic is reported to Config.Handler as events (see Event). The
// handler is called from one goroutine per Conn, in the order the lines were
// received. It may call SendWith (for OTR's automatic replies), but should not
// block for long: a buffer of 1024 events sits between the socket and the
// handler, and when it is full the reader waits, which also delays the
// confirmations a Send inside the handler waits for. A panic in the handler
// is recovered and logged (its type and stack, never the panic value, which
// may hold message text); that one event is lost and the connection goes
// on. A panicking Config.Dial counts as a failed attempt.
//
// Our own echoes (echo-message) are never reported as messages. Channel
// messages are reported with Channel set, so that the bridge can ignore them.
// CTCP VERSION, PING, TIME and CLIENTINFO are answered here (rate-limited).
//
// # What the server reports
//
// Everything below comes from the server on this connection, never from a
// guess: a nick is a name anyone can take, and only the server can say who
// is who. Where offered, the Conn asks for extended-join, account-notify,
// away-notify, chghost, multi-prefix, userhost-in-names, invite-notify,
// setname and extended-monitor (besides message-tags, server-time,
// echo-message, labeled-response, batch and account-tag), and reads
// ISUPPORT (ISupport: PREFIX, CHANMODES, CHANTYPES, STATUSMSG, MONITOR,
// WHOX, the lengths, MODES, TARGMAX/MAXTARGETS, CHANLIMIT), with the
// defaults of RFC 1459 until the server announced its own.
//
// # Channels
//
// Join, JoinAll, Part, Topic, Kick, Invite and Mode validate their input
// strictly (channel names against CHANTYPES and CHANNELLEN, keys, reasons
// and topics against CR/LF/NUL and the server's lengths, modes against
// PREFIX and CHANMODES) and fail with ErrBadChannel, ErrBadKey, ErrBadMode,
// ErrBadLine or ErrLineTooLong before anything is written. They go through
// the send queue like messages, each followed by a PING with a token: when
// the PONG comes back, every reply to the command has come, so the call
// returns the server's refusal as a *PeerError (473 invite only, 474
// banned, 475 bad key, 471 full, 405 too many channels, 482 not operator,
// 441, 442, ...), or nil, also for a change that changed nothing and got no
// answer. Such numerics are then not reported as events; those that answer
// no call (a Raw command, a message Send could not wait for) arrive as
// ChannelError. A channel message the server refuses (404 +m, banned, +n)
// fails its Send with a *PeerError where the server confirms messages.
// JoinAll, for rejoining after a reconnect, packs channels into as few JOIN
// lines as 512 bytes and TARGMAX allow.
//
// Per session the Conn tracks the channels we are in: members (status
// prefixes, user, host, account, realname, away), topic and modes, from
// JOIN, PART, KICK, QUIT, NICK, MODE, TOPIC, NAMES, AWAY, ACCOUNT, CHGHOST,
// SETNAME and the answers of RefreshModes and RefreshMembers (WHO, WHOX
// where offered). Each of these is also an event (Joined, Parted, Kicked,
// Quit and NickChanged with the shared channels, ModeChanged parsed into
// per-mode changes, TopicChanged, Names, WhoList, AwayChanged,
// AccountChanged, HostChanged, RealnameChanged, Invited). A stranger can
// fill a channel with clones, so the tracker is bounded
// (Config.Channels): at most MaxChannels channels through Join
// (ErrTooManyChannels), at most MaxMembers members with details per channel
// and only a count beyond (about 250 bytes of heap per tracked member). The
// state is updated by the reader before the event is queued, so a handler
// may see state newer than the event it handles. After a reconnect we are
// in no channel: rejoining is the caller's decision (JoinAll).
//
// # Presence
//
// Watch adds nicks to a watch list (at most Config.Presence.MaxWatched,
// and the server's MONITOR limit less one slot kept for taking our own nick
// back) and reports PeerOnline and PeerOffline for them, now and after
// every reconnect, until Unwatch: with MONITOR where the server has it,
// else by polling ISON in chunks every Config.Presence.PollInterval, one
// poll at a time, only changes reported after the first answer. The server
// sends NICK only to those who share a channel with the user: a watched
// peer who renames elsewhere appears as PeerOffline of the old nick and
// nothing more; when a NICK in a shared channel came first, PeerOffline
// carries it as NewNick, and only then is the new nick known to be the same
// connection. Every line Watch causes goes through the paced send queue,
// but the watch list is for peers the user chose, not for every stranger
// who writes.
//
// # Privacy
//
// Message text, passwords and raw lines are never logged at any level, and no
// error returned by this package embeds message text.
package ircconn

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/rs/zerolog"
)

// Config describes one connection. Zero values get the defaults noted.
type Config struct {
	// Network names the network for the caller; the package does not use it.
	Network string
	// Address (a host name or IP address, without port) and Port of the
	// server. Port 0 means 6697 (TLS) or 6667.
	Address string
	Port    int
	// PlainText turns TLS off. TLS is on by default.
	PlainText bool
	// InsecureSkipVerify turns certificate verification off (TLS only).
	InsecureSkipVerify bool
	// ClientCertificate is presented for TLS client authentication
	// (CertFP: services recognise the account by the certificate's
	// fingerprint). See NewClientCertificate and CertFingerprints.
	ClientCertificate *tls.Certificate
	// ServerPassword is sent with PASS before registration when not empty
	// (a server or bouncer password; never logged).
	ServerPassword string

	// Proxy is a SOCKS5 proxy, "socks5://[user:password@]host:port" (Tor:
	// "socks5://127.0.0.1:9050"). Every connection goes through it, and
	// Address is passed to it unresolved: DNS happens at the proxy. When
	// the proxy is unreachable the attempt fails; there is never a direct
	// fallback.
	Proxy string
	// ProxyOnly declares that the server must never be reached directly:
	// New refuses a Config with ProxyOnly and no Proxy.
	ProxyOnly bool
	// ProxyIsolation, when the Proxy URL has no credentials, derives SOCKS5
	// credentials from this key (hashed), so that Tor, which isolates
	// streams by SOCKS credentials, gives each key its own circuit. Give
	// every login its own key, so that the server cannot link two users by
	// their exit address.
	ProxyIsolation string

	Nick     string // required
	Username string // default: Nick
	Realname string // default: Nick

	// SASLAccount/SASLPassword enable SASL PLAIN. If set and the server does
	// not offer SASL PLAIN, the connection ends in state Fatal.
	SASLAccount  string
	SASLPassword string
	// SASLExternal logs in with SASL EXTERNAL: the server identifies the
	// account by the ClientCertificate (required). If the server does not
	// offer EXTERNAL, the connection ends in state Fatal: no other login is
	// tried in its place. A certificate without SASLExternal is only
	// presented (for networks whose services log in by CertFP on their
	// own, such as OFTC).
	SASLExternal bool
	// NickServPassword is sent as "IDENTIFY <password>" to NickServNick
	// (default "NickServ") after registration when SASL is not used.
	NickServPassword string
	NickServNick     string

	Flood FloodConfig
	// Channels bounds the channel state tracker.
	Channels ChannelConfig
	// Presence bounds the presence watch (Watch).
	Presence PresenceConfig
	// AutoReplies limits automatic messages (SendOptions.Automatic).
	AutoReplies AutoReplyConfig

	PingInterval    time.Duration // idle time before we PING the server; default 60s
	PingTimeout     time.Duration // time allowed for any reply after our PING; default 30s
	ReconnectMin    time.Duration // first backoff delay; default 2s
	ReconnectMax    time.Duration // backoff cap; default 5m
	DialTimeout     time.Duration // TCP+TLS connect timeout; default 30s
	RegisterTimeout time.Duration // from connect to end of registration; default 60s
	ConfirmTimeout  time.Duration // wait for echo/labeled ACK per message after its last line; default 30s
	QueueTimeout    time.Duration // longest a message waits for a connection; default 2m

	// Version is the CTCP VERSION reply; default "otrbridge".
	Version string

	// Logger receives our log lines as is: give it the context fields
	// (component, network, login) you want.
	Logger zerolog.Logger

	// Handler receives events; it must be set.
	Handler func(Event)

	// Dial, when set, replaces the TCP/TLS dial (tests). It must return a
	// connected stream; PlainText, InsecureSkipVerify and ClientCertificate
	// are ignored, and Proxy must be empty.
	Dial func(ctx context.Context) (net.Conn, error)
}

// FloodConfig is the token bucket that paces all lines we send.
type FloodConfig struct {
	// Burst is how many lines may be sent back to back; default 4.
	Burst int
	// Rate is the sustained number of lines per second; default 1.
	Rate float64
}

// AutoReplyConfig is the per-connection budget for messages the bridge sends
// by itself, which strangers can provoke: every OTR query or key exchange a
// peer starts makes the bridge answer. Whatever they provoke, the user's own
// messages go first.
type AutoReplyConfig struct {
	// Burst automatic messages may be sent at once, then Rate per second;
	// beyond that SendWith fails at once with ErrDropped. Defaults 20 and
	// 0.5 (30 a minute).
	Burst int
	Rate  float64
	// StaleAfter is how long an automatic message may wait to start before
	// it is dropped with ErrDropped; default 30s. A late key-exchange answer
	// is useless: the peer has given up or retried.
	StaleAfter time.Duration
}

// Kind is the kind of a message line.
type Kind int

const (
	Privmsg Kind = iota
	Notice
	Action // CTCP ACTION (sent as PRIVMSG)
)

// State is the connection state reported in StateChanged.
type State int

const (
	Connecting          State = iota // dialling or registering
	Connected                        // registered; Send works
	TransientDisconnect              // lost; will retry after StateChanged.RetryIn
	BadCredentials                   // SASL/server password/NickServ rejected; no retry
	Fatal                            // banned, k-lined, unusable nick or config; no retry
	Disconnected                     // the caller asked (Disconnect/Close)
)

// Receipt tells how far a Send got.
type Receipt struct {
	// Confirmed is true when the server echoed or acknowledged every line.
	Confirmed bool
	// MsgIDs are the msgid tags of the echoes (may be empty).
	MsgIDs []string
	// Time is the server-time of the last echo, or the local time the last line was written.
	Time time.Time
}

// Source is the sender of a message.
type Source struct {
	Nick, User, Host string
	// Server is true when the source is a server, not a user.
	Server bool
}

// WhoisInfo collects a WHOIS reply.
type WhoisInfo struct {
	Nick, User, Host, Realname string
	Server, ServerInfo         string
	Account                    string        // 330, empty if not logged in
	Away                       string        // 301 text
	Idle                       time.Duration // 317
	SignOn                     time.Time     // 317
	Channels                   []string      // 319
	Operator                   bool          // 313
	Secure                     bool          // 671
	Other                      []string      // other lines of the reply, "<numeric> <text>"
}
