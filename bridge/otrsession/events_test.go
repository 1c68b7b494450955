package otrsession

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/db"
)

// The new-key warning names a bounded number of earlier keys: the verified
// ones first, then the most recently seen.
func TestFormerKeysBounded(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	var others []*db.Fingerprint
	for i := range 12 {
		f := &db.Fingerprint{Fingerprint: bytes.Repeat([]byte{byte(i + 1)}, 20), Trust: db.TrustNone, LastSeen: t0.Add(time.Duration(i) * time.Hour)}
		if i == 2 {
			f.Trust = db.TrustSMP
		}
		others = append(others, f)
	}
	got := formerKeys(others)
	want := []string{fingerprintText(others[2].Fingerprint) + " (verified)", fingerprintText(others[11].Fingerprint), fingerprintText(others[10].Fingerprint), "and 9 other key(s) seen longer ago"}
	if !strings.HasPrefix(got, strings.Join(want[:3], ", ")) || !strings.HasSuffix(got, want[3]) {
		t.Errorf("formerKeys = %q", got)
	}
	if n := strings.Count(got, " "); n > 40 {
		t.Errorf("warning text not bounded: %q", got)
	}
}
