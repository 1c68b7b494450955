package bridge

import (
	"errors"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
)

// errEncryptionOff refuses to start a bridge whose portals would not be
// encrypted, unless the admin consented in the config.
var errEncryptionOff = errors.New("end-to-bridge encryption is off (encryption.allow and encryption.default must both be true): " +
	"the homeserver would store every bridged message in plaintext, also those OTR protects on IRC. " +
	"Set both to true (otrbridge's default), or set network.homeserver_may_read_messages: true to run without it anyway")

// CheckEncryption decides whether the bridge may start with enc, the
// config's `encryption:` section: encryption must be allowed and on by
// default for new portals, or the admin must have set
// network.homeserver_may_read_messages, which names what they give up.
// With that consent the bridge starts and says so in the log on every
// start.
func (ic *IRCConnector) CheckEncryption(log zerolog.Logger, enc bridgeconfig.EncryptionConfig) error {
	if enc.Allow && enc.Default {
		return nil
	}
	if !ic.Config.HomeserverMayReadMessages {
		return errEncryptionOff
	}
	log.Warn().Bool("encryption_allow", enc.Allow).Bool("encryption_default", enc.Default).
		Msg("End-to-bridge encryption is off (network.homeserver_may_read_messages: true): the homeserver stores every bridged message in plaintext")
	return nil
}
