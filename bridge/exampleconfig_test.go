package bridge

import (
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	up "go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
)

// TestExampleConfigFileIsCurrent keeps config.yaml.example equal to what -e writes.
func TestExampleConfigFileIsCurrent(t *testing.T) {
	want, err := (&IRCConnector{}).ExampleConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../config.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("config.yaml.example differs from the output of `otrbridge -e -c -`; regenerate it with: go run -tags goolm ./cmd/otrbridge -e -c - > config.yaml.example")
	}
}

// otrbridgeDefaults is what the tests expect of every config: the example
// and any config the upgrader wrote.
type otrbridgeDefaults struct {
	Network Config `yaml:"network"`
	Bridge  struct {
		CommandPrefix string `yaml:"command_prefix"`
		StatusNotices string `yaml:"bridge_status_notices"`
		Notices       bool   `yaml:"bridge_notices"`
	} `yaml:"bridge"`
	AppService struct {
		ID               string `yaml:"id"`
		UsernameTemplate string `yaml:"username_template"`
		Bot              struct {
			Username string `yaml:"username"`
		} `yaml:"bot"`
	} `yaml:"appservice"`
	Database   struct{ Type, URI string } `yaml:"database"`
	Encryption struct {
		Allow, Default, Appservice, MSC4190 bool
		SelfSign                            bool   `yaml:"self_sign"`
		PickleKey                           string `yaml:"pickle_key"`
	} `yaml:"encryption"`
}

func (d *otrbridgeDefaults) check(t *testing.T) {
	t.Helper()
	if e := d.Encryption; !e.Allow || !e.Default || !e.SelfSign || e.Appservice || e.MSC4190 {
		t.Errorf("encryption = %+v, want allow, default and self_sign on, appservice and msc4190 off", e)
	}
	if d.Database.Type != "sqlite3-fk-wal" || !strings.Contains(d.Database.URI, "_txlock=immediate") || !strings.Contains(d.Database.URI, "_stmt_cache_size=") {
		t.Errorf("database = %+v, want sqlite3-fk-wal with _txlock=immediate and a statement cache", d.Database)
	}
	if d.Bridge.CommandPrefix != "!otr" || d.Bridge.StatusNotices != "all" || !d.Bridge.Notices {
		t.Errorf("bridge = %+v, want prefix !otr, status notices all, notices bridged", d.Bridge)
	}
	if a := d.AppService; a.ID != "otrbridge" || a.Bot.Username != "otrbot" || a.UsernameTemplate != "otrirc_{{.}}" {
		t.Errorf("appservice = %+v, want id otrbridge, bot otrbot, ghosts otrirc_{{.}}", a)
	}
}

// TestExampleConfigDefaults checks the defaults otrbridge changes in mautrix's example.
func TestExampleConfigDefaults(t *testing.T) {
	out, err := (&IRCConnector{}).ExampleConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var cfg otrbridgeDefaults
	if err := yaml.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.check(t)
	if n := cfg.Network.Networks["libera"]; n == nil || !n.UseTLS() || n.Port != 6697 {
		t.Errorf("example network = %+v, want libera with TLS on port 6697", n)
	}
	if cfg.Network.HomeserverMayReadMessages {
		t.Error("the example consents to running without encryption")
	}
	cfg.Network.Secret = strings.Repeat("x", 32) // the upgrader generates it on first start
	if err := cfg.Network.Validate(); err != nil {
		t.Errorf("example network section does not validate: %v", err)
	}
}

// upgrade runs a config file through the upgraders the way mxmain chains
// them (getConfigUpgrader): mautrix's example as the base, the network
// section's upgrader behind a ProxyUpgrader, then mautrix's own.
func upgrade(t *testing.T, file string) []byte {
	t.Helper()
	ic := &IRCConnector{}
	base, err := ic.mautrixExampleConfig()
	if err != nil {
		t.Fatal(err)
	}
	_, _, networkUpgrader := ic.GetConfig()
	upgrader := up.MergeUpgraders(base, &up.ProxyUpgrader{Target: networkUpgrader, Prefix: []string{"network"}}, bridgeconfig.Upgrader)
	out, err := up.DoBytes([]byte(file), upgrader)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A config without `encryption:` (or appservice, database, bridge keys),
// as an admin or a deployment tool writes it, gets otrbridge's defaults
// from the upgrader, not mautrix's; values the file sets are kept.
func TestUpgraderAppliesDefaults(t *testing.T) {
	minimal := "homeserver:\n  address: http://hs:8008\n  domain: example.org\nnetwork:\n  networks:\n    libera: {address: irc.libera.chat}\n"
	var cfg otrbridgeDefaults
	if err := yaml.Unmarshal(upgrade(t, minimal), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.check(t)
	if len(cfg.Encryption.PickleKey) < 32 || len(cfg.Network.Secret) < 32 {
		t.Errorf("secrets not generated: pickle key %d, network secret %d bytes", len(cfg.Encryption.PickleKey), len(cfg.Network.Secret))
	}

	// An existing installation keeps what its file says.
	old := minimal + "appservice:\n  id: irc\n  bot: {username: ircbot}\n  username_template: irc_{{.}}\nencryption:\n  allow: true\n  default: false\n"
	cfg = otrbridgeDefaults{}
	if err := yaml.Unmarshal(upgrade(t, old), &cfg); err != nil {
		t.Fatal(err)
	}
	if a := cfg.AppService; a.ID != "irc" || a.Bot.Username != "ircbot" || a.UsernameTemplate != "irc_{{.}}" {
		t.Errorf("existing namespace not kept: %+v", a)
	}
	if !cfg.Encryption.Allow || cfg.Encryption.Default {
		t.Errorf("explicit encryption settings not kept: %+v", cfg.Encryption)
	}
}

// If mxmain stopped handing the network upgrader the whole config, the
// upgrader must fail loudly rather than leave mautrix's defaults.
func TestUpgraderWithoutRootFails(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("upgradeConfig ran on a helper without the whole config")
		}
	}()
	var base, cfg yaml.Node
	_ = yaml.Unmarshal([]byte(ExampleConfig), &base)
	_ = yaml.Unmarshal([]byte("networks: {}"), &cfg)
	upgradeConfig(up.NewHelper(&base, &cfg))
}

func TestCheckEncryption(t *testing.T) {
	log := zerolog.Nop()
	on := bridgeconfig.EncryptionConfig{Allow: true, Default: true}
	for _, tc := range []struct {
		enc     bridgeconfig.EncryptionConfig
		consent bool
		ok      bool
	}{
		{on, false, true},
		{bridgeconfig.EncryptionConfig{Allow: true}, false, false},
		{bridgeconfig.EncryptionConfig{Default: true}, false, false},
		{bridgeconfig.EncryptionConfig{}, false, false},
		{bridgeconfig.EncryptionConfig{}, true, true},
		{bridgeconfig.EncryptionConfig{Allow: true}, true, true},
	} {
		ic := &IRCConnector{Config: Config{HomeserverMayReadMessages: tc.consent}}
		err := ic.CheckEncryption(log, tc.enc)
		if (err == nil) != tc.ok {
			t.Errorf("allow %v default %v consent %v: %v", tc.enc.Allow, tc.enc.Default, tc.consent, err)
		}
		if err != nil && !strings.Contains(err.Error(), "homeserver_may_read_messages") {
			t.Errorf("the refusal does not name the opt-out key: %v", err)
		}
	}
}
