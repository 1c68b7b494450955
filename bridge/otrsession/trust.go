package otrsession

import (
	"context"
	"fmt"
	"time"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// trustChange is what `trust`, `distrust` and `forget` do to a stored
// fingerprint; its value is the command's name.
type trustChange string

const (
	trustSet    trustChange = "trust"
	trustUnset  trustChange = "distrust"
	trustForget trustChange = "forget"
)

// Trust marks a fingerprint of the peer as verified by the user:
// fingerprint (any spacing or case), or the one in use when it is empty.
func (m *Manager) Trust(ctx context.Context, link PeerLink, fingerprint string) (string, error) {
	return m.changeTrust(ctx, link, trustSet, fingerprint)
}

// Distrust withdraws the trust in a fingerprint of the peer (as Trust).
func (m *Manager) Distrust(ctx context.Context, link PeerLink, fingerprint string) (string, error) {
	return m.changeTrust(ctx, link, trustUnset, fingerprint)
}

// Forget deletes a fingerprint of the peer from the trust store (as
// Trust); the one in use by a private conversation stays.
func (m *Manager) Forget(ctx context.Context, link PeerLink, fingerprint string) (string, error) {
	return m.changeTrust(ctx, link, trustForget, fingerprint)
}

func (m *Manager) changeTrust(ctx context.Context, link PeerLink, name trustChange, fingerprint string) (string, error) {
	p := m.peer(link)
	p.mu.Lock()
	p.link = link
	var cur otr.Fingerprint
	hasCur, active := false, false
	if p.conv != nil {
		inf := p.conv.Info()
		cur, hasCur, active = inf.Fingerprint, inf.HasFingerprint, inf.State == otr.Encrypted
	}
	p.mu.Unlock()
	var fp otr.Fingerprint
	switch {
	case fingerprint != "":
		var err error
		if fp, err = otr.ParseFingerprint(fingerprint); err != nil {
			return "", fmt.Errorf("not a fingerprint: %w", err)
		}
	case hasCur:
		fp = cur
	default:
		return "", fmt.Errorf("no fingerprint of %s known in this session; give one (`%s <fingerprint>`)", link.Nick(), name)
	}
	now := time.Now()
	u, n := m.cfg.User, m.cfg.Network
	rec, err := m.cfg.DB.Fingerprints.Get(ctx, u, n, p.key, fp[:])
	if err != nil {
		return "", err
	}
	if rec == nil {
		return "", fmt.Errorf("%s is not a known fingerprint of %s (`!otr info` lists them)", fp, link.Nick())
	}
	var reply string
	var trust db.Trust
	switch name {
	case trustSet:
		trust = db.TrustManual
		if err := m.cfg.DB.Fingerprints.SetTrust(ctx, u, n, p.key, fp[:], trust, "manually", now); err != nil {
			return "", err
		}
		reply = fmt.Sprintf("You now trust %s's fingerprint %s.", link.Nick(), fp)
	case trustUnset:
		trust = db.TrustNone
		if err := m.cfg.DB.Fingerprints.SetTrust(ctx, u, n, p.key, fp[:], trust, "", now); err != nil {
			return "", err
		}
		reply = fmt.Sprintf("%s's fingerprint %s is no longer trusted.", link.Nick(), fp)
	case trustForget:
		if active && fp == cur {
			return "", fmt.Errorf("%s is in use by the private conversation; `!otr finish` it first", fp)
		}
		if _, err := m.cfg.DB.Fingerprints.Forget(ctx, u, n, p.key, fp[:]); err != nil {
			return "", err
		}
		reply = fmt.Sprintf("Forgot %s's fingerprint %s.", link.Nick(), fp)
	}
	p.mu.Lock()
	var fx []effect
	switch name {
	case trustForget:
		delete(p.trust, fp)
	case trustSet:
		p.trust[fp] = trust
		fx = p.acceptKey(fp)
	default:
		p.trust[fp] = trust
	}
	p.release(ctx, append(fx, p.stateEffect()))
	return reply, nil
}
