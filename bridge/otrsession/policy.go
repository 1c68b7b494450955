package otrsession

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// resolvePolicy finds the policy for the peer: exempt peers (channels,
// configured services) never get OTR; otherwise the user's override for
// the peer, else the user's default for the network, else the network's
// default from the config. Called with mu held.
func (p *peer) resolvePolicy(ctx context.Context) (otr.Policy, db.Scope, error) {
	m := p.m
	exempt, err := p.isExempt(ctx)
	if err != nil {
		return 0, 0, err
	}
	p.exempt = exempt
	if exempt {
		return otr.PolicyNever, db.ScopeNone, nil
	}
	name, scope, err := m.cfg.DB.Policies.Effective(ctx, m.cfg.User, m.cfg.Network, p.key)
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

// isExempt reports a peer that never gets OTR: a channel, or a nick on
// the configured services list that the user has never had OTR with. A
// nick is only a name: anyone may take a free service name, or be given
// one by an oper (SANICK), so a peer with a conversation, a stored
// fingerprint or a policy of its own keeps OTR whatever it is called.
// Called with mu held.
func (p *peer) isExempt(ctx context.Context) (bool, error) {
	m := p.m
	nick := p.link.Nick()
	if isChannel(nick) {
		return true, nil
	}
	if !m.cfg.IsService(nick) || p.conv != nil {
		return false, nil
	}
	_, own, err := m.cfg.DB.Policies.Get(ctx, m.cfg.User, m.cfg.Network, p.key)
	if err != nil || own {
		return false, err
	}
	fps, err := m.cfg.DB.Fingerprints.List(ctx, m.cfg.User, m.cfg.Network, p.key)
	return err == nil && len(fps) == 0, err
}

// isChannel reports a channel name (channels never get OTR).
func isChannel(name string) bool {
	return name == "" || strings.ContainsRune("#&!+", rune(name[0]))
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
// always, or reset (back to the user's default). A policy of its own
// gives a configured service OTR too. A new policy applies to the next
// conversation: a private or finished one stays as it is until `finish`.
func (m *Manager) SetPolicy(ctx context.Context, link PeerLink, policy string) (string, error) {
	nick := link.Nick()
	if isChannel(nick) {
		return "", fmt.Errorf("%s is a channel: channels never get OTR", nick)
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
	live := m.applyPolicy(ctx, p)
	p.mu.Lock()
	pol := p.policy
	p.mu.Unlock()
	return fmt.Sprintf("OTR policy for %s is now %s.%s", nick, policyName(pol), live), nil
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
	live := 0
	for _, p := range m.allPeers() {
		if m.applyPolicy(ctx, p) != "" {
			live++
		}
	}
	text := fmt.Sprintf("Your OTR policy on %s is now %s (chats with their own policy keep it).", m.cfg.Network, word)
	if live > 0 {
		text += fmt.Sprintf(" %d private or finished conversation(s) are not affected until you run `finish` in them.", live)
	}
	return text, nil
}

// applyPolicy reloads a peer's policy. Turning OTR off drops a
// conversation that is not private (messages waiting for one fail); a
// private or finished conversation is never ended by a policy: that is
// what `finish` is for. It returns a remark for the user about such a
// conversation (empty if there is none).
func (m *Manager) applyPolicy(ctx context.Context, p *peer) string {
	p.mu.Lock()
	p.policyValid = false
	if err := p.loadPolicy(ctx); err != nil {
		p.mu.Unlock()
		m.log.Err(err).Msg("Failed to reload OTR policy")
		return ""
	}
	var fx []effect
	remark := ""
	switch {
	case p.conversationProtected():
		remark = fmt.Sprintf(" The current conversation with %s is not affected: it stays %s until you run `!otr finish`.", p.link.Nick(), p.state())
	case p.policy == otr.PolicyNever && p.conv != nil:
		p.setRecovering(false)
		fx = p.endConversation(ctx, time.Now(), errPolicyOff)
	}
	p.release(ctx, fx)
	return remark
}

var errPolicyOff = &SendError{Err: ErrNotPrivate, Text: "Not sent: OTR was turned off for this chat while the message waited for a private conversation."}
