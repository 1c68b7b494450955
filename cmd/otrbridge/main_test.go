package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// otrbridge builds this command once per test run.
func otrbridge(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "otrbridge-cmd-test-")
		if err != nil {
			buildErr = err
			return
		}
		binary, buildErr = teststack.BuildBridge(dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// run runs the binary in dir and returns its combined output and exit code.
func run(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(otrbridge(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// -e writes otrbridge's example, also with mautrix flags around it that
// main itself never names; a flag mautrix does not know is refused by
// mxmain.
func TestExampleConfigFlag(t *testing.T) {
	want, err := os.ReadFile("../../config.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-e", "-c", "-"},
		{"--ignore-unsupported-server", "--generate-example-config", "--config", "-"},
		{"-n", "-r", "x.yaml", "-e", "-c", "-"},
	} {
		out, code := run(t, dir, args...)
		if code != 0 || out != string(want) {
			t.Errorf("otrbridge %q: exit %d, output is not config.yaml.example (%d bytes)", args, code, len(out))
		}
	}
	out, code := run(t, dir, "-e", "-c", "config.yaml")
	if code != 0 || !strings.Contains(out, "Wrote example config") {
		t.Fatalf("-e -c config.yaml: exit %d: %s", code, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "config.yaml")); string(got) != string(want) {
		t.Error("the written config.yaml is not config.yaml.example")
	}
	if out, code := run(t, dir, "-e", "-c", "config.yaml"); code == 0 || !strings.Contains(out, "already exists") {
		t.Errorf("-e over an existing file: exit %d: %s", code, out)
	}
	if out, code := run(t, dir, "--no-such-flag"); code == 0 || !strings.Contains(out, "Unknown flag") {
		t.Errorf("unknown flag: exit %d: %s", code, out)
	}
}

// minimalConfig is a config as an admin or a deployment tool might write
// it: no encryption, appservice namespace or database keys.
const minimalConfig = `homeserver:
    address: http://127.0.0.1:1
    domain: example.org
appservice:
    address: http://127.0.0.1:29340
bridge:
    permissions:
        example.org: user
network:
    networks:
        libera:
            address: irc.libera.chat
`

// The config upgrader, run by mxmain on -g and every start, writes
// otrbridge's defaults into a config that lacks them: encryption on, the
// bot cross-signed, otrbridge's own namespace; the registration has it too.
func TestUpgradedConfigIsPrivateByDefault(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(minimalConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, dir, "-g", "-c", "config.yaml", "-r", "registration.yaml"); code != 0 {
		t.Fatalf("-g: exit %d: %s", code, out)
	}
	var cfg struct {
		Encryption struct {
			Allow, Default bool
			SelfSign       bool `yaml:"self_sign"`
		}
		AppService struct {
			ID               string `yaml:"id"`
			UsernameTemplate string `yaml:"username_template"`
			Bot              struct{ Username string }
		} `yaml:"appservice"`
	}
	readYAML(t, filepath.Join(dir, "config.yaml"), &cfg)
	if e := cfg.Encryption; !e.Allow || !e.Default || !e.SelfSign {
		t.Errorf("written config: encryption %+v, want allow, default and self_sign", e)
	}
	if a := cfg.AppService; a.ID != "otrbridge" || a.Bot.Username != "otrbot" || a.UsernameTemplate != "otrirc_{{.}}" {
		t.Errorf("written config: appservice %+v", a)
	}
	var reg struct {
		ID         string `yaml:"id"`
		Localpart  string `yaml:"sender_localpart"`
		Namespaces struct {
			Users []struct{ Regex string } `yaml:"users"`
		} `yaml:"namespaces"`
	}
	readYAML(t, filepath.Join(dir, "registration.yaml"), &reg)
	var regexes []string
	for _, u := range reg.Namespaces.Users {
		regexes = append(regexes, u.Regex)
	}
	joined := strings.Join(regexes, " ")
	if reg.ID != "otrbridge" || reg.Localpart == "" || !strings.Contains(joined, "@otrirc_") || !strings.Contains(joined, "@otrbot:") || strings.Contains(joined, "@irc_") {
		t.Errorf("registration: id %q, namespaces %q", reg.ID, regexes)
	}
}

// With encryption off and no consent the bridge refuses to start, before
// it contacts the homeserver, and says why.
func TestEncryptionOffRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := minimalConfig + "encryption:\n    allow: false\n"
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, dir, "-g", "-c", "config.yaml", "-r", "registration.yaml"); code != 0 {
		t.Fatalf("-g: exit %d: %s", code, out)
	}
	out, code := run(t, dir, "-c", "config.yaml")
	if code != 11 || !strings.Contains(out, "end-to-bridge encryption is off") || !strings.Contains(out, "homeserver_may_read_messages") {
		t.Errorf("exit %d, want 11 and the reason; output:\n%s", code, out)
	}
	if strings.Contains(out, "Checking connection to homeserver") {
		t.Error("the bridge contacted the homeserver before refusing")
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// --version names the release and the commit the Makefile stamped in, on
// a release build too.
func TestVersionFlag(t *testing.T) {
	dir := t.TempDir()
	root, err := teststack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ldflags, want string }{
		{"-X main.Tag=v1.2.3 -X main.Release=v1.2.3 -X main.Commit=0123456789abcdef0123456789abcdef01234567 -X main.BuildTime=2026-01-02T03:04:05Z",
			"otrbridge v1.2.3 (commit 0123456789abcdef0123456789abcdef01234567, built at Fri, 02 Jan 2026 03:04:05 UTC with go"},
		{"-X main.Tag= -X main.Release=v1.2.3 -X main.Commit=0123456789abcdef0123456789abcdef01234567",
			"otrbridge v1.2.3+dev.01234567 (commit 0123456789abcdef0123456789abcdef01234567, built with go"},
	} {
		bin := filepath.Join(dir, "otrbridge")
		build := exec.Command("go", "build", "-tags", "goolm", "-ldflags", tc.ldflags, "-o", bin, "./cmd/otrbridge")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		for _, flag := range []string{"--version", "-v"} {
			out, err := exec.Command(bin, flag).CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), tc.want) {
				t.Errorf("%s with %s: %q, %v; want %q…", flag, tc.ldflags, out, err, tc.want)
			}
		}
	}
}
