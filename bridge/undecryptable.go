package bridge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// A Matrix event the bridge cannot decrypt goes nowhere: not to IRC, not to
// a command. bridgev2 waits for its key (3 s, then it asks the sender's
// devices and waits 22 s more) and then gives up, saying so only in its
// error notice (off: it would be unencrypted) and in the status event (off
// by default), so the sender would see a sent message and never an answer.
// decryptWatch follows every decryption bridgev2 attempts and tells the
// sender, in a notice that replies to the event, once bridgev2 has given up.

// undecryptableAfter is how long after the first attempt an event that is
// still waiting for its key counts as lost: bridgev2's 25 s and a margin.
const undecryptableAfter = 30 * time.Second

// maxUndecryptableWaiting caps the events followed at once; beyond it a
// missing key is reported at once rather than after the wait.
const maxUndecryptableWaiting = 1000

// decryptWatch wraps mautrix's end-to-bridge crypto helper. bridgev2 calls
// Decrypt for every encrypted event it receives (and again after a key
// arrived); nothing of the bridge's fetches old events through it.
type decryptWatch struct {
	matrix.Crypto
	after  time.Duration
	report func(evt *event.Event, err error)

	mu      sync.Mutex
	waiting map[id.EventID]*time.Timer
}

func newDecryptWatch(c matrix.Crypto, report func(*event.Event, error)) *decryptWatch {
	return &decryptWatch{Crypto: c, after: undecryptableAfter, report: report, waiting: make(map[id.EventID]*time.Timer)}
}

// Decrypt decrypts evt, and keeps track of events whose key is missing.
// Any error but a missing key is final for bridgev2.
func (w *decryptWatch) Decrypt(ctx context.Context, evt *event.Event) (*event.Event, error) {
	decrypted, err := w.Crypto.Decrypt(ctx, evt)
	w.mu.Lock()
	defer w.mu.Unlock()
	timer, waiting := w.waiting[evt.ID]
	switch {
	case errors.Is(err, matrix.NoSessionFound):
		if waiting {
			break
		}
		if len(w.waiting) >= maxUndecryptableWaiting {
			go w.report(evt, err)
			break
		}
		w.waiting[evt.ID] = time.AfterFunc(w.after, func() { w.giveUp(evt) })
	default:
		if waiting {
			timer.Stop()
			delete(w.waiting, evt.ID)
		}
		if err != nil {
			go w.report(evt, err)
		}
	}
	return decrypted, err
}

func (w *decryptWatch) giveUp(evt *event.Event) {
	w.mu.Lock()
	_, waiting := w.waiting[evt.ID]
	delete(w.waiting, evt.ID)
	w.mu.Unlock()
	if waiting {
		w.report(evt, matrix.NoSessionFound)
	}
}

// watchDecryption installs the watch on the Matrix connector's crypto
// helper (there is none without encryption).
func (ic *IRCConnector) watchDecryption() {
	mc, ok := ic.Bridge.Matrix.(*matrix.Connector)
	if !ok || mc.Crypto == nil {
		return
	}
	mc.Crypto = newDecryptWatch(mc.Crypto, ic.reportUndecryptable)
}

// reportUndecryptable tells the sender of evt that the bridge could not
// decrypt it.
func (ic *IRCConnector) reportUndecryptable(evt *event.Event, err error) {
	ctx := ic.Bridge.BackgroundCtx
	if ctx == nil || ctx.Err() != nil {
		return
	}
	why := "the bridge could not decrypt it."
	if errors.Is(err, matrix.NoSessionFound) {
		why = "the bridge could not decrypt it (its key never reached the bridge's device)."
	}
	f := failure{
		text: why + " Send it again; if this keeps happening, " +
			"see whether your client withholds keys from unverified devices (the bridge bot's device may be unverified).",
		certain: true,
		reason:  event.MessageStatusUndecryptable,
		cause:   err,
	}
	log := ic.Bridge.Log.With().Str("component", "crypto").Stringer("room_id", evt.RoomID).Stringer("event_id", evt.ID).Logger()
	log.Info().Msg("Telling the sender that the bridge could not decrypt their event")
	ic.failureNotice(ctx, log, evt.RoomID, evt.ID, evt.Sender, f)
}

// failureNotice sends the notice about the event evt of sender in room,
// as the bot: encrypted in an encrypted room.
func (ic *IRCConnector) failureNotice(ctx context.Context, log zerolog.Logger, room id.RoomID, evt id.EventID, sender id.UserID, f failure) {
	if room == "" {
		return
	}
	content := f.notice(evt)
	content.Mentions.UserIDs = []id.UserID{sender}
	if _, err := ic.Bridge.Bot.SendMessage(ctx, room, event.EventMessage, &event.Content{Parsed: content}, nil); err != nil {
		log.Err(err).Msg("Failed to send the notice about a message that was not bridged")
	}
}
