package bridge

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	up "go.mau.fi/util/configupgrade"
	"go.mau.fi/util/random"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// Config is the `network:` section of the bridge config file; ExampleConfig
// is its commented example and the reference for every key.
//
// Ghost Matrix IDs are appservice.username_template applied to "<network key>.<casemapped nick>"
// (so with the default template `otrirc_{{.}}`: @otrirc_libera.bob:example.com). Matrix encodes
// characters outside [a-z0-9.=-]: "_" becomes "__", "[" becomes "=5b", and so on.
type Config struct {
	Networks            map[string]*NetworkConfig `yaml:"networks"`
	DisplaynameTemplate string                    `yaml:"displayname_template"`
	Secret              string                    `yaml:"secret"`
	OTR                 OTRConfig                 `yaml:"otr"`
	// HomeserverMayReadMessages is the admin's explicit consent to run
	// without end-to-bridge encryption (CheckEncryption).
	HomeserverMayReadMessages bool           `yaml:"homeserver_may_read_messages"`
	Limits                    LimitsConfig   `yaml:"limits"`
	Metrics                   MetricsConfig  `yaml:"metrics"`
	Channels                  ChannelsConfig `yaml:"channels"`

	displaynameTmpl *template.Template
}

// NetworkConfig is one IRC network users may connect to.
type NetworkConfig struct {
	Name                  string      `yaml:"name"`
	Address               string      `yaml:"address"`
	Port                  int         `yaml:"port"`
	TLS                   *bool       `yaml:"tls"`
	TLSInsecureSkipVerify bool        `yaml:"tls_insecure_skip_verify"`
	ServerPassword        string      `yaml:"server_password"`
	AskServerPassword     bool        `yaml:"ask_server_password"`
	Proxy                 string      `yaml:"proxy"`
	ProxyOnly             bool        `yaml:"proxy_only"`
	MaxLineBytes          int         `yaml:"max_line_bytes"`
	MaxFragmentSize       int         `yaml:"max_fragment_size"`
	Flood                 FloodConfig `yaml:"flood"`
	OTRPolicy             string      `yaml:"otr_policy"`
}

// FloodConfig paces the lines sent on one connection (token bucket).
type FloodConfig struct {
	Burst int     `yaml:"burst"`
	Rate  float64 `yaml:"rate"`
}

// OTRConfig holds the OTR defaults of every login's session manager.
type OTRConfig struct {
	DefaultPolicy string   `yaml:"default_policy"`
	Services      []string `yaml:"services"`
	// HoldTimeout ("60s") is how long a message that must go out encrypted
	// waits for a private conversation before it fails visibly.
	HoldTimeout string `yaml:"hold_timeout"`

	holdTimeout time.Duration
}

// Hold returns the parsed hold_timeout (valid after Validate).
func (o *OTRConfig) Hold() time.Duration { return o.holdTimeout }

// UseTLS reports whether the connection uses TLS (the default).
func (n *NetworkConfig) UseTLS() bool { return n.TLS == nil || *n.TLS }

// DisplayName is the name shown to users.
func (n *NetworkConfig) DisplayName(key string) string {
	if n.Name != "" {
		return n.Name
	}
	return key
}

// Policy returns the OTR policy name for this network.
func (c *Config) Policy(network string) string {
	if n := c.Networks[network]; n != nil && n.OTRPolicy != "" {
		return n.OTRPolicy
	}
	return c.OTR.DefaultPolicy
}

// IsService reports whether nick is on the configured services list
// (exact names, case-insensitively; no patterns: anyone can pick a nick
// that fits one). Services get no OTR unless the user already has OTR
// with that peer (otrsession decides that).
func (c *Config) IsService(nick string) bool {
	return slices.ContainsFunc(c.OTR.Services, func(s string) bool { return strings.EqualFold(s, nick) })
}

var (
	networkKeyRegex = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	otrPolicies     = []string{"never", "manual", "opportunistic", "always"}
)

