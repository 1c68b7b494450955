package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// state is what `start` and `demo` started, saved so that `stop` ends
// exactly those processes and nothing else.
type state struct {
	Dir string `json:"dir"`

	IRCPid  int    `json:"irc_pid"`
	IRCAddr string `json:"irc_addr"`
	IRCPort int    `json:"irc_port"`
	IRCDir  string `json:"irc_dir"`

	HSPid        int    `json:"hs_pid"`
	HSURL        string `json:"hs_url"`
	HSDomain     string `json:"hs_domain"`
	HSDir        string `json:"hs_dir"`
	SharedSecret string `json:"shared_secret"`

	BridgePid    int    `json:"bridge_pid,omitempty"`
	BridgeConfig string `json:"bridge_config,omitempty"`
	BridgeLog    string `json:"bridge_log,omitempty"`

	MatrixUser     string `json:"matrix_user,omitempty"`
	MatrixPassword string `json:"matrix_password,omitempty"`
}

// procNames are the executables each recorded pid must still be running,
// checked before signalling so a reused pid is never killed.
var procNames = map[string]string{"irc": "inspircd", "hs": "dendrite", "bridge": "otrbridge"}

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(statePath(dir))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", statePath(dir), err)
	}
	return &s, nil
}

func (s *state) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(statePath(s.Dir), b, 0o600); err != nil {
		return err
	}
	env := fmt.Sprintf(`# Written by scripts/stack.sh; source it to reach the local stack.
OTRBRIDGE_IRC_HOST=127.0.0.1
OTRBRIDGE_IRC_PORT=%d
OTRBRIDGE_HS_URL=%s
OTRBRIDGE_HS_DOMAIN=%s
OTRBRIDGE_HS_SHARED_SECRET=%s
OTRBRIDGE_BRIDGE_CONFIG=%s
`, s.IRCPort, s.HSURL, s.HSDomain, s.SharedSecret, s.BridgeConfig)
	return os.WriteFile(filepath.Join(s.Dir, "env"), []byte(env), 0o600)
}

// start starts InspIRCd and Dendrite (detached) after stopping whatever an
// earlier start left.
func start(dir string) (*teststack.Homeserver, error) {
	if _, err := loadState(dir); err == nil {
		fmt.Println("stopping the previous stack first")
		if err := stop(dir); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &state{Dir: abs, IRCDir: filepath.Join(abs, "inspircd"), HSDir: filepath.Join(abs, "dendrite")}
	for _, d := range []string{s.IRCDir, s.HSDir} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	irc, err := teststack.StartInspIRCd(s.IRCDir, teststack.IRCOptions{Detach: true})
	if err != nil {
		return nil, fmt.Errorf("start InspIRCd: %w", err)
	}
	s.IRCPid, s.IRCAddr, s.IRCPort = irc.Pid(), irc.Addr(), irc.Port
	if err := s.save(); err != nil {
		irc.Stop()
		return nil, err
	}
	hs, err := teststack.StartDendrite(s.HSDir, teststack.HSOptions{Detach: true})
	if err != nil {
		_ = stop(dir)
		return nil, fmt.Errorf("start Dendrite: %w", err)
	}
	s.HSPid, s.HSURL, s.HSDomain, s.SharedSecret = hs.Pid(), hs.URL, hs.ServerName, hs.SharedSecret
	if err := s.save(); err != nil {
		return nil, err
	}
	fmt.Printf("InspIRCd  %s (pid %d)\nDendrite  %s, server name %s (pid %d)\nstate in  %s\n",
		s.IRCAddr, s.IRCPid, s.HSURL, s.HSDomain, s.HSPid, s.Dir)
	return hs, nil
}

// stop ends the recorded processes (bridge first) and removes the state file.
func stop(dir string) error {
	s, err := loadState(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Println("nothing to stop (no", statePath(dir)+")")
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range []struct {
		kind string
		pid  int
	}{{"bridge", s.BridgePid}, {"hs", s.HSPid}, {"irc", s.IRCPid}} {
		if p.pid == 0 {
			continue
		}
		if err := stopPid(p.pid, procNames[p.kind]); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Printf("stopped %s (pid %d)\n", procNames[p.kind], p.pid)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return os.Remove(statePath(dir))
}

// alive reports whether pid runs an executable whose name contains name.
func alive(pid int, name string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return false
	}
	argv0 := strings.SplitN(string(b), "\x00", 2)[0]
	return strings.Contains(filepath.Base(argv0), name)
}

// stopPid sends SIGTERM to the process group the stack started (each
// server runs in its own group), then SIGKILL after 10 s.
func stopPid(pid int, name string) error {
	if !alive(pid, name) {
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if !alive(pid, name) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond)
	if alive(pid, name) {
		return fmt.Errorf("%s (pid %d) did not stop", name, pid)
	}
	return nil
}

func status(dir string) error {
	s, err := loadState(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Println("not running")
		return nil
	}
	if err != nil {
		return err
	}
	show := func(label, kind string, pid int, where string) {
		st := "stopped"
		if pid != 0 && alive(pid, procNames[kind]) {
			st = fmt.Sprintf("running (pid %d)", pid)
		}
		if pid == 0 {
			st = "not started"
		}
		fmt.Printf("%-9s %-22s %s\n", label, st, where)
	}
	show("InspIRCd", "irc", s.IRCPid, s.IRCAddr)
	show("Dendrite", "hs", s.HSPid, s.HSURL)
	show("otrbridge", "bridge", s.BridgePid, s.BridgeConfig)
	return nil
}
