package otrsession

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// Info describes the conversation with a peer: state, protocol, both
// fingerprints, the session ID, verification and policy, and the peer's
// known fingerprints.
func (m *Manager) Info(ctx context.Context, link PeerLink) (string, error) {
	p := m.peer(link)
	p.mu.Lock()
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		p.mu.Unlock()
		return "", err
	}
	nick := link.Nick()
	var b strings.Builder
	fmt.Fprintf(&b, "OTR with %s: %s.\n", nick, p.state())
	if p.conv != nil {
		inf := p.conv.Info()
		if inf.Version != 0 {
			fmt.Fprintf(&b, "Protocol: OTR v%d; their instance %s, ours %s.\n", inf.Version, inf.TheirInstance, inf.OurInstance)
		}
		if inf.HasFingerprint {
			fmt.Fprintf(&b, "Their fingerprint: %s (%s).\n", inf.Fingerprint, trustText(p.trust[inf.Fingerprint]))
		}
		if inf.State == otr.Encrypted {
			fmt.Fprintf(&b, "Session ID: %s\n", ssidText(inf))
		}
		switch inf.SMP {
		case otr.SMPWaitingForSecret:
			fmt.Fprintf(&b, "Verification: %s is waiting for your answer (`!otr auth <secret>`).\n", nick)
		case otr.SMPInProgress:
			b.WriteString("Verification: in progress.\n")
		}
	}
	if p.recovering {
		b.WriteString("Messages are held until a new private conversation is up (the last one ended without `finish`: a bridge restart, or the peer left or lost it).\n")
	}
	if p.conv != nil {
		if fp, refused := p.conv.RefusedKey(); refused {
			fmt.Fprintf(&b, "Messages to this private conversation are REFUSED: its key %s is not one you know %s by. Verify it (`!otr auth`, or `!otr trust`) to send, or `!otr finish`.\n", fp, nick)
		}
	}
	scope := map[db.Scope]string{db.ScopeNone: "network default", db.ScopeUser: "your default on this network", db.ScopePeer: "set for this chat"}[p.policyScope]
	if p.exempt {
		scope = "a configured service: no OTR"
	}
	fmt.Fprintf(&b, "Policy: %s (%s).\n", policyName(p.policy), scope)
	p.mu.Unlock()
	if id := m.identity(); id.isReady() && id.err == nil {
		fmt.Fprintf(&b, "Your fingerprint: %s\n", id.key.Public().Fingerprint())
	}
	fps, err := m.cfg.DB.Fingerprints.List(ctx, m.cfg.User, m.cfg.Network, p.key)
	if err != nil {
		return "", err
	}
	if len(fps) > 0 {
		b.WriteString("Known fingerprints:")
		for _, r := range fps {
			fmt.Fprintf(&b, "\n  %s — %s; seen %s to %s as %s", fingerprintText(r.Fingerprint), trustText(r.Trust),
				r.FirstSeen.UTC().Format("2006-01-02"), r.LastSeen.UTC().Format("2006-01-02"), strings.Join(r.Nicks, ", "))
			if r.Trust.Trusted() && r.VerifiedHow != "" {
				fmt.Fprintf(&b, " (verified %s, %s)", r.VerifiedHow, r.VerifiedAt.UTC().Format("2006-01-02"))
			}
		}
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// ssidText shows the session ID as libotr does: the half to read out
// loud to the peer in bold.
func ssidText(inf otr.Info) string {
	a := fmt.Sprintf("%X", inf.SSID[:4])
	c := fmt.Sprintf("%X", inf.SSID[4:])
	if inf.SSIDHighHalf {
		return fmt.Sprintf("%s **%s** (compare with the peer's)", a, c)
	}
	return fmt.Sprintf("**%s** %s (compare with the peer's)", a, c)
}

func trustText(t db.Trust) string {
	switch t {
	case db.TrustSMP:
		return "verified by SMP"
	case db.TrustManual:
		return "verified by you"
	}
	return "NOT verified"
}

func policyName(p otr.Policy) string {
	for _, n := range []db.Policy{db.PolicyNever, db.PolicyManual, db.PolicyOpportunistic, db.PolicyAlways} {
		if q, _ := otr.ParsePolicy(string(n)); q == p {
			return string(n)
		}
	}
	return p.String()
}

// Contexts lists every peer with a conversation, and its instances.
func (m *Manager) Contexts() string {
	peers := m.allPeers()
	var lines []string
	for _, p := range peers {
		p.mu.Lock()
		if p.conv != nil {
			l := fmt.Sprintf("%s: %s", p.link.Nick(), p.state())
			for _, inf := range p.conv.Instances() {
				l += fmt.Sprintf("\n  instance %s: %s", inf.TheirInstance, inf.State)
				if inf.Version != 0 {
					l += fmt.Sprintf(", v%d", inf.Version)
				}
				if inf.HasFingerprint {
					l += fmt.Sprintf(", %s (%s)", inf.Fingerprint, trustText(p.trust[inf.Fingerprint]))
				}
			}
			lines = append(lines, l)
		}
		p.mu.Unlock()
	}
	if len(lines) == 0 {
		return "No OTR conversations since the bridge started."
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Fingerprint tells the user their own fingerprint on the network.
func (m *Manager) Fingerprint(ctx context.Context) (string, error) {
	id, err := m.waitIdentity(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Your OTR fingerprint on %s: %s", m.cfg.Network, id.key.Public().Fingerprint()), nil
}
