package ircconn

import "time"

// Event is one of the event types below, delivered to Config.Handler.
type Event interface{ event() }

// StateChanged reports a change of the connection state.
type StateChanged struct {
	State State
	// Err says why (TransientDisconnect, BadCredentials, Fatal); nil otherwise.
	Err error
	// RetryIn is the backoff delay before the next attempt (TransientDisconnect).
	RetryIn time.Duration
	// Nick is our nick once Connected.
	Nick string
}

// Message is a PRIVMSG, NOTICE or CTCP ACTION from someone else. Our own
// echoes (echo-message) are consumed by Send and never reported here.
type Message struct {
	Kind Kind
	From Source
	// Target as sent: our nick for a direct message, or a channel.
	Target string
	// ToMe is true when Target is our nick (a direct message).
	ToMe bool
	// Channel is true when Target is a channel (possibly with a STATUSMSG prefix).
	Channel bool
	Text    string
	// Time is the server-time tag, or the local receive time.
	Time time.Time
	// Account is the sender's account-tag, empty if unknown or not logged in.
	Account string
	MsgID   string
}

// CTCP is a CTCP request (PRIVMSG) or reply (NOTICE) other than ACTION.
// VERSION, PING, TIME and CLIENTINFO requests are answered by the Conn
// (rate-limited) before the event is delivered.
type CTCP struct {
	From    Source
	Target  string
	Command string // upper case
	Args    string
	Reply   bool // received as NOTICE
}

// NickChanged reports a NICK change; Self is true when it is ours. The
// server sends it only for users who share a channel with us (and for us):
// a watched peer who shares none is reported as PeerOffline of the old nick
// instead (see Watch).
type NickChanged struct {
	Old, New string
	Self     bool
	// Channels are the tracked channels we share with the user.
	Channels []string
}

// Quit reports that a user who shares a channel with us left the network.
type Quit struct {
	Nick, Reason string
	// Channels are the tracked channels the user shared with us.
	Channels []string
}

// NickRejected reports that the server refused a nick (432, 433, 436, 437,
// 438, 447, ...). During registration the Conn then tries Trying (nick_,
// nick__, ...); after registration (Registered true) nothing is retried.
type NickRejected struct {
	Wanted, Code, Reason string
	Trying               string
	Registered           bool
}

// PeerNotice carries a numeric about a peer that was not the answer to a
// Send: 301 (away), 716/717/718 (callerid), 401/404/477/486/531 not matched
// to a pending message.
type PeerNotice struct {
	Nick, Code, Text string
}

// Numeric is any other numeric reply received after registration, such as
// replies to Raw. Registration and MOTD noise is not reported.
type Numeric struct {
	Code   string
	Params []string
}

func (StateChanged) event()    {}
func (Message) event()         {}
func (CTCP) event()            {}
func (NickChanged) event()     {}
func (Quit) event()            {}
func (NickRejected) event()    {}
func (PeerNotice) event()      {}
func (Numeric) event()         {}
func (Joined) event()          {}
func (Parted) event()          {}
func (Kicked) event()          {}
func (TopicChanged) event()    {}
func (ModeChanged) event()     {}
func (Invited) event()         {}
func (Names) event()           {}
func (WhoList) event()         {}
func (AwayChanged) event()     {}
func (AccountChanged) event()  {}
func (HostChanged) event()     {}
func (RealnameChanged) event() {}
func (ChannelError) event()    {}
func (PeerOnline) event()      {}
func (PeerOffline) event()     {}
func (WatchFull) event()       {}

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	case TransientDisconnect:
		return "transient-disconnect"
	case BadCredentials:
		return "bad-credentials"
	case Fatal:
		return "fatal"
	case Disconnected:
		return "disconnected"
	}
	return "unknown"
}

func (k Kind) String() string {
	switch k {
	case Privmsg:
		return "privmsg"
	case Notice:
		return "notice"
	case Action:
		return "action"
	}
	return "unknown"
}

