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

// NickChanged reports a NICK change; Self is true when it is ours.
type NickChanged struct {
	Old, New string
	Self     bool
}

// Quit reports that a user left the network.
type Quit struct {
	Nick, Reason string
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

func (StateChanged) event() {}
func (Message) event()      {}
func (CTCP) event()         {}
func (NickChanged) event()  {}
func (Quit) event()         {}
func (NickRejected) event() {}
func (PeerNotice) event()   {}
func (Numeric) event()      {}

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
