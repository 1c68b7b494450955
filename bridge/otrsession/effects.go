package otrsession

import (
	"context"
	"sync"
)

// effect is one thing the Matrix user sees of a peer: a delivered message,
// a notice, or the state at a glance. Effects are decided under the peer's
// lock (with the link current then) and run after it, by release.
type effect func(ctx context.Context)

// effectOrder keeps the Matrix side of one peer in the order of the
// decisions: the effects of two calls never interleave or swap.
type effectOrder struct{ mu sync.Mutex }

// release unlocks the peer and runs fx, the effects decided under the
// lock, in order (nil entries are skipped). It is the one place where a
// peer's effects reach the Matrix side: today synchronously, holding the
// peer's effectOrder so that the next call's effects wait for these.
func (p *peer) release(ctx context.Context, fx []effect) {
	p.order.mu.Lock()
	p.mu.Unlock()
	defer p.order.mu.Unlock()
	for _, e := range fx {
		if e != nil {
			e(ctx)
		}
	}
}

// notice shows text in the peer's portal. Called with mu held.
func (p *peer) notice(text string) effect {
	link := p.link
	return func(ctx context.Context) { link.Notice(ctx, text) }
}

// deliver shows a message from the peer. Called with mu held.
func (p *peer) deliver(msg IncomingText) effect {
	link := p.link
	return func(ctx context.Context) { link.Deliver(ctx, msg) }
}

// stateEffect shows the state if it changed since it was last shown, else
// it is nil. Called with mu held.
func (p *peer) stateEffect() effect {
	s := p.state()
	if p.shownValid && s == p.shown {
		return nil
	}
	p.shown, p.shownValid = s, true
	link := p.link
	return func(ctx context.Context) { link.ShowState(ctx, s) }
}
