package bridge

import (
	"context"
	"errors"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"

	"github.com/otrbridge/otrbridge/db"
)

// Messages a crash cut off: while a Matrix message is on its way to IRC
// the bridge keeps a record of it (IDs only, db.InflightStore), removed
// when the result is known and reported to the sender. A record that
// survives belongs to a bridge that stopped in between (a crash, a kill,
// a shutdown that did not wait): after the restart the sender is told in
// the room that the message may not have reached IRC, and its status says
// so (retriable, not failed: it may have arrived).

// errInterrupted is why a message was cut off.
var errInterrupted = errors.New("the bridge stopped while sending this message to IRC")

// inflight records that the Matrix message evt is being sent and returns
// the function that ends the record.
func (c *IRCClient) inflight(ctx context.Context, portal *bridgev2.Portal, evt *event.Event) (done func()) {
	rec := db.InflightMessage{Login: string(c.login.ID), Room: portal.MXID, Event: evt.ID, Sender: evt.Sender, Since: time.Now()}
	if err := c.ic.DB.Inflight.Begin(ctx, rec); err != nil {
		c.log.Err(err).Msg("Failed to record a message in flight")
		return func() {}
	}
	return func() {
		if err := c.ic.DB.Inflight.End(context.WithoutCancel(ctx), rec.Login, rec.Event); err != nil {
			c.log.Err(err).Msg("Failed to end the record of a message in flight")
		}
	}
}

// reportInterrupted tells the senders of the messages an earlier run of
// the bridge was sending when it stopped, and ends their records. Records
// of this run (since the connector started) are left alone.
func (c *IRCClient) reportInterrupted(ctx context.Context) {
	recs, err := c.ic.DB.Inflight.List(ctx, string(c.login.ID))
	if err != nil {
		c.log.Err(err).Msg("Failed to list messages in flight")
		return
	}
	f := failure{
		text:   errInterrupted.Error() + ", and cannot tell whether it arrived. Send it again if it matters.",
		reason: event.MessageStatusNetworkError,
		cause:  errInterrupted,
	}
	for _, r := range recs {
		if !r.Since.Before(c.ic.started) {
			continue
		}
		c.failureNotice(ctx, r.Room, r.Event, r.Sender, f)
		st := f.status()
		c.ic.Bridge.Matrix.SendMessageStatus(ctx, &st, &bridgev2.MessageStatusEventInfo{
			RoomID: r.Room, SourceEventID: r.Event, EventType: event.EventMessage, MessageType: event.MsgText, Sender: r.Sender,
		})
		if err := c.ic.DB.Inflight.End(ctx, r.Login, r.Event); err != nil {
			c.log.Err(err).Msg("Failed to end the record of a message in flight")
		}
	}
	if len(recs) > 0 {
		c.log.Info().Int("messages", len(recs)).Msg("Reported messages an earlier run was sending when it stopped")
	}
}
