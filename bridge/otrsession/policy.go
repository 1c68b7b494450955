package otrsession

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// resolvePolicy finds the policy for a peer: services and channels never
// get OTR; otherwise the user's override for the peer, else the user's
// default for the network, else the network's default from the config.
func (m *Manager) resolvePolicy(ctx context.Context, nick, key string) (otr.Policy, db.Scope, error) {
	if m.bypass(nick) {
		return otr.PolicyNever, db.ScopeNone, nil
	}
	name, scope, err := m.cfg.DB.Policies.Effective(ctx, m.cfg.User, m.cfg.Network, key)
	if err != nil {
		return 0, 0, err
	}
	if scope == db.ScopeNone {
		name = db.Policy(m.cfg.DefaultPolicy)
	}
	pol, err := otr.ParsePolicy(string(name))
	if err != nil {
		return 0, 0, err
	}
	return pol, scope, nil
}

// Policy tells the policy for the peer and where it comes from.
func (m *Manager) Policy(ctx context.Context, link PeerLink) (string, error) {
	p := m.peer(link)
	p.mu.Lock()
	p.link = link
	err := p.loadPolicy(ctx)
	pol, scope := p.policy, p.policyScope
	p.mu.Unlock()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("OTR policy for %s: %s (%s).", link.Nick(), policyName(pol), map[db.Scope]string{db.ScopeNone: "network default", db.ScopeUser: "your default", db.ScopePeer: "set for this chat"}[scope]), nil
}

// SetPolicy sets the policy for the peer: never, manual, opportunistic,
// always, or reset (back to the user's default). Turning OTR off ends a
// private conversation.
func (m *Manager) SetPolicy(ctx context.Context, link PeerLink, policy string) (string, error) {
	nick := link.Nick()
	if m.bypass(nick) {
		return "", fmt.Errorf("%s is a service (or a channel): it never gets OTR", nick)
	}
	p := m.peer(link)
	word := strings.ToLower(policy)
	if word == "reset" {
		if _, err := m.cfg.DB.Policies.Delete(ctx, m.cfg.User, m.cfg.Network, p.key); err != nil {
			return "", err
		}
	} else {
		if !db.Policy(word).Valid() {
			return "", fmt.Errorf("unknown policy %q: use never, manual, opportunistic or always", policy)
		}
		if err := m.cfg.DB.Policies.Set(ctx, m.cfg.User, m.cfg.Network, p.key, db.Policy(word), time.Now()); err != nil {
			return "", err
		}
	}
	m.applyPolicy(ctx, p)
	p.mu.Lock()
	pol := p.policy
	p.mu.Unlock()
	return fmt.Sprintf("OTR policy for %s is now %s.", nick, policyName(pol)), nil
}

// DefaultPolicy tells the user's default policy on the network.
func (m *Manager) DefaultPolicy(ctx context.Context) (string, error) {
	pol, ok, err := m.cfg.DB.Policies.Get(ctx, m.cfg.User, m.cfg.Network, db.DefaultPeer)
	if err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("Your OTR policy on %s: %s (network default).", m.cfg.Network, m.cfg.DefaultPolicy), nil
	}
	return fmt.Sprintf("Your OTR policy on %s: %s (network default: %s).", m.cfg.Network, pol, m.cfg.DefaultPolicy), nil
}

// SetDefaultPolicy sets the user's default policy on the network (or
// resets it to the network's); peers with their own policy keep it.
func (m *Manager) SetDefaultPolicy(ctx context.Context, policy string) (string, error) {
	word := strings.ToLower(policy)
	if word == "reset" {
		if _, err := m.cfg.DB.Policies.Delete(ctx, m.cfg.User, m.cfg.Network, db.DefaultPeer); err != nil {
			return "", err
		}
		word = m.cfg.DefaultPolicy
	} else {
		if !db.Policy(word).Valid() {
			return "", fmt.Errorf("unknown policy %q: use never, manual, opportunistic or always", policy)
		}
		if err := m.cfg.DB.Policies.Set(ctx, m.cfg.User, m.cfg.Network, db.DefaultPeer, db.Policy(word), time.Now()); err != nil {
			return "", err
		}
	}
	for _, p := range m.allPeers() {
		m.applyPolicy(ctx, p)
	}
	return fmt.Sprintf("Your OTR policy on %s is now %s (chats with their own policy keep it).", m.cfg.Network, word), nil
}

// applyPolicy reloads a peer's policy; turning OTR off ends its private
// conversation.
func (m *Manager) applyPolicy(ctx context.Context, p *peer) {
	p.mu.Lock()
	p.policyValid = false
	if err := p.loadPolicy(ctx); err != nil {
		p.mu.Unlock()
		m.log.Err(err).Msg("Failed to reload OTR policy")
		return
	}
	var fx []effect
	if p.policy == otr.PolicyNever && p.conv != nil {
		p.setRecovering(false)
		fx = p.endConversation(ctx, time.Now(), errPolicyOff)
	}
	p.release(ctx, fx)
}

var errPolicyOff = &SendError{Err: ErrNotPrivate, Text: "Not sent: OTR was turned off for this chat while the message waited for a private conversation."}
