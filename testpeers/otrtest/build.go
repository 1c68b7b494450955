// Package otrtest runs libotr 4.1.x as a test peer: a small C program of ours
// (testpeers/libotr/otrpeer.c) linked against Debian's libotr5-dev, driven
// over stdin/stdout (and python-potr the same way). Tests of the otr package
// use it for live interop; internal/teststack puts the same peer on IRC for
// the bridge's end-to-end tests and the demo. Launch and the Peer's methods
// return errors; StartLibotr and LibotrPeer tie a peer to a test.
//
// The package depends on nothing of the project, so the engine's tests do
// not pull in IRC or Matrix code.
package otrtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// RequirePeers reports whether a missing test peer (libotr, potr, and the
// servers of internal/teststack) must fail a test instead of skipping it:
// CI sets OTRBRIDGE_REQUIRE_PEERS=1.
func RequirePeers() bool { return os.Getenv("OTRBRIDGE_REQUIRE_PEERS") == "1" }

// ErrMissing marks a failure caused by an absent toolchain, libotr or
// python-potr, which tests may skip; any other error always fails.
var ErrMissing = errors.New("OTR test peer not installed")

// RepoRoot is the root of the source tree, found from this file's location so
// tests in any package can reach testpeers/ and otr/testdata/.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("otrtest: cannot locate source tree")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Testdata returns the path of a file in otr/testdata.
func Testdata(name string) string {
	return filepath.Join(RepoRoot(), "otr", "testdata", name)
}

var builds sync.Map // source name → *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// Build compiles testpeers/libotr/<name>.c once per process (cached across
// runs by the hash of the source) and returns the executable's path.
// Without gcc or libotr the error wraps ErrMissing.
func Build(name string) (string, error) {
	v, _ := builds.LoadOrStore(name, new(buildResult))
	b := v.(*buildResult)
	b.once.Do(func() { b.path, b.err = build(name) })
	if b.err != nil {
		return "", fmt.Errorf("building libotr peer %s: %w", name, b.err)
	}
	return b.path, nil
}

func build(name string) (string, error) {
	src := filepath.Join(RepoRoot(), "testpeers", "libotr", name+".c")
	code, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("reading peer source: %w", err)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", fmt.Errorf("%w: gcc: %v", ErrMissing, err)
	}
	sum := sha256.Sum256(code)
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "otrbridge-testpeers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating build cache: %w", err)
	}
	out := filepath.Join(dir, name+"-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp, err := os.CreateTemp(dir, name+"-*.tmp")
	if err != nil {
		return "", fmt.Errorf("creating build output: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(gcc, "-O2", "-Wall", "-rdynamic", "-o", tmp.Name(), src, "-lotr", "-lgcrypt")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "libotr/") && strings.Contains(msg, "No such file") ||
			strings.Contains(msg, "cannot find -lotr") || strings.Contains(msg, "cannot find -lgcrypt") {
			return "", fmt.Errorf("%w: libotr development files: %s", ErrMissing, firstLine(msg))
		}
		return "", fmt.Errorf("gcc %s: %v: %s", name, err, msg)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("installing built peer: %w", err)
	}
	return out, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
