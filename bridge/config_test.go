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
	if !n.UseTLS() || n.TLSInsecureSkipVerify || n.MaxFragmentSize != 400 || n.Flood.Burst != 4 || n.Flood.Rate != 1 {
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
		"negative peers":   func(c *Config) { c.Limits.NewPeers = -1 },
		"tiny window":      func(c *Config) { c.Limits.NewPeersWindow = "10s" },
		"bad window":       func(c *Config) { c.Limits.NewPeersWindow = "hourly" },
		"negative replies": func(c *Config) { c.Limits.AutoReplies.Rate = -0.5 },
	} {
		c := validConfig(t)
		mutate(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil, want error", name)
		}
	}
}

// The limits' example values are the defaults, and zero values mean them.
func TestLimitsDefaults(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if n, w := c.Limits.NewPeerBudget(); n != 10 || w != time.Hour || c.Limits.MessageRequests {
		t.Errorf("example limits: %d per %s, requests %v", n, w, c.Limits.MessageRequests)
	}
	if a := c.Limits.autoReplyConfig(); a.Burst != 20 || a.Rate != 0.5 {
		t.Errorf("example auto replies: %+v", a)
	}
	c.Limits = LimitsConfig{NewPeersWindow: "30m"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if n, w := c.Limits.NewPeerBudget(); n != defaultNewPeers || w != 30*time.Minute {
		t.Errorf("zero new_peers with a 30m window: %d per %s", n, w)
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
	for nick, want := range map[string]bool{"NickServ": true, "nickserv": true, "FooServ": false, "erinserv": false, "Global": true, "bob": false, "Servant": false} {
		if got := c.IsService(nick); got != want {
			t.Errorf("IsService(%q) = %v, want %v", nick, got, want)
		}
	}
}

// `address: host:port` (as mautrix-irc writes it) is split into address and
// port at start; a conflicting `port:` is refused instead of failing every
// connection later.
func TestAddressWithPort(t *testing.T) {
	for _, tc := range []struct {
		address    string
		port       int
		wantHost   string
		wantPort   int
		wantErrSub string
	}{
		{"irc.libera.chat:6697", 0, "irc.libera.chat", 6697, ""},
		{"irc.libera.chat:6697", 6697, "irc.libera.chat", 6697, ""},
		{"irc.libera.chat", 6667, "irc.libera.chat", 6667, ""},
		{"[2001:db8::1]:6697", 0, "2001:db8::1", 6697, ""},
		{"[2001:db8::1]", 0, "2001:db8::1", 0, ""},
		{"2001:db8::1", 6697, "2001:db8::1", 6697, ""},
		{"irc.libera.chat:6697", 6667, "", 0, "port: is 6667"},
		{"irc.libera.chat:ircs", 0, "", 0, "port must be a number"},
		{"irc.libera.chat:0", 0, "", 0, "port must be a number"},
		{":6697", 0, "", 0, "host name is missing"},
		{"ircs://irc.libera.chat:6697", 0, "", 0, "not a URL"},
		{"irc.libera.chat:66:97", 0, "", 0, "neither"},
		{"[irc.libera.chat]:6697", 0, "", 0, "not an IPv6 address"},
	} {
		c := validConfig(t)
		n := c.Networks["libera"]
		n.Address, n.Port = tc.address, tc.port
		err := c.Validate()
		if tc.wantErrSub != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) || !strings.Contains(err.Error(), "network.networks.libera.address") {
				t.Errorf("%q port %d: %v, want an error naming the key and saying %q", tc.address, tc.port, err, tc.wantErrSub)
			}
			continue
		}
		if err != nil || n.Address != tc.wantHost || n.Port != tc.wantPort {
			t.Errorf("%q port %d: %q %d (%v), want %q %d", tc.address, tc.port, n.Address, n.Port, err, tc.wantHost, tc.wantPort)
		}
		if err := c.Validate(); err != nil || n.Address != tc.wantHost {
			t.Errorf("%q: a second Validate changed the result: %v", tc.address, err)
		}
	}
}

func TestProxyConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(n *NetworkConfig)
		errSub string
	}{
		"tor": {func(n *NetworkConfig) { n.Proxy, n.ProxyOnly = "socks5://127.0.0.1:9050", true }, ""},
		"onion through tor": {func(n *NetworkConfig) {
			n.Address, n.Proxy = "libera75jm6of4wxpxt4aynol3xjmbtxgfyjpu34ss4d7r7q2v5zrpyd.onion", "socks5h://127.0.0.1:9050"
		}, ""},
		"shared credentials": {func(n *NetworkConfig) { n.Proxy = "socks5://user:pass@127.0.0.1:9050" }, ""},
		"proxy_only alone":   {func(n *NetworkConfig) { n.ProxyOnly = true }, "proxy_only is set but proxy is empty"},
		"onion direct":       {func(n *NetworkConfig) { n.Address = "example.onion" }, "onion service"},
		"http proxy":         {func(n *NetworkConfig) { n.Proxy = "http://127.0.0.1:8080" }, "only SOCKS5"},
		"bad proxy, secret":  {func(n *NetworkConfig) { n.Proxy = "socks5://u:proxy-pw-secret@127.0.0.1:99999" }, "invalid port"},
	} {
		c := validConfig(t)
		tc.mutate(c.Networks["libera"])
		err := c.Validate()
		switch {
		case tc.errSub == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.errSub != "" && (err == nil || !strings.Contains(err.Error(), tc.errSub)):
			t.Errorf("%s: %v, want %q", name, err, tc.errSub)
		case err != nil && strings.Contains(err.Error(), "proxy-pw-secret"):
			t.Errorf("%s: the error quotes the proxy password", name)
		}
	}
}
