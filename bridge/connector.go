// Package bridge is the mautrix bridgev2 network connector for IRC direct
// messages: config, login flow, one IRC connection per (Matrix user,
// network), DM portals and ghosts, formatting, commands, and everything the
// Matrix user sees of OTR (notices, topic, unencrypted marker, `!otr`
// commands). The OTR sessions themselves are kept by bridge/otrsession, one
// manager per login.
package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mau.fi/util/configupgrade"
	"golang.org/x/time/rate"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/otrsession"
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
	// started is when this run of the bridge began (inflight.go).
	started time.Time

	// selfSign keeps the bridge running where the homeserver refuses the
	// bot's cross-signing keys (nil without encryption.self_sign).
	selfSign *selfSignGuard

	// pendingCerts are client certificates shown during a login that is
	// not saved yet.
	pendingCerts pendingCerts
	// metrics counts for Prometheus; nil with network.metrics off.
	metrics *bridgeMetrics

	// channels are the channel rooms and who is in them.
	channels *channelHub

	// newConn opens the IRC connection of a login; tests replace it.
	newConn func(c *IRCClient) (ircConn, error)
	// chatOpeners holds a slot per room or ghost being created for an IRC
	// peer (newpeers.go).
	chatOpeners chan struct{}

	// passwordKey seals IRC passwords, otrKey OTR private keys, certKey
	// the private keys of CertFP client certificates; sealKeys derives
	// them from network.secret.
	keysOnce    sync.Once
	keysErr     error
	passwordKey *seal.Key
	otrKey      *seal.Key
	certKey     *seal.Key
	// unbridgedNotices limits the notices about messages no login may
	// send (unbridged.go).
	unbridgedNotices *rate.Limiter
}

var (
	_ bridgev2.NetworkConnector            = (*IRCConnector)(nil)
	_ bridgev2.ConfigValidatingNetwork     = (*IRCConnector)(nil)
	_ bridgev2.IdentifierValidatingNetwork = (*IRCConnector)(nil)
	_ bridgev2.StoppableNetwork            = (*IRCConnector)(nil)
)

// sealPurposePassword labels the key that encrypts IRC passwords at rest,
// sealPurposeClientCert the one for CertFP client certificates.
const (
	sealPurposePassword   = "otrbridge irc password v1"
	sealPurposeClientCert = "otrbridge irc client certificate v1"
)

func (ic *IRCConnector) Init(br *bridgev2.Bridge) {
	ic.Bridge = br
	ic.started = time.Now()
	// bridgev2's error notices are sent unencrypted even into encrypted
	// rooms; the connector sends its own (failure.go).
	if mc, ok := br.Matrix.(*matrix.Connector); ok && mc.Config.Matrix.MessageErrorNotices {
		mc.Config.Matrix.MessageErrorNotices = false
		br.Log.Info().Msg("matrix.message_error_notices is turned off: bridgev2 would send them unencrypted; otrbridge sends its own notices")
	}
	ic.DB = db.New(br.DB.Database, br.Log.With().Str("db_section", "otrbridge").Logger())
	if ic.newConn == nil {
		ic.newConn = dialIRC
	}
	ic.chatOpeners = make(chan struct{}, chatOpeners)
	ic.guardSelfSign()
	ic.watchDecryption()
	ic.watchUnbridged()
	if ic.Config.Metrics.Enabled {
		ic.metrics = newBridgeMetrics(ic)
	}
	ic.channels = newChannelHub(ic)
	// Leaving a channel's room parts the channel: bridgev2 must pass leaves on.
	br.Config.BridgeMatrixLeave = true
	if proc, ok := br.Commands.(*commands.Processor); ok {
		proc.AddHandlers(ircCommands()...)
		proc.AddHandlers(requestCommands()...)
		proc.AddHandlers(otrCommands()...)
		proc.AddHandlers(channelCommands()...)
	}
}

func (ic *IRCConnector) Start(ctx context.Context) error {
	if err := ic.sealKeys(); err != nil {
		return err
	}
	if err := ic.DB.Upgrade(ctx); err != nil {
		return bridgev2.DBUpgradeError{Err: err, Section: "otrbridge"}
	}
	if ic.metrics != nil {
		err := ic.metrics.serve(ic.Config.Metrics.Listen, func(err error) {
			ic.Bridge.Log.Err(err).Msg("The metrics server stopped")
		})
		if err != nil {
			return err
		}
	}
	go ic.tellAdminsSelfSignFailed(ic.Bridge.BackgroundCtx)
	return nil
}

// Stop ends the metrics server (bridgev2.StoppableNetwork).
func (ic *IRCConnector) Stop() {
	ic.metrics.stop()
}

