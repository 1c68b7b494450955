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

// AccountInstanceTag is one line of libotr's instance tags file.
type AccountInstanceTag struct {
	Account, Protocol string
	Tag               InstanceTag
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

// ExportLibotrPrivateKeys writes keys in libotr's private key file format.
func ExportLibotrPrivateKeys(w io.Writer, keys []AccountKey) error {
	in := make([]libotrfile.PrivateKey, 0, len(keys))
	for _, k := range keys {
		p := k.Key.pub
		in = append(in, libotrfile.PrivateKey{Account: k.Account, Protocol: k.Protocol, P: p.p, Q: p.q, G: p.g, Y: p.y, X: k.Key.x})
	}
	b, err := libotrfile.MarshalPrivateKeys(in)
	if err != nil {
		return fmt.Errorf("otr: writing libotr private keys: %w", err)
	}
	_, err = w.Write(b)
	return err
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

// ParseLibotrInstanceTags reads libotr's instance tags file.
func ParseLibotrInstanceTags(r io.Reader) ([]AccountInstanceTag, error) {
	b, err := readFile(r)
	if err != nil {
		return nil, err
	}
	tags, err := libotrfile.ParseInstanceTags(b)
	if err != nil {
		return nil, fmt.Errorf("otr: libotr instance tags file: %w", err)
	}
	out := make([]AccountInstanceTag, 0, len(tags))
	for _, t := range tags {
		out = append(out, AccountInstanceTag{Account: t.Account, Protocol: t.Protocol, Tag: InstanceTag(t.Tag)})
	}
	return out, nil
}

// WriteLibotrInstanceTags writes tags in libotr's instance tags format.
func WriteLibotrInstanceTags(w io.Writer, tags []AccountInstanceTag) error {
	in := make([]libotrfile.InstanceTag, 0, len(tags))
	for _, t := range tags {
		in = append(in, libotrfile.InstanceTag{Account: t.Account, Protocol: t.Protocol, Tag: uint32(t.Tag)})
	}
	b, err := libotrfile.MarshalInstanceTags(in)
	if err != nil {
		return fmt.Errorf("otr: writing libotr instance tags: %w", err)
	}
	_, err = w.Write(b)
	return err
}
