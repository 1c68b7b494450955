package bridge

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// With encryption.self_sign the bot cross-signs its own device at start, so
// that clients can tell the bridge's device belongs to the bot. A homeserver
// may refuse the upload of the signing keys: Dendrite 0.13.8 demands
// user-interactive authentication (a password) for it, which an appservice
// bot does not have, and answers 401. mautrix then ends the bridge (exit
// code 34), on that start and on every later one. Cross-signing is about
// how clients display the bot's device, not about what is encrypted, so
// selfSignGuard keeps the bridge running with an uncross-signed device, and
// the admins are told once.

// exitSelfSignFailed is the code mautrix's crypto Init returns when the
// self-signing step, its last required one, failed.
const exitSelfSignFailed = 34

// kvSelfSignNoticeSent records that the admins were told.
const kvSelfSignNoticeSent database.Key = "otrbridge_self_sign_failed_notice_sent"

// selfSignGuard wraps mautrix's end-to-bridge crypto helper.
type selfSignGuard struct {
	matrix.Crypto
	appserviceMode bool
	log            zerolog.Logger
	failed         atomic.Bool
}

// guardSelfSign installs the guard on the Matrix connector's crypto helper
// when the config asks for self-signing.
func (ic *IRCConnector) guardSelfSign() {
	mc, ok := ic.Bridge.Matrix.(*matrix.Connector)
	if !ok || mc.Crypto == nil || !mc.Config.Encryption.SelfSign {
		return
	}
	ic.selfSign = &selfSignGuard{
		Crypto:         mc.Crypto,
		appserviceMode: mc.Config.Encryption.Appservice,
		log:            ic.Bridge.Log.With().Str("component", "crypto").Logger(),
	}
	mc.Crypto = ic.selfSign
}

func (g *selfSignGuard) Init(ctx context.Context) error {
	err := g.Crypto.Init(ctx)
	var exit matrix.ExitError
	if !errors.As(err, &exit) || exit.ExitCode != exitSelfSignFailed {
		return err
	}
	if g.appserviceMode {
		// mautrix sets up the appservice-mode listeners after the
		// self-signing step: without them encryption would not work.
		g.log.WithLevel(zerolog.FatalLevel).Msg("Cross-signing the bridge bot's device failed (see above); with encryption.appservice the bridge cannot run on without it: set encryption.self_sign: false")
		return err
	}
	g.failed.Store(true)
	g.log.Warn().Msg("Cross-signing the bridge bot's device failed (see the error above): the bridge runs on with an uncross-signed device. " +
		"Dendrite refuses the signing keys of an appservice bot; set encryption.self_sign: false to stop trying")
	return nil
}

// selfSignNotice is what the admins read once.
const selfSignNotice = "⚠️ The bridge bot's device could not be cross-signed: the homeserver refused to store its " +
	"cross-signing keys (Dendrite asks for a password, which an appservice bot does not have). " +
	"The bridge works and end-to-bridge encryption is unaffected, but Element marks the bot's device as " +
	"not verified by its owner, and may withhold room keys from it if users turn on \"exclude insecure devices\". " +
	"Set `encryption.self_sign: false` in the config to stop trying; see docs/setup.md, \"Cross-signing\"."

// tellAdminsSelfSignFailed sends selfSignNotice to the control room of
// every admin named by user ID in bridge.permissions, once per database.
func (ic *IRCConnector) tellAdminsSelfSignFailed(ctx context.Context) {
	if ic.selfSign == nil || !ic.selfSign.failed.Load() {
		return
	}
	kv := ic.Bridge.DB.KV
	if kv.Get(ctx, kvSelfSignNoticeSent) != "" {
		return
	}
	log := ic.Bridge.Log.With().Str("action", "self-sign notice").Logger()
	var admins []id.UserID
	for key, perm := range ic.Bridge.Config.Permissions {
		if perm != nil && perm.Admin && strings.HasPrefix(key, "@") {
			admins = append(admins, id.UserID(key))
		}
	}
	slices.Sort(admins)
	told := 0
	for _, mxid := range admins {
		user, err := ic.Bridge.GetUserByMXID(ctx, mxid)
		if err != nil {
			log.Err(err).Stringer("user_id", mxid).Msg("Failed to load an admin")
			continue
		}
		room, err := user.GetManagementRoom(ctx)
		if err != nil {
			log.Err(err).Stringer("user_id", mxid).Msg("Failed to open an admin's control room")
			continue
		}
		content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: selfSignNotice}
		if _, err := ic.Bridge.Bot.SendMessage(ctx, room, event.EventMessage, &event.Content{Parsed: content}, nil); err != nil {
			log.Err(err).Stringer("user_id", mxid).Msg("Failed to tell an admin")
			continue
		}
		told++
	}
	if told > 0 {
		kv.Set(ctx, kvSelfSignNoticeSent, "true")
	} else {
		log.Warn().Msg("No admin (a user ID with admin permission in bridge.permissions) could be told that cross-signing failed")
	}
}