// sealKeys derives the keys that encrypt IRC passwords and OTR private keys
// at rest, once: in Start, or for a login that bridgev2 loads before Start
// (a Matrix event can arrive while the connectors start).
func (ic *IRCConnector) sealKeys() error {
	ic.keysOnce.Do(func() {
		if ic.passwordKey, ic.keysErr = seal.NewKey(ic.Config.Secret, sealPurposePassword); ic.keysErr != nil {
			return
		}
		if ic.otrKey, ic.keysErr = seal.NewKey(ic.Config.Secret, otrsession.SealPurpose); ic.keysErr != nil {
			return
		}
		ic.certKey, ic.keysErr = seal.NewKey(ic.Config.Secret, sealPurposeClientCert)
	})
	if ic.keysErr != nil {
		return fmt.Errorf("network.secret: %w", ic.keysErr)
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
		Message:   func() any { return &MessageMetadata{} },
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
	if err := ic.sealKeys(); err != nil {
		return err
	}
	c, err := newIRCClient(ic, login, meta)
	if err != nil {
		return err
	}
	login.Client = c
	ensureInPortalCache(login)
	return nil
}

// PortalMetadata is stored with every portal. Its peer fields (Nick,
// UserHost) are read and written only through its methods: the IRC event
// loop moves Nick at a rename while bridgev2's portal loop saves it.
type PortalMetadata struct {
	// mu guards Nick and UserHost, and the metadata while it is encoded.
	mu sync.Mutex
	// Nick is the peer's current nick (original case). It differs from the
	// nick in the portal ID after the peer changed nick.
	Nick string `json:"nick,omitempty"`
	// UserHost is the peer's last seen "user@host": after the peer left,
	// a user with the same one may be suggested, never followed
	// (nickwatch.go).
	UserHost string `json:"userhost,omitempty"`
	// BanMasks are, in a channel room, the IRC ban masks the bridge set
	// for Matrix bans, by banned Matrix user. The unban lifts exactly that
	// mask: by then the member has left the channel and their host is no
	// longer known.
	BanMasks map[id.UserID]string `json:"ban_masks,omitempty"`
}

// MarshalJSON encodes the metadata under its lock, so that a save on the
// portal loop and a rename on the IRC event loop do not race.
func (m *PortalMetadata) MarshalJSON() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	type fields PortalMetadata // without this method
	return json.Marshal((*fields)(m))
}

// peerNick is the peer's current nick, "" if none was recorded.
func (m *PortalMetadata) peerNick() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Nick
}

// peer is the peer's current nick and last seen user@host.
func (m *PortalMetadata) peer() (nick, userHost string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Nick, m.UserHost
}

// renamed records the peer's nick after a rename the server reported for
// this connection (or the user's `follow`): the only way the nick of a
// portal moves to another nick.
func (m *PortalMetadata) renamed(nick string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Nick = nick
}

// seen records what a message or a new chat shows of the peer: it fills
// an empty nick, updates the case of the current one and its user@host
// (when known, the one sent with this nick), and reports whether anything
// changed. A message that names another nick was queued before a rename
// and never moves the nick back: someone else may have that nick now.
func (m *PortalMetadata) seen(nick, userHost string, fold func(string) string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	switch {
	case m.Nick == "":
		m.Nick, changed = nick, true
	case fold(m.Nick) != fold(nick):
		return false
	case m.Nick != nick:
		m.Nick, changed = nick, true
	}
	if userHost != "" && !strings.HasPrefix(userHost, "@") && !strings.HasSuffix(userHost, "@") && m.UserHost != userHost {
		m.UserHost, changed = userHost, true
	}
	return changed
}

// portalNick is the current nick of a DM portal's peer, "" if none was
// recorded.
func portalNick(portal *bridgev2.Portal) string {
	if meta, ok := portal.Metadata.(*PortalMetadata); ok {
		return meta.peerNick()
	}
	return ""
}

// GhostMetadata is stored with every ghost.
type GhostMetadata struct {
	// Nick is the last nick (original case) seen for this ghost.
	Nick string `json:"nick,omitempty"`
}

// LoginMetadata is stored with every login. Passwords and the client
// certificate are sealed with keys derived from network.secret, bound to
// the login ID; the database alone never yields them.
type LoginMetadata struct {
	Network string `json:"network"`
	Nick    string `json:"nick"`
	// Auth is "", "sasl", "nickserv" or "certfp" (SASL EXTERNAL).
	Auth        string `json:"auth,omitempty"`
	SASLAccount string `json:"sasl_account,omitempty"`
	Password    string `json:"password_sealed,omitempty"`
	// ServerPassword is the user's own server password (PASS), where the
	// network asks every user for one (a bouncer).
	ServerPassword string `json:"server_password_sealed,omitempty"`
	// ClientCert is the login's CertFP certificate and private key (PEM),
	// presented on every TLS connection once it exists.
	ClientCert string `json:"client_cert_sealed,omitempty"`
	// Disconnected is set by the `disconnect` command: the login stays
	// offline, also across restarts, until `reconnect`.
	Disconnected bool `json:"disconnected,omitempty"`
}
