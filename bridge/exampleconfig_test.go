package bridge

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
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

// TestExampleConfigDefaults checks the defaults otrbridge changes in mautrix's example.
func TestExampleConfigDefaults(t *testing.T) {
	out, err := (&IRCConnector{}).ExampleConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Network Config `yaml:"network"`
		Bridge  struct {
			CommandPrefix string `yaml:"command_prefix"`
			StatusNotices string `yaml:"bridge_status_notices"`
		} `yaml:"bridge"`
		Database   struct{ Type, URI string }                         `yaml:"database"`
		Encryption struct{ Allow, Default, Appservice, MSC4190 bool } `yaml:"encryption"`
	}
	if err := yaml.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.Encryption.Allow || !cfg.Encryption.Default || cfg.Encryption.Appservice || cfg.Encryption.MSC4190 {
		t.Errorf("encryption defaults = %+v, want allow+default on, appservice+msc4190 off", cfg.Encryption)
	}
	if cfg.Database.Type != "sqlite3-fk-wal" || !strings.Contains(cfg.Database.URI, "_txlock=immediate") {
		t.Errorf("database = %+v, want sqlite3-fk-wal with _txlock=immediate", cfg.Database)
	}
	if cfg.Bridge.CommandPrefix != "!otr" || cfg.Bridge.StatusNotices != "all" {
		t.Errorf("bridge = %+v, want prefix !otr and status notices all", cfg.Bridge)
	}
	if n := cfg.Network.Networks["libera"]; n == nil || !n.UseTLS() || n.Port != 6697 {
		t.Errorf("example network = %+v, want libera with TLS on port 6697", n)
	}
	cfg.Network.Secret = strings.Repeat("x", 32) // the upgrader generates it on first start
	if err := cfg.Network.Validate(); err != nil {
		t.Errorf("example network section does not validate: %v", err)
	}
}
