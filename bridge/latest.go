package bridge

import (
	"sync"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

// latestByPeer is work waiting per peer for one worker at a time: a peer
// that changes often (renames in a loop) gets one run after another, each
// with its latest value, never two at once and never a queue of stale ones.
type latestByPeer[V any] struct {
	mu      sync.Mutex
	next    map[networkid.UserID]V
	running map[networkid.UserID]bool
}

// put records v as uid's latest value. It reports whether the caller must
// start the worker, which then takes values until take says none is left.
func (l *latestByPeer[V]) put(uid networkid.UserID, v V) (start bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next == nil {
		l.next, l.running = map[networkid.UserID]V{}, map[networkid.UserID]bool{}
	}
	l.next[uid] = v
	if l.running[uid] {
		return false
	}
	l.running[uid] = true
	return true
}

// take returns uid's latest value; false means none is waiting and the
// worker must end (a later put starts a new one).
func (l *latestByPeer[V]) take(uid networkid.UserID) (V, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.next[uid]
	if !ok {
		delete(l.running, uid)
		return v, false
	}
	delete(l.next, uid)
	return v, true
}
