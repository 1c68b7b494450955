package otrsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// ImportLibotrKey imports the key of one account from a libotr private key
// file (otr.private_key), replacing the current identity. account picks
// the account when the file has several ("" works when there is one).
func (m *Manager) ImportLibotrKey(ctx context.Context, file []byte, account string) (string, error) {
	keys, err := otr.ImportLibotrPrivateKeys(bytes.NewReader(file))
	if err != nil {
		return "", fmt.Errorf("not a usable libotr private key file: %w", err)
	}
	var chosen *otr.AccountKey
	var names []string
	for i, k := range keys {
		names = append(names, k.Account+" ("+k.Protocol+")")
		if account == "" && len(keys) == 1 || account != "" && strings.EqualFold(k.Account, account) {
			chosen = &keys[i]
		}
	}
	if chosen == nil {
		if len(keys) == 0 {
			return "", errors.New("the file contains no keys")
		}
		return "", fmt.Errorf("the file has keys for %s; say which account to import", strings.Join(names, ", "))
	}
	tag := otr.InstanceTag(0)
	if id := m.identity(); id.isReady() && id.err == nil {
		tag = id.tag
	}
	if tag == 0 {
		if tag, err = otr.NewInstanceTag(m.rand()); err != nil {
			return "", err
		}
	}
	if err := m.storeIdentity(ctx, chosen.Key, tag); err != nil {
		return "", err
	}
	id := &identity{ready: make(chan struct{}), key: chosen.Key, tag: tag}
	close(id.ready)
	m.replaceIdentity(ctx, id)
	return fmt.Sprintf("Imported the key of %s. Your fingerprint on %s is now %s.", chosen.Account, m.cfg.Network, chosen.Key.Public().Fingerprint()), nil
}

// ImportLibotrFingerprints imports a libotr fingerprints file: every
// fingerprint of a peer the bridge can resolve is stored, with libotr's
// trust (any non-empty trust counts as verified). account, if not empty,
// keeps only that account's lines.
func (m *Manager) ImportLibotrFingerprints(ctx context.Context, file []byte, account string) (string, error) {
	fps, err := otr.ParseLibotrFingerprints(bytes.NewReader(file))
	if err != nil {
		return "", fmt.Errorf("not a usable libotr fingerprints file: %w", err)
	}
	if m.cfg.Resolve == nil {
		return "", errors.New("importing fingerprints is not available on this bridge")
	}
	now := time.Now()
	imported, trusted, skipped := 0, 0, 0
	for _, kf := range fps {
		if account != "" && !strings.EqualFold(kf.Account, account) {
			continue
		}
		nick, _, _ := strings.Cut(kf.Username, "@") // Pidgin writes nick@server
		link, err := m.cfg.Resolve(ctx, nick)
		if err != nil {
			skipped++
			continue
		}
		key := peerKey(link)
		if _, err := m.cfg.DB.Fingerprints.Seen(ctx, m.cfg.User, m.cfg.Network, key, link.Nick(), kf.Fingerprint[:], now); err != nil {
			return "", err
		}
		imported++
		if kf.Trust != "" {
			if err := m.cfg.DB.Fingerprints.SetTrust(ctx, m.cfg.User, m.cfg.Network, key, kf.Fingerprint[:], db.TrustManual, "libotr import ("+kf.Trust+")", now); err != nil {
				return "", err
			}
			trusted++
		}
		if p := m.existingPeer(link.PeerID()); p != nil && kf.Trust != "" {
			p.mu.Lock()
			p.trust[kf.Fingerprint] = db.TrustManual
			p.mu.Unlock()
			p.refreshState(ctx)
		}
	}
	msg := fmt.Sprintf("Imported %d fingerprint(s), %d of them verified.", imported, trusted)
	if skipped > 0 {
		msg += fmt.Sprintf(" Skipped %d with a name that is not a valid nick.", skipped)
	}
	return msg, nil
}

// ExportFingerprints writes the trust store of this network in libotr's
// fingerprints file format (trust "verified" for manual, "smp" for SMP).
func (m *Manager) ExportFingerprints(ctx context.Context) ([]byte, error) {
	recs, err := m.cfg.DB.Fingerprints.List(ctx, m.cfg.User, m.cfg.Network, "")
	if err != nil {
		return nil, err
	}
	account := m.cfg.Account
	if account == "" {
		account = m.cfg.Network
	}
	var out []otr.KnownFingerprint
	for _, r := range recs {
		if len(r.Fingerprint) != len(otr.Fingerprint{}) {
			continue
		}
		nick := r.Peer
		if len(r.Nicks) > 0 {
			nick = r.Nicks[len(r.Nicks)-1]
		}
		kf := otr.KnownFingerprint{Username: nick, Account: account, Protocol: "prpl-irc", Fingerprint: otr.Fingerprint(r.Fingerprint)}
		switch r.Trust {
		case db.TrustSMP:
			kf.Trust = "smp"
		case db.TrustManual:
			kf.Trust = "verified"
		}
		out = append(out, kf)
	}
	var b bytes.Buffer
	if len(out) == 0 {
		return nil, nil
	}
	if err := otr.WriteLibotrFingerprints(&b, out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
