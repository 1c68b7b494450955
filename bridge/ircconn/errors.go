package ircconn

import (
	"errors"
	"fmt"
)

var (
	// ErrNotConnected: the message waited Config.QueueTimeout (or its
	// context) for a connection and none came; nothing was sent.
	ErrNotConnected = errors.New("ircconn: not connected")
	// ErrStopped: the connection is in a terminal state (Disconnected,
	// BadCredentials, Fatal) and will not come back without Reconnect;
	// nothing was sent.
	ErrStopped = errors.New("ircconn: connection stopped")
	// ErrConnectionLost: the connection dropped after the message (or part
	// of it) was written and before the server confirmed it; it may or may
	// not have been delivered and is not resent.
	ErrConnectionLost = errors.New("ircconn: connection lost before the server confirmed the message")
	// ErrUnconfirmed: the server offered confirmation but did not confirm
	// within Config.ConfirmTimeout.
	ErrUnconfirmed = errors.New("ircconn: server did not confirm the message in time")
	// ErrBadLine: a line is empty or contains CR, LF or NUL.
	ErrBadLine = errors.New("ircconn: line is empty or contains CR, LF or NUL")
	// ErrLineTooLong: a line does not fit in LineBudget; nothing was sent.
	ErrLineTooLong = errors.New("ircconn: line longer than the IRC line budget")
	// ErrBadTarget: the target is empty or contains a space, comma or control character.
	ErrBadTarget = errors.New("ircconn: invalid target")
	// ErrDropped: an automatic message (SendOptions.Automatic) was not sent:
	// over the Config.AutoReplies budget, or not started before its
	// StaleAfter. Nothing of it was written.
	ErrDropped = errors.New("ircconn: automatic message dropped")
	// ErrBadChannel: a channel name is empty, too long (CHANNELLEN), does
	// not start with one of the server's CHANTYPES, or contains a space,
	// comma, colon or control character; nothing was sent.
	ErrBadChannel = errors.New("ircconn: invalid channel name")
	// ErrBadKey: a channel key is too long (KEYLEN) or contains a space,
	// comma or control character; nothing was sent.
	ErrBadKey = errors.New("ircconn: invalid channel key")
	// ErrBadMode: a mode change the server does not know, or with a missing,
	// surplus or invalid parameter; nothing was sent.
	ErrBadMode = errors.New("ircconn: invalid mode change")
	// ErrTooManyChannels: joining would exceed Config.Channels.MaxChannels;
	// nothing was sent.
	ErrTooManyChannels = errors.New("ircconn: too many channels")
	// ErrNotJoined: the server answered a JOIN with neither the JOIN nor an
	// error (e.g. it forwarded us elsewhere without saying why).
	ErrNotJoined = errors.New("ircconn: the server did not join us to the channel")
	// ErrWatchFull: Watch would exceed Config.Presence.MaxWatched or the
	// server's MONITOR limit; no nick was added.
	ErrWatchFull = errors.New("ircconn: watch list full")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("ircconn: closed")
)

// PeerError is an error numeric the server sent about a target (401 no such
// nick, 404 cannot send, 477/486 registered users only, 531/716 blocked...).
type PeerError struct {
	Target string
	Code   string
	// Text is the server's explanation (server-written, not message text).
	Text string
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("ircconn: %s %s: %s", e.Code, e.Target, e.Text)
}

// fatalError marks errors after which reconnecting is pointless.
type fatalError struct {
	state State
	err   error
}

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }
