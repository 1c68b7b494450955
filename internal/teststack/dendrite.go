package teststack

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// HSOptions configures a private Dendrite.
type HSOptions struct {
	// ServerName is the Matrix domain, default "localhost".
	ServerName string
	// Registrations are appservice registration files to load (absolute
	// paths). More can be added before a Restart with AddRegistration.
	Registrations []string
	// Port fixes the client-server API port; 0 picks a free one. A caller
	// that must write the homeserver URL into a bridge config before
	// starting Dendrite reserves a port with FreePort.
	Port int
	// Detach leaves the server running when the calling process exits (for
	// scripts/stack.sh); tests leave it false.
	Detach bool
}

// Homeserver is a running Dendrite with SQLite databases in Dir.
type Homeserver struct {
	URL          string // http://127.0.0.1:port
	Port         int
	ServerName   string
	SharedSecret string // registration_shared_secret for the admin register API
	Dir          string
	ConfigPath   string
	LogPath      string

	opts HSOptions
	bin  string
	mu   sync.Mutex
	proc *process
}

// DendriteBinaries are the programs from `go install
// github.com/matrix-org/dendrite/cmd/...@v0.13.8` the stack uses.
var DendriteBinaries = []string{"dendrite", "generate-keys"}

// Dendrite starts a private homeserver for the test and stops it at cleanup.
// A missing Dendrite skips the test (or fails it under RequirePeers).
func Dendrite(t testing.TB, o HSOptions) *Homeserver {
	t.Helper()
	for _, b := range DendriteBinaries {
		if _, err := findExecutable(b, goBin()); err != nil {
			Missing(t, "Dendrite v0.13.8 (%v; scripts/install-deps.sh installs it)", err)
		}
	}
	hs, err := StartDendrite(t.TempDir(), o)
	if err != nil {
		t.Fatalf("start Dendrite: %v", err)
	}
	t.Cleanup(hs.Stop)
	return hs
}

// StartDendrite writes a config and signing key into dir and starts
// Dendrite; it returns once /_matrix/client/versions answers.
func StartDendrite(dir string, o HSOptions) (*Homeserver, error) {
	bin, err := findExecutable("dendrite", goBin())
	if err != nil {
		return nil, err
	}
	keygen, err := findExecutable("generate-keys", goBin())
	if err != nil {
		return nil, err
	}
	if o.ServerName == "" {
		o.ServerName = "localhost"
	}
	hs := &Homeserver{
		ServerName:   o.ServerName,
		SharedSecret: "shared-" + randomToken(24),
		Dir:          dir,
		ConfigPath:   filepath.Join(dir, "dendrite.yaml"),
		LogPath:      filepath.Join(dir, "dendrite.log"),
		opts:         o,
		bin:          bin,
	}
	keyPath := filepath.Join(dir, "matrix_key.pem")
	if _, err := os.Stat(keyPath); err != nil {
		if out, err := exec.Command(keygen, "--private-key", keyPath).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("generate-keys: %w: %s", err, out)
		}
	}
	fixed := o.Port != 0
	for attempt := 0; attempt < 3; attempt++ {
		hs.Port = o.Port
		if !fixed {
			if hs.Port, err = freePort(); err != nil {
				return nil, err
			}
		}
		hs.URL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(hs.Port))
		if err = hs.start(); err == nil || fixed {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return hs, nil
}

// AddRegistration adds an appservice registration file; it takes effect at
// the next Restart.
func (hs *Homeserver) AddRegistration(path string) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.opts.Registrations = append(hs.opts.Registrations, path)
}

// Pid is the server's process id (0 when stopped).
func (hs *Homeserver) Pid() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.proc == nil || hs.proc.Exited() {
		return 0
	}
	return hs.proc.Pid()
}

// Stop ends Dendrite; its databases stay in Dir for a Restart.
func (hs *Homeserver) Stop() {
	hs.mu.Lock()
	p := hs.proc
	hs.proc = nil
	hs.mu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// Restart stops and starts Dendrite on the same port with the same data,
// reloading the registration files.
func (hs *Homeserver) Restart(t testing.TB) {
	t.Helper()
	if err := hs.RestartErr(); err != nil {
		t.Fatalf("restart Dendrite: %v", err)
	}
}

// RestartErr is Restart without a testing.TB.
func (hs *Homeserver) RestartErr() error {
	hs.Stop()
	var err error
	for i := 0; i < 10; i++ {
		if err = hs.start(); err == nil {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return err
}

func (hs *Homeserver) start() error {
	if err := hs.writeConfig(); err != nil {
		return err
	}
	p, err := startProcess("dendrite", hs.LogPath, hs.Dir, nil, hs.opts.Detach, hs.bin,
		"--config", hs.ConfigPath, "--http-bind-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(hs.Port)))
	if err != nil {
		return err
	}
	if err := waitHTTP(p, 90*time.Second, hs.URL+"/_matrix/client/versions"); err != nil {
		p.Stop()
		return fmt.Errorf("%w\n--- dendrite log:\n%s", err, tail(hs.LogPath, 3000))
	}
	hs.mu.Lock()
	hs.proc = p
	hs.mu.Unlock()
	return nil
}

// writeConfig writes the version 2 config Dendrite v0.13.8's
// `generate-config -ci` would, changed for a private test server: no
// federation, no rate limits, registration only through the shared secret,
// our appservices, quiet logs.
func (hs *Homeserver) writeConfig() error {
	hs.mu.Lock()
	regs := append([]string(nil), hs.opts.Registrations...)
	hs.mu.Unlock()
	db := func(name string) map[string]any {
		return map[string]any{"connection_string": "file:" + filepath.Join(hs.Dir, "dendrite_"+name+".db")}
	}
	cfg := map[string]any{
		"version": 2,
		"global": map[string]any{
			"server_name":         hs.ServerName,
			"private_key":         filepath.Join(hs.Dir, "matrix_key.pem"),
			"key_validity_period": "168h0m0s",
			"disable_federation":  true,
			"presence":            map[string]any{"enable_inbound": false, "enable_outbound": false},
			"jetstream": map[string]any{
				"storage_path": filepath.Join(hs.Dir, "jetstream"),
				"in_memory":    true,
				"topic_prefix": "Dendrite",
			},
			"metrics":      map[string]any{"enabled": false},
			"report_stats": map[string]any{"enabled": false},
			"server_notices": map[string]any{
				"enabled": false, "local_part": "_server", "display_name": "Server Alert", "room_name": "Server Alert",
			},
			"cache": map[string]any{"max_size_estimated": 64 << 20, "max_age": "1h0m0s"},
		},
		"app_service_api": map[string]any{
			"disable_tls_validation": true,
			"legacy_auth":            false,
			"legacy_paths":           false,
			"config_files":           regs,
		},
		"client_api": map[string]any{
			"registration_disabled":      true,
			"registration_shared_secret": hs.SharedSecret,
			"guests_disabled":            true,
			"rate_limiting":              map[string]any{"enabled": false, "threshold": 5, "cooloff_ms": 500},
		},
		"federation_api": map[string]any{"database": db("federationapi"), "disable_tls_validation": true},
		"key_server":     map[string]any{"database": db("keyserver")},
		"media_api": map[string]any{
			"database": db("mediaapi"), "base_path": filepath.Join(hs.Dir, "media"), "max_file_size_bytes": 10485760,
		},
		"room_server": map[string]any{"database": db("roomserver"), "default_room_version": "10"},
		"sync_api": map[string]any{
			"database": db("syncapi"),
			"search":   map[string]any{"enabled": false, "in_memory": true, "index_path": filepath.Join(hs.Dir, "searchindex")},
		},
		"user_api": map[string]any{
			"account_database": db("userapi"), "bcrypt_cost": 4, "worker_count": 2,
			"openid_token_lifetime_ms": 3600000,
		},
		"relay_api": map[string]any{"database": db("relayapi")},
		"mscs":      map[string]any{"mscs": []string{}, "database": db("mscs")},
		"logging":   []any{map[string]any{"type": "std", "level": "info"}},
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("dendrite config: %w", err)
	}
	if err := os.WriteFile(hs.ConfigPath, out, 0o600); err != nil {
		return fmt.Errorf("dendrite config: %w", err)
	}
	return nil
}

// DataFiles lists every regular file under Dir: the SQLite databases with
// their -wal and -shm files, media, the config, key and log. Tests grep
// them for what must never reach the homeserver.
func (hs *Homeserver) DataFiles() ([]string, error) {
	var files []string
	err := filepath.WalkDir(hs.Dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list Dendrite's files: %w", err)
	}
	return files, nil
}
