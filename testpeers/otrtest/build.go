// Package otrtest runs libotr 4.1.x as a test peer: a small C program of ours
// (testpeers/libotr/otrpeer.c) linked against Debian's libotr5-dev, driven
// over stdin/stdout. Tests of the otr package use it for live interop, the
// bridge's end-to-end tests put the same peer on IRC.
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
	"testing"
)

// RequirePeers reports whether missing test peers must fail tests instead of
// skipping them (CI sets OTRBRIDGE_REQUIRE_PEERS=1).
func RequirePeers() bool { return os.Getenv("OTRBRIDGE_REQUIRE_PEERS") == "1" }

// errMissing marks a build failure caused by an absent toolchain or libotr,
// which tests may skip; any other build error always fails.
var errMissing = errors.New("libotr development files or gcc not installed")

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

// Binary compiles testpeers/libotr/<name>.c once per process (cached across
// runs by the hash of the source) and returns the executable's path. When
// gcc or libotr is missing it skips the test, or fails it under
// OTRBRIDGE_REQUIRE_PEERS=1.
func Binary(t testing.TB, name string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(name, new(buildResult))
	b := v.(*buildResult)
	b.once.Do(func() { b.path, b.err = build(name) })
	if b.err != nil {
		if errors.Is(b.err, errMissing) && !RequirePeers() {
			t.Skipf("skipping libotr interop: %v (set OTRBRIDGE_REQUIRE_PEERS=1 to make this fail)", b.err)
		}
		t.Fatalf("building libotr peer %s: %v", name, b.err)
	}
	return b.path
}

func build(name string) (string, error) {
	src := filepath.Join(RepoRoot(), "testpeers", "libotr", name+".c")
	code, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("reading peer source: %w", err)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", fmt.Errorf("%w: gcc: %v", errMissing, err)
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
			return "", fmt.Errorf("%w: %s", errMissing, firstLine(msg))
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
