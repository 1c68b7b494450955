package libotrfile

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
)

// Fingerprint is one line of libotr's fingerprints file: a peer's key
// fingerprint as seen from one of our accounts, and the trust given to it.
type Fingerprint struct {
	Username    string // the peer
	Account     string // our account
	Protocol    string
	Fingerprint [20]byte
	Trust       string // "" when not trusted; libotr writes "smp" or "verified" otherwise
}

// ParseFingerprints reads a libotr fingerprints file. Empty lines are
// skipped; any other line that libotr could not read is an error.
func ParseFingerprints(data []byte) ([]Fingerprint, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	var out []Fingerprint
	for i, line := range lines(data) {
		if line == "" {
			continue
		}
		// The trust field runs to the end of the line and may be missing.
		f := strings.SplitN(line, "\t", 5)
		if len(f) < 4 {
			return nil, fmt.Errorf("%w: line %d: %d fields, want 5", ErrMalformed, i+1, len(f))
		}
		var fp Fingerprint
		if len(f[3]) != 40 {
			return nil, fmt.Errorf("%w: line %d: fingerprint is not 40 hex digits", ErrMalformed, i+1)
		}
		if _, err := hex.Decode(fp.Fingerprint[:], []byte(f[3])); err != nil {
			return nil, fmt.Errorf("%w: line %d: fingerprint is not 40 hex digits", ErrMalformed, i+1)
		}
		fp.Username, fp.Account, fp.Protocol = f[0], f[1], f[2]
		if len(f) == 5 {
			fp.Trust = f[4]
		}
		out = append(out, fp)
	}
	return out, nil
}

// MarshalFingerprints writes fps in libotr's format.
func MarshalFingerprints(fps []Fingerprint) ([]byte, error) {
	var b bytes.Buffer
	for i, f := range fps {
		for _, s := range []string{f.Username, f.Account, f.Protocol} {
			if strings.ContainsAny(s, "\t\r\n") {
				return nil, fmt.Errorf("%w: entry %d: tab or line break in a name", ErrInvalidField, i+1)
			}
		}
		if strings.ContainsAny(f.Trust, "\r\n") {
			return nil, fmt.Errorf("%w: entry %d: line break in the trust field", ErrInvalidField, i+1)
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%x\t%s\n", f.Username, f.Account, f.Protocol, f.Fingerprint, f.Trust)
	}
	return b.Bytes(), nil
}

// lines splits a text file into lines without their "\n" or "\r\n".
func lines(data []byte) []string {
	s := strings.Split(string(data), "\n")
	if len(s) > 0 && s[len(s)-1] == "" {
		s = s[:len(s)-1]
	}
	for i := range s {
		s[i] = strings.TrimSuffix(s[i], "\r")
	}
	return s
}
