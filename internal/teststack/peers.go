package teststack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// Missing stops the test because a peer it needs (InspIRCd, Dendrite,
// PostgreSQL) is not installed: it fails under OTRBRIDGE_REQUIRE_PEERS=1
// (otrtest.RequirePeers) and skips otherwise.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if otrtest.RequirePeers() {
		t.Fatalf("required peer missing (OTRBRIDGE_REQUIRE_PEERS=1): %s", msg)
	}
	t.Skipf("peer missing, skipping (set OTRBRIDGE_REQUIRE_PEERS=1 to fail instead): %s", msg)
}

// findExecutable looks for name in PATH and in the given directories.
func findExecutable(name string, dirs ...string) (string, error) {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found in %s or PATH", name, strings.Join(dirs, ", "))
	}
	return p, nil
}

// GoBin is the directory `go install` puts binaries in (Dendrite's).
func GoBin() string { return goBin() }

func goBin() string {
	if d := os.Getenv("GOBIN"); d != "" {
		return d
	}
	if d := os.Getenv("GOPATH"); d != "" {
		return filepath.Join(strings.Split(d, string(os.PathListSeparator))[0], "bin")
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			return filepath.Join(d, "bin")
		}
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}
