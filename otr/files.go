package otr

import (
	"fmt"
	"io"

	"github.com/otrbridge/otrbridge/otr/internal/libotrfile"
)

// AccountKey is one account's key in libotr's private key file.
type AccountKey struct {
	Account, Protocol string
	Key               *PrivateKey
}

// KnownFingerprint is one line of libotr's fingerprints file.
type KnownFingerprint struct {
	Username, Account, Protocol string
	Fingerprint                 Fingerprint
	// Trust is "" for untrusted; libotr writes "smp" or "verified".
	Trust string
}

func readFile(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, libotrfile.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("otr: reading libotr file: %w", err)
	}
	return b, nil // the parsers reject anything over MaxFileSize
}

// ImportLibotrPrivateKeys reads libotr's private key file (otr.private_key
// of irssi, Pidgin and others).
func ImportLibotrPrivateKeys(r io.Reader) ([]AccountKey, error) {
	b, err := readFile(r)
	if err != nil {
		return nil, err
	}
	keys, err := libotrfile.ParsePrivateKeys(b)
	if err != nil {
		return nil, fmt.Errorf("otr: libotr private key file: %w", err)
	}
	out := make([]AccountKey, 0, len(keys))
	for _, k := range keys {
		pk, err := newPrivateKey(k.P, k.Q, k.G, k.Y, k.X)
		if err != nil {
			return nil, fmt.Errorf("otr: key of account %q: %w", k.Account, err)
		}
		out = append(out, AccountKey{Account: k.Account, Protocol: k.Protocol, Key: pk})
	}
	return out, nil
}

// ParseLibotrFingerprints reads libotr's fingerprints file.
func ParseLibotrFingerprints(r io.Reader) ([]KnownFingerprint, error) {
	b, err := readFile(r)
	if err != nil {
		return nil, err
	}
	fps, err := libotrfile.ParseFingerprints(b)
	if err != nil {
		return nil, fmt.Errorf("otr: libotr fingerprints file: %w", err)
	}
	out := make([]KnownFingerprint, 0, len(fps))
	for _, f := range fps {
		out = append(out, KnownFingerprint{Username: f.Username, Account: f.Account, Protocol: f.Protocol, Fingerprint: f.Fingerprint, Trust: f.Trust})
	}
	return out, nil
}

// WriteLibotrFingerprints writes fps in libotr's fingerprints file format.
func WriteLibotrFingerprints(w io.Writer, fps []KnownFingerprint) error {
	in := make([]libotrfile.Fingerprint, 0, len(fps))
	for _, f := range fps {
		in = append(in, libotrfile.Fingerprint{Username: f.Username, Account: f.Account, Protocol: f.Protocol, Fingerprint: f.Fingerprint, Trust: f.Trust})
	}
	b, err := libotrfile.MarshalFingerprints(in)
	if err != nil {
		return fmt.Errorf("otr: writing libotr fingerprints: %w", err)
	}
	_, err = w.Write(b)
	return err
}
