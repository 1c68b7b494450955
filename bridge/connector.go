// Package bridge is the mautrix bridgev2 network connector for IRC direct
// messages: config, login flow, one IRC connection per (Matrix user,
// network), DM portals and ghosts, formatting, commands, and the seam where
// the OTR engine plugs in (otrglue.go).
package bridge

import (
	"context"
	"fmt"

	"go.mau.fi/util/configupgrade"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/internal/seal"
)

// IRCConnector implements bridgev2.NetworkConnector.
type IRCConnector struct {
	Bridge *bridgev2.Bridge
	Config Config
	// DB holds otrbridge's own tables (OTR identities, trust, policies),
	// upgraded in Start.
	DB *db.Database

	// NewFilter makes the message filter of one login (see otrglue.go). Nil
	// means pass-through; the OTR glue sets it before the bridge starts.
	NewFilter func(c *IRCClient) MessageFilter

	// newConn opens the IRC connection of a login; tests replace it.
	newConn func(c *IRCClient) (ircConn, error)

	passwordKey *seal.Key
}

var (
	_ bridgev2.NetworkConnector            = (*IRCConnector)(nil)
	_ bridgev2.ConfigValidatingNetwork     = (*IRCConnector)(nil)
	_ bridgev2.IdentifierValidatingNetwork = (*IRCConnector)(nil)
)

// sealPurposePassword labels the key that encrypts IRC passwords at rest.
const sealPurposePassword = "otrbridge irc password v1"

func (ic *IRCConnector) Init(br *bridgev2.Bridge) {
	ic.Bridge = br
	ic.DB = db.New(br.DB.Database, br.Log.With().Str("db_section", "otrbridge").Logger())
	if ic.newConn == nil {
		ic.newConn = dialIRC
	}
	if proc, ok := br.Commands.(*commands.Processor); ok {
		proc.AddHandlers(ircCommands()...)
	}
}

func (ic *IRCConnector) Start(ctx context.Context) error {
	key, err := seal.NewKey(ic.Config.Secret, sealPurposePassword)
	if err != nil {
		return fmt.Errorf("network.secret: %w", err)
	}
	ic.passwordKey = key
	if err := ic.DB.Upgrade(ctx); err != nil {
		return bridgev2.DBUpgradeError{Err: err, Section: "otrbridge"}
	}
	return nil
}

func (ic *IRCConnector) ValidateConfig() error { return ic.Config.Validate() }

func (ic *IRCConnector) GetName() bridgev2.BridgeName {
	return bridgev2.BridgeName{
		DisplayName:          "IRC (OTR)",
		NetworkURL:           "https://github.com/otrbridge/otrbridge",
		NetworkID:            "irc",
		BeeperBridgeType:     "github.com/otrbridge/otrbridge",
		DefaultPort:          29340,
		DefaultCommandPrefix: "!otr",
	}
}

func (ic *IRCConnector) GetConfig() (string, any, configupgrade.Upgrader) {
	return ExampleConfig, &ic.Config, configupgrade.SimpleUpgrader(upgradeConfig)
}

func (ic *IRCConnector) GetDBMetaTypes() database.MetaTypes {
	return database.MetaTypes{
		Portal:    func() any { return &PortalMetadata{} },
		Ghost:     func() any { return &GhostMetadata{} },
		Message:   nil,
		Reaction:  nil,
		UserLogin: func() any { return &LoginMetadata{} },
	}
}

func (ic *IRCConnector) GetCapabilities() *bridgev2.NetworkGeneralCapabilities {
	return &bridgev2.NetworkGeneralCapabilities{
		Provisioning: bridgev2.ProvisioningCapabilities{
			ResolveIdentifier: bridgev2.ResolveIdentifierCapabilities{
				CreateDM:       true,
				LookupUsername: true,
			},
		},
	}
}

func (ic *IRCConnector) GetBridgeInfoVersion() (info, capabilities int) { return 1, 1 }

// ValidateUserID accepts ghost IDs of configured networks only, so invites
// to made-up ghosts are refused before anything is created.
func (ic *IRCConnector) ValidateUserID(uid networkid.UserID) bool {
	network, _, ok := parseUserID(uid)
	return ok && ic.Config.Networks[network] != nil
}

func (ic *IRCConnector) LoadUserLogin(ctx context.Context, login *bridgev2.UserLogin) error {
	meta, ok := login.Metadata.(*LoginMetadata)
	if !ok || meta.Network == "" {
		return fmt.Errorf("login %s has no IRC metadata", login.ID)
	}
	login.Client = newIRCClient(ic, login, meta)
	return nil
}

// PortalMetadata is stored with every DM portal.
type PortalMetadata struct {
	// Nick is the peer's current nick (original case). It differs from the
	// nick in the portal ID after the peer changed nick.
	Nick string `json:"nick,omitempty"`
	// UserHost is the peer's last seen "user@host", used to find the peer
	// again after a nick change we did not see (nickwatch.go).
	UserHost string `json:"userhost,omitempty"`
}

// GhostMetadata is stored with every ghost.
type GhostMetadata struct {
	// Nick is the last nick (original case) seen for this ghost.
	Nick string `json:"nick,omitempty"`
}

// LoginMetadata is stored with every login. The password is sealed with a
// key derived from network.secret; the database alone never yields it.
type LoginMetadata struct {
	Network string `json:"network"`
	Nick    string `json:"nick"`
	// Auth is "", "sasl" or "nickserv".
	Auth        string `json:"auth,omitempty"`
	SASLAccount string `json:"sasl_account,omitempty"`
	Password    string `json:"password_sealed,omitempty"`
	// Disconnected is set by the `disconnect` command: the login stays
	// offline, also across restarts, until `reconnect`.
	Disconnected bool `json:"disconnected,omitempty"`
}
