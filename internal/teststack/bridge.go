package teststack

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// BuildBridge builds cmd/otrbridge with -tags goolm and the extra build
// tags into dir and returns the binary's path.
func BuildBridge(dir string, tags ...string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "otrbridge")
	cmd := exec.Command("go", "build", "-tags", strings.Join(append([]string{"goolm"}, tags...), ","), "-o", out, "./cmd/otrbridge")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/otrbridge: %w\n%s", err, b)
	}
	return out, nil
}

// ModuleRoot is the directory of the otrbridge go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the otrbridge module")
	}
	return filepath.Dir(gomod), nil
}

// BridgeNetwork is one entry of the bridge's network.networks map.
type BridgeNetwork struct {
	Key        string // e.g. "local"
	Name       string
	IRC        *IRCServer
	TLS        bool // connect to IRC.TLSPort without verification
	FloodBurst int  // 0 leaves the bridge default
	FloodRate  float64
	// Address and Port, when set, replace IRC's (e.g. a host name to be
	// resolved by a proxy, a watched port in front of IRC).
	Address string
	Port    int
	// Proxy and ProxyOnly are the network's SOCKS5 settings.
	Proxy     string
	ProxyOnly bool
	// AskServerPassword makes each user give their own server password.
	AskServerPassword bool
}

// BridgeOptions describes a bridge wired to a local stack.
type BridgeOptions struct {
	Binary   string
	Dir      string // config, registration, database, logs
	HS       *Homeserver
	Networks []BridgeNetwork
	// DatabaseType/URI default to SQLite in Dir; a PostgreSQL DSN from
	// Postgres() goes with type "postgres".
	DatabaseType, DatabaseURI string
	// Admin is an MXID given admin permission; every user of the
	// homeserver's domain gets "user", other servers "relay".
	Admin string
	// Permissions adds or overrides bridge.permissions entries (MXID or
	// domain → block, relay, commands, user, admin).
	Permissions map[string]string
	// Encryption leaves the config's `encryption:` section to the bridge's
	// defaults (on, written in by the config upgrader); without it the
	// bridge runs unencrypted portals with the admin's explicit consent
	// (network.homeserver_may_read_messages).
	Encryption bool
	LogLevel   string // default "debug"
	Detach     bool
	// Metrics serves the bridge's Prometheus metrics on a free loopback
	// port (Bridge.MetricsURL).
	Metrics bool
	// PublicMedia turns on public media links (how files reach IRC),
	// served on the appservice port.
	PublicMedia  bool
	ExtraConfig  func(cfg map[string]any) // last-moment edits
	ExtraArgs    []string
	GenerateOnly bool // write config and registration, do not start
}

// Bridge is a configured (and usually running) otrbridge.
type Bridge struct {
	Opts             BridgeOptions
	ConfigPath       string
	RegistrationPath string
	LogPath          string // the bridge's JSON log (all levels configured)
	OutPath          string // stdout/stderr
	Port             int    // appservice port
	BotMXID          string
	UsernamePrefix   string // ghost localpart prefix, from appservice.username_template
	MetricsURL       string // with BridgeOptions.Metrics

	mu   sync.Mutex
	proc *process
}

