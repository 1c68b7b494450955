package otrsession

import (
	"time"

	"github.com/otrbridge/otrbridge/otr"
)

// Idle peers. The manager keeps a peer's state from its first line on,
// and anyone on IRC can be a peer, so a peer that has been idle for
// peerIdleAfter and holds nothing that matters is forgotten: no private
// conversation, and no finished one (which refuses the user's messages
// until the user decides), no key exchange under way, no hold after a
// restart, nothing held, queued or still to be counted. Its next line
// starts afresh; policy and trust come from the database again.
//
// A private conversation is never dropped for being idle: its keys are
// the user's live conversation, which ends only when either side ends it,
// the peer's client forgets it, or the bridge restarts (then the user is
// told). Each needs a chat and a completed key exchange, both of which a
// stranger gets only within the login's budgets.

const (
	// peerIdleAfter is how long a peer is kept without any call about it.
	peerIdleAfter = 30 * time.Minute
	// evictEvery is how often the manager looks for idle peers.
	evictEvery = time.Minute
)

// evictIdle forgets the peers idle since peerIdleAfter that hold nothing
// that matters. Called from the timers (tick).
func (m *Manager) evictIdle(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.evictedAt) < evictEvery {
		return
	}
	m.evictedAt = now
	for uid, p := range m.peers {
		if now.Sub(p.lastUsed) < peerIdleAfter || !p.mu.TryLock() {
			continue
		}
		if p.disposableLocked(now) {
			delete(m.peers, uid)
		}
		p.mu.Unlock()
	}
}

// disposableLocked reports whether forgetting the peer loses nothing the
// user or the peer relies on. Called with mu held.
func (p *peer) disposableLocked(now time.Time) bool {
	if p.recovering || len(p.held) > 0 || len(p.pending) > 0 || p.secureCh != nil || now.Before(p.akePendingUntil) {
		return false
	}
	p.wire.mu.Lock()
	sending := p.wire.writing || len(p.wire.units) > 0
	p.wire.mu.Unlock()
	if sending {
		return false
	}
	for _, c := range p.noise {
		if c.more > 0 {
			return false
		}
	}
	p.effects.mu.Lock()
	busy := p.effects.running || len(p.effects.items) > 0
	p.effects.mu.Unlock()
	if busy {
		return false
	}
	if p.conv == nil {
		return true
	}
	for _, inf := range p.conv.Instances() {
		if inf.State != otr.Plaintext || inf.ExpectedVersion != 0 {
			return false
		}
	}
	return true
}
