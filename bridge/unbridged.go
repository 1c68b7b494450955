package bridge

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// A message in a DM portal that no login may send goes nowhere: bridgev2
// finds no login for it and says so only in its error notice (off: it
// would be unencrypted) and in the status event (off by default). That is
// every message in the rooms of a login that logged out (the rooms stay),
// and every message of anyone but the login's owner in the room.
// watchUnbridged tells the sender, in the bridge's own notice.

// Someone in the room may keep writing: these notices are limited bridge
// wide (the messages stay unbridged either way, and the first ones said so).
const (
	unbridgedNoticeBurst = 10
	unbridgedNoticeEvery = 6 * time.Second
)

// watchUnbridged follows the messages the Matrix connector receives. Its
// handlers run one after the other for each event (appservice.Sync), so
// this one runs after bridgev2 has queued the event.
func (ic *IRCConnector) watchUnbridged() {
	mc, ok := ic.Bridge.Matrix.(*matrix.Connector)
	if !ok || mc.EventProcessor == nil {
		return
	}
	ic.unbridgedNotices = rate.NewLimiter(rate.Every(unbridgedNoticeEvery), unbridgedNoticeBurst)
	mc.EventProcessor.On(event.EventMessage, ic.checkBridgeable)
	mc.EventProcessor.On(event.EventSticker, ic.checkBridgeable)
}

// checkBridgeable sends the notice for evt if it is in a DM portal whose
// login cannot take it from its sender.
func (ic *IRCConnector) checkBridgeable(ctx context.Context, evt *event.Event) {
	br := ic.Bridge
	if evt.Sender == br.Bot.GetMXID() || br.IsGhostMXID(evt.Sender) {
		return
	}
	if u, err := br.GetExistingUserByMXID(ctx, evt.Sender); err != nil || u == nil || u.ManagementRoom == evt.RoomID {
		return
	}
	portal, err := br.GetPortalByMXID(ctx, evt.RoomID)
	if err != nil || portal == nil || portal.Receiver == "" {
		return
	}
	// Like bridgev2: a login not loaded yet (the bridge is starting) is
	// still a login.
	login, err := br.GetExistingUserLoginByID(ctx, portal.Receiver)
	if err != nil {
		return
	}
	f, ok := unbridgeable(portal, login, evt.Sender)
	if !ok {
		return
	}
	// Read only now: in these cases nothing else of the bridge changes the
	// event's content. Commands go to the command processor, notices are
	// not answered (bridgev2's rule, against loops between bots).
	if evt.Type == event.EventMessage {
		msg := evt.Content.AsMessage()
		if msg.MsgType == event.MsgNotice || strings.HasPrefix(msg.Body, br.Config.CommandPrefix) {
			return
		}
	}
	log := br.Log.With().Str("component", "unbridged").Stringer("room_id", evt.RoomID).Stringer("event_id", evt.ID).Logger()
	if !ic.unbridgedNotices.Allow() {
		log.Info().Msg("Not telling the sender that no login can bridge their message: too many such notices")
		return
	}
	log.Info().Msg("Telling the sender that no login can bridge their message")
	// Off the Matrix connector's event loop, which handles one event at a
	// time: the notice is a request to the homeserver.
	room, id, sender, bg := evt.RoomID, evt.ID, evt.Sender, br.BackgroundCtx
	goSafe(log, "unbridged notice", func() { ic.failureNotice(bg, log, room, id, sender, f) })
}

// unbridgeable says whether bridgev2 will find no login for a message of
// sender in the DM portal whose login is login (nil: it no longer exists),
// and why.
func unbridgeable(portal *bridgev2.Portal, login *bridgev2.UserLogin, sender id.UserID) (failure, bool) {
	switch {
	case login == nil:
		return failure{
			text:    "this chat belonged to an IRC login that logged out, so it no longer reaches IRC. `login` in the control room logs in again.",
			certain: true,
			reason:  event.MessageStatusNoPermission,
			cause:   bridgev2.ErrNotLoggedIn,
		}, true
	case login.UserMXID != sender && portal.Relay == nil:
		return failure{
			text:    fmt.Sprintf("this chat belongs to %s's IRC login; only they can write to IRC here.", login.UserMXID),
			certain: true,
			reason:  event.MessageStatusNoPermission,
			cause:   bridgev2.ErrNotLoggedIn,
		}, true
	}
	return failure{}, false
}
