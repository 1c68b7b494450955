package otrsession

import (
	"context"
	"slices"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

// State is the state of the conversation with one peer, as shown to the
// Matrix user (for example in the room topic).
type State int

const (
	// StatePlaintext: no private conversation; messages travel in clear.
	StatePlaintext State = iota
	// StatePrivateUnverified: encrypted, but the peer's fingerprint is not
	// verified (no `trust`, no successful SMP).
	StatePrivateUnverified
	// StatePrivateVerified: encrypted to a verified fingerprint.
	StatePrivateVerified
	// StateFinished: the peer ended the private conversation; sending is
	// refused until `!otr finish` or `!otr init`.
	StateFinished

	// stateUnshown: the state shown in the portal is not known (after a
	// restart that cut a private conversation off).
	stateUnshown State = -1
)

func (s State) String() string {
	switch s {
	case StatePrivateUnverified:
		return "private (unverified)"
	case StatePrivateVerified:
		return "private (verified)"
	case StateFinished:
		return "finished"
	}
	return "plaintext"
}

// SessionStates counts the peers the manager keeps by the state of their
// conversation (for metrics).
func (m *Manager) SessionStates() map[State]int {
	m.mu.Lock()
	peers := make([]*peer, 0, len(m.peers))
	for _, p := range m.peers {
		peers = append(peers, p)
	}
	m.mu.Unlock()
	counts := make(map[State]int, 4)
	for _, p := range peers {
		p.mu.Lock()
		counts[p.state()]++
		p.mu.Unlock()
	}
	return counts
}

// RestartedPeers lists the peers (their IDs) whose private conversation a
// bridge restart cut off and who have not been told yet. The bridge may
// call Announce for each right after the login connects instead of
// waiting for the first message.
func (m *Manager) RestartedPeers() []networkid.UserID {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]networkid.UserID, 0, len(m.restarts))
	for k := range m.restarts {
		out = append(out, networkid.UserID(k))
	}
	slices.Sort(out)
	return out
}

// Announce gives the restart notice to link's portal now (if it is due)
// and shows the state.
func (m *Manager) Announce(ctx context.Context, link PeerLink) {
	p := m.peer(link)
	p.mu.Lock()
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		m.log.Err(err).Msg("Failed to resolve OTR policy")
	}
	p.release(ctx, append(p.restartEffects(), p.stateEffect()))
}
