package bridge

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func validConfig(t *testing.T) *Config {
	t.Helper()
	var c Config
	if err := yaml.Unmarshal([]byte(ExampleConfig), &c); err != nil {
		t.Fatal(err)
	}
	c.Secret = strings.Repeat("s", 32)
	return &c
}

func TestExampleNetworkConfigValidates(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	n := c.Networks["libera"]
	if !n.UseTLS() || n.TLSInsecureSkipVerify || n.FragmentSize() != 400 || n.Flood.Burst != 4 || n.Flood.Rate != 1 {
		t.Errorf("unexpected example network: %+v", n)
	}
	if got := c.Policy("libera"); got != "manual" {
		t.Errorf("Policy = %q", got)
	}
}

func TestHoldTimeout(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil || c.OTR.Hold() != 60*time.Second {
		t.Fatalf("example hold timeout: %v, %v; want 60s", c.OTR.Hold(), err)
	}
	c.OTR.HoldTimeout = "15s"
	if err := c.Validate(); err != nil || c.OTR.Hold() != 15*time.Second {
		t.Fatalf("hold_timeout 15s: %v, %v", c.OTR.Hold(), err)
	}
}

func TestConfigValidateRejects(t *testing.T) {
	for name, mutate := range map[string]func(c *Config){
		"no networks":      func(c *Config) { c.Networks = nil },
		"bad key":          func(c *Config) { c.Networks["Libera Chat"] = c.Networks["libera"] },
		"no address":       func(c *Config) { c.Networks["libera"].Address = "" },
		"address with url": func(c *Config) { c.Networks["libera"].Address = "irc://x/y" },
		"bad port":         func(c *Config) { c.Networks["libera"].Port = 70000 },
		"password newline": func(c *Config) { c.Networks["libera"].ServerPassword = "a\r\nQUIT" },
		"tiny line":        func(c *Config) { c.Networks["libera"].MaxLineBytes = 10 },
		"tiny fragment":    func(c *Config) { c.Networks["libera"].MaxFragmentSize = 20 },
		"negative flood":   func(c *Config) { c.Networks["libera"].Flood.Rate = -1 },
		"bad policy":       func(c *Config) { c.Networks["libera"].OTRPolicy = "sometimes" },
		"bad default":      func(c *Config) { c.OTR.DefaultPolicy = "" },
		"short secret":     func(c *Config) { c.Secret = "short" },
		"bad hold timeout": func(c *Config) { c.OTR.HoldTimeout = "sixty" },
		"zero hold":        func(c *Config) { c.OTR.HoldTimeout = "0s" },
		"generate secret":  func(c *Config) { c.Secret = "generate" },
		"bad template":     func(c *Config) { c.DisplaynameTemplate = "{{.Nick" },
		"unknown field":    func(c *Config) { c.DisplaynameTemplate = "{{.Account}}" },
	} {
		c := validConfig(t)
		mutate(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil, want error", name)
		}
	}
}

func TestTLSDefaultsOn(t *testing.T) {
	var c Config
	if err := yaml.Unmarshal([]byte("networks:\n    test:\n        address: 127.0.0.1\n"), &c); err != nil {
		t.Fatal(err)
	}
	if !c.Networks["test"].UseTLS() {
		t.Error("TLS must default to on when `tls` is not set")
	}
	if err := yaml.Unmarshal([]byte("networks:\n    test:\n        address: 127.0.0.1\n        tls: false\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Networks["test"].UseTLS() {
		t.Error("tls: false must turn TLS off")
	}
}

func TestFormatDisplayname(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.FormatDisplayname("libera", "Bob"); got != "Bob (Libera.Chat)" {
		t.Errorf("FormatDisplayname = %q", got)
	}
	c.DisplaynameTemplate = "{{.Network}}/{{.Nick}}"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.FormatDisplayname("libera", "Bob"); got != "libera/Bob" {
		t.Errorf("FormatDisplayname = %q", got)
	}
	c.DisplaynameTemplate = "{{if false}}x{{end}}"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.FormatDisplayname("libera", "Bob"); got != "Bob" {
		t.Errorf("empty template result must fall back to the nick, got %q", got)
	}
}

func TestIsService(t *testing.T) {
	c := validConfig(t)
	for nick, want := range map[string]bool{"NickServ": true, "nickserv": true, "FooServ": true, "Global": true, "bob": false, "Servant": false} {
		if got := c.IsService(nick); got != want {
			t.Errorf("IsService(%q) = %v, want %v", nick, got, want)
		}
	}
}