// Joined reports a JOIN: ours (Self; the channel is then tracked, and its
// topic and Names follow) or another user's in a channel we are in.
type Joined struct {
	Channel string
	User    Source
	// Account and Realname come with extended-join; Account is empty when
	// the user is not logged in or the server does not say.
	Account, Realname string
	Self              bool
	Time              time.Time
}

// Parted reports a PART from a channel we are in; Self when we left.
type Parted struct {
	Channel string
	User    Source
	Reason  string
	Self    bool
}

// Kicked reports a KICK in a channel we are in; Self when we were kicked
// (the channel is then no longer tracked).
type Kicked struct {
	Channel string
	Nick    string // who was kicked
	By      Source
	Reason  string
	Self    bool
}

// TopicChanged reports a channel's topic: a change (TOPIC, By who set it,
// Time when), or with Current the topic as it is, reported when we join or
// ask (RPL_TOPIC/RPL_TOPICWHOTIME; By and Time as the server remembers them,
// possibly empty; an empty Topic means none is set).
type TopicChanged struct {
	Channel string
	Topic   string
	By      Source
	Time    time.Time
	Current bool
}

// ModeChanged reports channel mode changes, parsed with the server's
// PREFIX and CHANMODES, or with Current the channel's modes as the server
// reports them (RPL_CHANNELMODEIS, after RefreshModes: flags and
// parameters, no lists, no membership).
type ModeChanged struct {
	Channel string
	By      Source
	Changes []ModeChange
	Current bool
}

// Invited reports an INVITE: to us (ToMe), or with invite-notify one that
// someone else received for a channel we are in.
type Invited struct {
	By      Source
	Nick    string // who was invited
	Channel string
	ToMe    bool
}

// Names is a channel's complete member list (RPL_NAMREPLY up to
// RPL_ENDOFNAMES), sent when we join and when asked. Members holds at most
// Config.Channels.MaxMembers; Count is how many the server listed.
type Names struct {
	Channel string
	Members []Member
	Count   int
}

// WhoList is the answer to RefreshMembers: the members with their user,
// host, realname, away state and (with WHOX) account. Like Names it holds
// at most Config.Channels.MaxMembers, and Count is how many the server
// listed.
type WhoList struct {
	Channel string
	Members []Member
	Count   int
}

// AwayChanged reports that a user went away (Message set) or came back
// (away-notify, for users in a shared channel and, with extended-monitor,
// watched ones).
type AwayChanged struct {
	Nick    string
	Away    bool
	Message string
}

// AccountChanged reports a services login (Account) or logout (empty)
// (account-notify).
type AccountChanged struct {
	Nick, Account string
}

// HostChanged reports a new user name or host (CHGHOST); Self when ours.
type HostChanged struct {
	Nick, User, Host string
	Self             bool
}

// RealnameChanged reports a new realname (SETNAME).
type RealnameChanged struct {
	Nick, Realname string
}

// ChannelError is an error numeric about a channel that answered no call of
// ours (403, 404, 405, 442, 471, 473-477, 482, ...): a reply to Raw, or to a
// message Send could not wait for (no echo-message or labeled-response).
// Nick is set for errors about a member (441 not on channel).
type ChannelError struct {
	Channel, Nick, Code, Text string
}

// PeerOnline reports that a watched nick is on the network (MONITOR
// RPL_MONONLINE, or the ISON poll). User and Host are empty when the server
// does not say.
type PeerOnline struct {
	Nick, User, Host string
}

// PeerOffline reports that a watched nick is no longer on the network. The
// server does not say why: quit, disconnect, or a nick change. NewNick is
// set only when the server reported the change itself (a NICK in a shared
// channel just before): only then is it the same connection.
type PeerOffline struct {
	Nick    string
	NewNick string
}

// WatchFull reports watched nicks the server refused (MONITOR list full,
// ERR_MONLISTFULL) or that did not fit under its limit after a reconnect;
// they are no longer watched.
type WatchFull struct {
	Limit int
	Nicks []string
}
