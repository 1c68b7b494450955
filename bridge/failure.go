package bridge

import (
	"context"
	"errors"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// A Matrix message that did not (or may not) reach IRC is explained to its
// sender in a notice that replies to it, sent like every bridge notice:
// encrypted in an encrypted room. The explanation names the peer and may
// quote the IRC server, so it never goes into bridgev2's own error notice
// (matrix.message_error_notices, which the connector turns off: bridgev2
// sends it unencrypted) nor into the status event (bridgev2 sends
// com.beeper.message_send_status unencrypted, in every room): the status
// carries only whether it failed for certain, a reason code and a fixed
// text.

// failure is why a Matrix message did not, or may not, reach IRC.
type failure struct {
	// text explains it to the sender; it may name the peer and quote the
	// IRC server, never the message.
	text string
	// certain: the message certainly did not arrive. Otherwise it may
	// have, and the status says so (retriable, not a permanent failure).
	certain bool
	reason  event.MessageStatusReason
	cause   error
	// what is the notice's subject; "" is "Your message".
	what string
}

// unsupported explains a message that cannot go to IRC at all.
func unsupported(err error) failure {
	return failure{text: err.Error(), certain: true, reason: event.MessageStatusUnsupported, cause: err}
}

// sendFailure explains an error of the OTR session or the IRC connection.
func sendFailure(err error) failure {
	f := failure{text: err.Error(), certain: true, reason: event.MessageStatusNetworkError, cause: err}
	var pe *ircconn.PeerError
	switch {
	case errors.As(err, &pe):
		f.text = "Not delivered: " + peerNumericText(pe.Code, pe.Target, pe.Text)
	case errors.Is(err, ircconn.ErrNotConnected):
		f.text = "Not sent: the bridge is not connected to IRC and the connection did not come back in time."
	case errors.Is(err, ircconn.ErrStopped), errors.Is(err, ircconn.ErrClosed):
		f.text = "Not sent: the IRC connection is stopped (rejected credentials, a ban, or `disconnect`); use `reconnect`."
	case errors.Is(err, ircconn.ErrConnectionLost):
		f.text = "Maybe not delivered: the IRC connection dropped before the server confirmed this message. It was not resent."
		f.certain = false
	case errors.Is(err, ircconn.ErrUnconfirmed):
		f.text = "Maybe not delivered: the IRC server did not confirm this message in time."
		f.certain = false
	case errors.Is(err, errUserDisconnected):
		f.text = "Not sent: " + errUserDisconnected.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		f.text = "Not sent: timed out waiting for the IRC connection."
	}
	return f
}

// Fixed texts of the status events.
const (
	statusNotDelivered   = "not delivered; the bridge's notice in this room says why"
	statusMaybeDelivered = "maybe not delivered; the bridge's notice in this room says why"
)

// status is what bridgev2 gets for the message: the status event and the
// message checkpoint carry its text and its internal error's text, so
// both are fixed texts; the cause stays reachable with errors.Is.
func (f failure) status() bridgev2.MessageStatus {
	st := bridgev2.MessageStatus{
		Status:      event.MessageStatusFail,
		ErrorReason: f.reason,
		Message:     statusNotDelivered,
		IsCertain:   f.certain,
	}
	if !f.certain {
		st.Status, st.Message = event.MessageStatusRetriable, statusMaybeDelivered
	}
	st.InternalError = statusCause{text: st.Message, cause: f.cause}
	return st
}

// statusCause is a status's internal error: a fixed text around the cause.
type statusCause struct {
	text  string
	cause error
}

func (e statusCause) Error() string { return e.text }
func (e statusCause) Unwrap() error { return e.cause }

// failureNotice is the notice that replies to the failed message.
func (f failure) notice(evt id.EventID) *event.MessageEventContent {
	what := f.what
	if what == "" {
		what = "Your message"
	}
	prefix := "⚠️ " + what + " was not bridged: "
	if !f.certain {
		prefix = "⚠️ " + what + " may not have been bridged: "
	}
	content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: prefix + f.text, Mentions: &event.Mentions{}}
	if evt != "" {
		content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(evt)
	}
	return content
}

// reportFailure tells the sender of evt why it failed (a notice replying
// to it in the portal) and returns the status for bridgev2.
func (c *IRCClient) reportFailure(ctx context.Context, portal *bridgev2.Portal, evt *event.Event, f failure) error {
	if portal != nil && evt != nil {
		c.failureNotice(ctx, portal.MXID, evt.ID, evt.Sender, f)
	}
	return f.status()
}

// failureNotice sends the notice about the message evt of sender in room.
func (c *IRCClient) failureNotice(ctx context.Context, room id.RoomID, evt id.EventID, sender id.UserID, f failure) {
	c.ic.failureNotice(ctx, c.log, room, evt, sender, f)
}