// ConfigureBridge writes the example config (-e) edited for the stack and
// the registration (-g). The homeserver must load Registration before the
// bridge starts (HSOptions.Registrations or AddRegistration + Restart).
func ConfigureBridge(o BridgeOptions) (*Bridge, error) {
	if o.LogLevel == "" {
		o.LogLevel = "debug"
	}
	b := &Bridge{
		Opts:             o,
		ConfigPath:       filepath.Join(o.Dir, "config.yaml"),
		RegistrationPath: filepath.Join(o.Dir, "registration.yaml"),
		LogPath:          filepath.Join(o.Dir, "bridge.log"),
		OutPath:          filepath.Join(o.Dir, "bridge.out"),
	}
	var err error
	if b.Port, err = freePort(); err != nil {
		return nil, err
	}
	_ = os.Remove(b.ConfigPath)
	if out, err := exec.Command(o.Binary, "-e", "-c", b.ConfigPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("otrbridge -e: %w: %s", err, out)
	}
	raw, err := os.ReadFile(b.ConfigPath)
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("parse example config: %w", err)
	}
	if err := b.edit(cfg); err != nil {
		return nil, err
	}
	if o.ExtraConfig != nil {
		o.ExtraConfig(cfg)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(b.ConfigPath, out, 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.Command(o.Binary, "-g", "-c", b.ConfigPath, "-r", b.RegistrationPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("otrbridge -g: %w: %s", err, out)
	}
	if _, err := os.Stat(b.RegistrationPath); err != nil {
		return nil, fmt.Errorf("otrbridge -g wrote no registration: %w", err)
	}
	return b, nil
}

// sub returns cfg[key] as a map, creating it.
func sub(cfg map[string]any, key string) map[string]any {
	m, ok := cfg[key].(map[string]any)
	if !ok {
		m = map[string]any{}
		cfg[key] = m
	}
	return m
}

func (b *Bridge) edit(cfg map[string]any) error {
	o := b.Opts
	domain := o.HS.ServerName
	hs := sub(cfg, "homeserver")
	hs["address"] = o.HS.URL
	hs["domain"] = domain
	hs["software"] = "standard"

	as := sub(cfg, "appservice")
	as["address"] = "http://127.0.0.1:" + strconv.Itoa(b.Port)
	as["public_address"] = ""
	if o.PublicMedia {
		as["public_address"] = as["address"]
		sub(cfg, "public_media")["enabled"] = true
	}
	as["hostname"] = "127.0.0.1"
	as["port"] = b.Port
	tmpl, _ := as["username_template"].(string)
	if !strings.HasSuffix(tmpl, "{{.}}") {
		return fmt.Errorf("example config: appservice.username_template %q does not end in {{.}}", tmpl)
	}
	b.UsernamePrefix = strings.TrimSuffix(tmpl, "{{.}}")
	bot := sub(as, "bot")
	botName, _ := bot["username"].(string)
	if botName == "" {
		return fmt.Errorf("example config has no appservice.bot.username")
	}
	b.BotMXID = "@" + botName + ":" + domain

	db := sub(cfg, "database")
	if o.DatabaseURI != "" {
		db["type"] = o.DatabaseType
		db["uri"] = o.DatabaseURI
	} else {
		db["type"] = "sqlite3-fk-wal"
		db["uri"] = "file:" + filepath.Join(o.Dir, "otrbridge.db") + "?_txlock=immediate&_stmt_cache_size=64"
	}

	nw := sub(cfg, "network")
	nets := map[string]any{}
	for _, n := range o.Networks {
		port := n.IRC.Port
		if n.TLS {
			port = n.IRC.TLSPort
		}
		address := n.IRC.Host
		if n.Address != "" {
			address = n.Address
		}
		if n.Port != 0 {
			port = n.Port
		}
		entry := map[string]any{
			"name": n.Name, "address": address, "port": port,
			"tls": n.TLS, "tls_insecure_skip_verify": n.TLS,
			"proxy": n.Proxy, "proxy_only": n.ProxyOnly,
			"ask_server_password": n.AskServerPassword,
		}
		if n.FloodBurst > 0 || n.FloodRate > 0 {
			entry["flood"] = map[string]any{"burst": n.FloodBurst, "rate": n.FloodRate}
		}
		nets[n.Key] = entry
	}
	nw["networks"] = nets
	if o.Metrics {
		port, err := freePort()
		if err != nil {
			return err
		}
		listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		nw["metrics"] = map[string]any{"enabled": true, "listen": listen}
		b.MetricsURL = "http://" + listen + "/metrics"
	}
	nw["secret"] = "test-secret-" + randomToken(32)

	br := sub(cfg, "bridge")
	perms := map[string]any{"*": "relay", domain: "user"}
	if o.Admin != "" {
		perms[o.Admin] = "admin"
	}
	for k, v := range o.Permissions {
		perms[k] = v
	}
	br["permissions"] = perms
	// m.notice from Matrix users is bridged (as IRC NOTICE); mautrix's
	// example turns that off.
	br["bridge_notices"] = true

	mx := sub(cfg, "matrix")
	mx["message_status_events"] = true
	mx["message_error_notices"] = true
	mx["federate_rooms"] = false

	if o.Encryption {
		delete(cfg, "encryption")
	} else {
		enc := sub(cfg, "encryption")
		enc["default"] = false
		nw["homeserver_may_read_messages"] = true
	}

	delete(cfg, "double_puppet")
	cfg["logging"] = map[string]any{
		"min_level": o.LogLevel,
		"writers": []any{
			map[string]any{"type": "file", "format": "json", "filename": b.LogPath, "max_size": 100, "max_backups": 1},
		},
	}
	return nil
}

// GhostMXID is the Matrix ID of the ghost of nick (lower-case ASCII nicks
// only: other characters are escaped by the bridge).
func (b *Bridge) GhostMXID(network, nick string) string {
	return "@" + b.UsernamePrefix + network + "." + strings.ToLower(nick) + ":" + b.Opts.HS.ServerName
}

// StartBridge configures and starts a bridge for the test, loading its
// registration into hs (which is restarted) and stopping it at cleanup.
func StartBridge(t testing.TB, o BridgeOptions) *Bridge {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	b, err := ConfigureBridge(o)
	if err != nil {
		t.Fatalf("configure bridge: %v", err)
	}
	o.HS.AddRegistration(b.RegistrationPath)
	o.HS.Restart(t)
	if err := b.Start(); err != nil {
		t.Fatalf("start bridge: %v", err)
	}
	t.Cleanup(b.Stop)
	return b
}

// Start runs the bridge and waits until its appservice reports ready.
func (b *Bridge) Start() error {
	args := append([]string{"-c", b.ConfigPath, "--ignore-unsupported-server"}, b.Opts.ExtraArgs...)
	p, err := startProcess("otrbridge", b.OutPath, b.Opts.Dir, nil, b.Opts.Detach, b.Opts.Binary, args...)
	if err != nil {
		return err
	}
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)) + "/_matrix/mau/ready"
	if err := waitHTTP(p, 60*time.Second, url); err != nil {
		p.Stop()
		return fmt.Errorf("%w\n--- bridge output:\n%s", err, tail(b.OutPath, 4000))
	}
	b.mu.Lock()
	b.proc = p
	b.mu.Unlock()
	return nil
}

// Stop ends the bridge (SIGTERM, then SIGKILL after 10 s).
func (b *Bridge) Stop() {
	b.mu.Lock()
	p := b.proc
	b.proc = nil
	b.mu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// Kill ends the bridge with SIGKILL, as a crash would: nothing it was
// doing is finished.
func (b *Bridge) Kill() {
	b.mu.Lock()
	p := b.proc
	b.proc = nil
	b.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Running reports whether the bridge process is alive.
func (b *Bridge) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.proc != nil && !b.proc.Exited()
}

// Pid is the bridge's process id (0 when stopped).
func (b *Bridge) Pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil || b.proc.Exited() {
		return 0
	}
	return b.proc.Pid()
}

// Restart stops and starts the bridge with the same config and database.
func (b *Bridge) Restart(t testing.TB) {
	t.Helper()
	b.Stop()
	if err := b.Start(); err != nil {
		t.Fatalf("restart bridge: %v", err)
	}
}

// RSS returns the bridge's resident set size in bytes from /proc.
func (b *Bridge) RSS() (int64, error) {
	pid := b.Pid()
	if pid == 0 {
		return 0, fmt.Errorf("bridge not running")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