// ErrNoNetworks is returned by Validate when no network is configured.
var ErrNoNetworks = errors.New("network.networks: at least one IRC network must be configured")

// Validate checks the section and compiles the templates. It is called by the
// bridge before start; a bad config refuses to start with a clear message.
func (c *Config) Validate() error {
	if len(c.Networks) == 0 {
		return ErrNoNetworks
	}
	for key, n := range c.Networks {
		if !networkKeyRegex.MatchString(key) {
			return fmt.Errorf("network.networks: key %q must be 1-32 characters of a-z, 0-9 and -", key)
		}
		if n == nil {
			return fmt.Errorf("network.networks.%s: empty", key)
		}
		if n.Port < 0 || n.Port > 65535 {
			return fmt.Errorf("network.networks.%s.port: %d is not a TCP port", key, n.Port)
		}
		if err := n.splitAddress(); err != nil {
			return fmt.Errorf("network.networks.%s.address: %w", key, err)
		}
		if n.Proxy != "" {
			if err := ircconn.CheckProxy(n.Proxy); err != nil {
				return fmt.Errorf("network.networks.%s.proxy: %w", key, err)
			}
		} else if n.ProxyOnly {
			return fmt.Errorf("network.networks.%s: proxy_only is set but proxy is empty; refusing to connect directly", key)
		} else if strings.HasSuffix(strings.ToLower(n.Address), ".onion") {
			return fmt.Errorf("network.networks.%s: %s is a Tor onion service: set proxy (e.g. socks5://127.0.0.1:9050)", key, n.Address)
		}
		if strings.ContainsAny(n.ServerPassword, "\r\n\x00") {
			return fmt.Errorf("network.networks.%s.server_password: must not contain CR, LF or NUL", key)
		}
		if n.MaxLineBytes < 0 || (n.MaxLineBytes > 0 && n.MaxLineBytes < 32) {
			return fmt.Errorf("network.networks.%s.max_line_bytes: must be 0 (automatic) or at least 32", key)
		}
		if n.MaxFragmentSize < 0 || (n.MaxFragmentSize > 0 && n.MaxFragmentSize < 64) {
			return fmt.Errorf("network.networks.%s.max_fragment_size: must be 0 (default 400) or at least 64", key)
		}
		if n.Flood.Burst < 0 || n.Flood.Rate < 0 {
			return fmt.Errorf("network.networks.%s.flood: burst and rate must not be negative", key)
		}
		if n.OTRPolicy != "" && !slices.Contains(otrPolicies, n.OTRPolicy) {
			return fmt.Errorf("network.networks.%s.otr_policy: %q is not one of %s", key, n.OTRPolicy, strings.Join(otrPolicies, ", "))
		}
	}
	if !slices.Contains(otrPolicies, c.OTR.DefaultPolicy) {
		return fmt.Errorf("network.otr.default_policy: %q is not one of %s", c.OTR.DefaultPolicy, strings.Join(otrPolicies, ", "))
	}
	c.OTR.holdTimeout = 60 * time.Second
	if c.OTR.HoldTimeout != "" {
		d, err := time.ParseDuration(c.OTR.HoldTimeout)
		if err != nil || d < time.Second || d > time.Hour {
			return fmt.Errorf("network.otr.hold_timeout: %q must be a duration between 1s and 1h, e.g. 60s", c.OTR.HoldTimeout)
		}
		c.OTR.holdTimeout = d
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := c.Metrics.validate(); err != nil {
		return err
	}
	if err := c.Channels.validate(); err != nil {
		return err
	}
	if len(c.Secret) < 16 || c.Secret == "generate" {
		return errors.New("network.secret: must be at least 16 characters (set it to `generate` and start once with a writable config to get a random one)")
	}
	tmpl, err := template.New("displayname").Option("missingkey=error").Parse(c.DisplaynameTemplate)
	if err != nil {
		return fmt.Errorf("network.displayname_template: %w", err)
	}
	if _, err = execTemplate(tmpl, displaynameParams{Nick: "nick", Network: "net", NetworkName: "Net"}); err != nil {
		return fmt.Errorf("network.displayname_template: %w", err)
	}
	c.displaynameTmpl = tmpl
	return nil
}

// splitAddress accepts "host" and, as other IRC bridges write it,
// "host:port" (IPv6: "[addr]:port", or a bare address without port). A port
// in the address becomes Port; a different `port:` is refused.
func (n *NetworkConfig) splitAddress() error {
	addr := n.Address
	if strings.Contains(addr, "://") {
		return errors.New("give a host name or host:port, not a URL (TLS is set with `tls:`)")
	}
	if addr == "" || strings.ContainsAny(addr, " /@\t\r\n\x00") {
		return errors.New("must be a host name or IP address, optionally with :port")
	}
	host, portStr := addr, ""
	switch {
	case strings.HasPrefix(addr, "["):
		if strings.HasSuffix(addr, "]") {
			host = addr[1 : len(addr)-1]
		} else {
			var err error
			if host, portStr, err = net.SplitHostPort(addr); err != nil {
				return fmt.Errorf("%q is neither [IPv6 address] nor [IPv6 address]:port", addr)
			}
		}
		if net.ParseIP(host) == nil {
			return fmt.Errorf("%q is not an IPv6 address", host)
		}
	case strings.Count(addr, ":") == 1:
		host, portStr, _ = strings.Cut(addr, ":")
	case strings.Contains(addr, ":") && net.ParseIP(addr) == nil:
		return fmt.Errorf("%q is neither a host name nor an IP address", addr)
	}
	if host == "" {
		return errors.New("the host name is missing")
	}
	if portStr != "" {
		port, err := strconv.Atoi(portStr)
		if err != nil || port < 1 || port > 65535 {
			return fmt.Errorf("%q: the port must be a number from 1 to 65535", portStr)
		}
		if n.Port != 0 && n.Port != port {
			return fmt.Errorf("the address gives port %d but port: is %d; keep one", port, n.Port)
		}
		n.Port = port
	}
	n.Address = host
	return nil
}

type displaynameParams struct {
	Nick        string
	Network     string
	NetworkName string
}

func execTemplate(t *template.Template, data any) (string, error) {
	var sb strings.Builder
	if err := t.Execute(&sb, data); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// FormatDisplayname renders the ghost display name of nick on network.
func (c *Config) FormatDisplayname(network, nick string) string {
	name := network
	if n := c.Networks[network]; n != nil {
		name = n.DisplayName(network)
	}
	if c.displaynameTmpl == nil {
		return nick
	}
	s, err := execTemplate(c.displaynameTmpl, displaynameParams{Nick: nick, Network: network, NetworkName: name})
	if err != nil || strings.TrimSpace(s) == "" {
		return nick
	}
	return s
}

// upgradeConfig puts otrbridge's defaults for the rest of the config into
// the base (mautrix's upgrader then copies the file's own values over
// them), copies the user's `network:` section over the example and
// replaces `secret: generate` with a random secret (saved back to the
// file).
func upgradeConfig(helper up.Helper) {
	root, err := rootHelper(helper)
	if err != nil {
		// Running on mautrix's defaults (encryption off, mautrix-irc's
		// namespace) must never happen silently.
		panic(fmt.Errorf("otrbridge: %w; refusing to run on mautrix's defaults", err))
	}
	applyBridgeDefaults(root)
	helper.Copy(up.Map, "networks")
	helper.Copy(up.Str, "displayname_template")
	if secret, ok := helper.Get(up.Str, "secret"); !ok || secret == "generate" || secret == "" {
		helper.Set(up.Str, random.String(48), "secret")
	} else {
		helper.Copy(up.Str, "secret")
	}
	helper.Copy(up.Str, "otr", "default_policy")
	helper.Copy(up.List, "otr", "services")
	helper.Copy(up.Str, "otr", "hold_timeout")
	helper.Copy(up.Bool, "homeserver_may_read_messages")
	upgradeLimits(helper)
	helper.Copy(up.Bool, "metrics", "enabled")
	helper.Copy(up.Str, "metrics", "listen")
	upgradeChannels(helper)
}

// ExampleConfig is the commented `network:` section written by `-e`.
const ExampleConfig = `# IRC networks that users may connect to. Users choose one by its key when they log in;
# there is no way to connect to any other server from Matrix.
networks:
    # The key (a-z, 0-9, -) is part of ghost user IDs and login IDs: don't change it later.
    libera:
        # Name shown to users.
        name: Libera.Chat
        # Host name or IP address; "host:port" works too (then port below must be 0 or the same).
        address: irc.libera.chat
        # 0 means 6697 with TLS, 6667 without.
        port: 6697
        # TLS is on by default. Turn verification off only for test servers.
        tls: true
        tls_insecure_skip_verify: false
        # Server password (PASS), if the server needs one.
        server_password: ""
        # true: each user gives their own server password at login (a bouncer such as ZNC:
        # "user/network:password"); it replaces server_password for that login.
        ask_server_password: false
        # SOCKS5 proxy for every connection to this network, e.g. Tor: socks5://127.0.0.1:9050.
        # The proxy resolves the address (no DNS query from here); each login gets its own proxy
        # credentials (with Tor: its own circuit) unless the URL has user:password. Empty: direct.
        proxy: ""
        # true: never connect directly. The bridge refuses to start if proxy is empty; a proxy that
        # is down makes connections fail, never go direct.
        proxy_only: false
        # Longest text (bytes) per IRC line. 0 computes it from our hostmask:
        # 512 - len(":nick!user@host PRIVMSG target :\r\n"). A positive value caps it further.
        max_line_bytes: 0
        # Longest OTR fragment (bytes), 0 means 400.
        max_fragment_size: 400
        # Flood pacing: lines sent back to back, then lines per second.
        flood:
            burst: 4
            rate: 1
        # OTR policy for this network (never, manual, opportunistic, always); empty uses otr.default_policy.
        otr_policy: ""
# Display name of IRC users' ghosts. Fields: {{.Nick}}, {{.Network}} (the key), {{.NetworkName}}.
# Ghost Matrix IDs are appservice.username_template applied to "<network key>.<nick in lower case>",
# e.g. @otrirc_libera.bob:example.com.
displayname_template: "{{.Nick}} ({{.NetworkName}})"
# Secret used to encrypt IRC passwords and OTR private keys in the database.
# "generate" makes a random one on the first start (the config file must be writable then).
# If it is lost, stored passwords and OTR keys cannot be decrypted any more.
secret: generate
# Off-the-record messaging defaults.
otr:
    # never: no OTR at all; manual: OTR when you ("!otr init") or the peer start it;
    # opportunistic: also advertise OTR with an invisible whitespace tag in plain messages;
    # always: send nothing unencrypted (messages wait for a private conversation or fail).
    # Per-peer and per-user overrides: "!otr policy".
    default_policy: manual
    # Network services: exact nicks (no patterns) that get no OTR or whitespace tags, unless you
    # already have OTR with whoever holds that nick (a fingerprint, a conversation, a policy of its own).
    services: [NickServ, ChanServ, MemoServ, OperServ, HostServ, BotServ, Global, SaslServ]
    # How long a message that must go out encrypted (policy always, or while a key
    # exchange runs) waits for the private conversation before it fails visibly.
    hold_timeout: 60s
# End-to-bridge encryption (the encryption: section below, on by default) keeps bridged messages
# away from your homeserver. With encryption.allow or encryption.default off, the homeserver stores
# every bridged message in plaintext, also those OTR protects on IRC, and the bridge refuses to start
# unless this is true. Set it only if you accept that.
homeserver_may_read_messages: false
# Prometheus metrics at http://<listen>/metrics: IRC connections, portals, OTR sessions by state, key
# exchanges, messages by direction and result, send queues. No label names a user; still, the numbers
# show when your users are active, so listen must be a loopback address.
metrics:
    enabled: false
    listen: 127.0.0.1:29341
` + exampleLimits + exampleChannels
