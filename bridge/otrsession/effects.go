package otrsession

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/db"
)

// effect is one thing the Matrix user sees of a peer: a delivered message,
// a notice, or the state at a glance. Effects are decided under the peer's
// lock (with the link current then) and queued by release; the peer's
// effect queue runs them in order. The zero effect does nothing.
type effect struct {
	kind effectKind
	// cost is what the effect holds in memory while it waits (its text
	// and a fixed overhead), counted against the queue's budgets.
	cost int
	run  func(ctx context.Context)
}

type effectKind uint8

const (
	effectNone effectKind = iota
	effectDelivery
	effectNotice
	effectState
	effectMark
	effectStore
)

// effectOverhead is what a queued effect costs besides its text: the
// closure, the link and the queue slot.
const effectOverhead = 256

// Budgets of the effects waiting for the Matrix side. A peer's own
// messages are never held back by the IRC reader (which must not wait for
// the homeserver), so when the homeserver is slower than a peer sends,
// what the peer sends waits here, and beyond these budgets it is refused
// and counted, and the user is told how much (see effectQueue). 512 KiB is
// ~700 IRC lines waiting for one chat; 4 MiB bounds one login.
const (
	peerEffectBudget  = 512 << 10
	loginEffectBudget = 4 << 20
)

// closeDrainTimeout bounds how long Close waits for queued effects.
const closeDrainTimeout = 10 * time.Second

// effectQueue is the ordered queue of one peer's effects. A goroutine runs
// it while it is not empty and ends when it is: an idle peer costs no
// goroutine, and a slow homeserver delays only this peer's effects, never
// the IRC connection or the OTR protocol (release only appends).
//
// Effects that the peer's messages cause (deliveries, notices) count
// against peerEffectBudget and the login's loginEffectBudget; beyond them
// they are refused and counted, and when the queue has drained, one notice
// tells the user how many messages and notices were not shown. A batch that
// changes the state of the conversation, and every batch caused by the
// user (Send, commands, timers), is always queued: those are bounded by
// the user's own pace and the rate limit of automatic replies. So is the
// notice about what was refused, one per peer at a time.
type effectQueue struct {
	mu      sync.Mutex
	items   []queuedEffect
	running bool
	bytes   int
	// refusedMsgs and refusedNotices count what was refused since the
	// user was last told; link is the peer's link when the last was.
	refusedMsgs, refusedNotices int
	link                        PeerLink
}

type queuedEffect struct {
	ctx context.Context
	e   effect
}

// release ends a decision: it queues fx, the effects decided under the
// lock, for the Matrix side, in order, arms the timers if the peer waits
// for them, and unlocks the peer. Use it for what the user caused.
func (p *peer) release(ctx context.Context, fx []effect) {
	p.queueEffects(ctx, fx, false)
	p.settle()
}

// releaseReceived is release for what a line from the peer caused: unless
// the batch changes the state, its deliveries and notices are refused
// beyond the budgets.
func (p *peer) releaseReceived(ctx context.Context, fx []effect) {
	p.queueEffects(ctx, fx, true)
	p.settle()
}

// settle arms the timers if the peer waits for them, and unlocks it.
func (p *peer) settle() {
	if p.waiting() {
		p.m.armTick(tickInterval)
	}
	p.mu.Unlock()
}

// queueEffects appends fx to the peer's queue and starts its goroutine if
// it is not running. Called with mu held, so that the effects of two calls
// are queued in the order of their decisions.
func (p *peer) queueEffects(ctx context.Context, fx []effect, fromPeer bool) {
	m := p.m
	q := &p.effects
	bounded := fromPeer
	for _, e := range fx {
		if e.kind == effectState {
			bounded = false
		}
	}
	ctx = context.WithoutCancel(ctx) // effects outlive the call that decided them
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range fx {
		if e.run == nil {
			continue
		}
		refusable := e.kind == effectDelivery || e.kind == effectNotice
		if bounded && refusable && (q.bytes+e.cost > m.peerEffectBudget || m.effectBytes.Load()+int64(e.cost) > m.loginEffectBudget) {
			if q.refusedMsgs+q.refusedNotices == 0 {
				m.log.Warn().Str("peer", p.key).Int("queued_bytes", q.bytes).Int64("login_queued_bytes", m.effectBytes.Load()).
					Msg("The homeserver does not keep up with a peer: refusing its messages until the queue drains")
			}
			q.link = p.link
			if e.kind == effectDelivery {
				q.refusedMsgs++
			} else {
				q.refusedNotices++
			}
			continue
		}
		q.items = append(q.items, queuedEffect{ctx: ctx, e: e})
		q.bytes += e.cost
		m.effectBytes.Add(int64(e.cost))
	}
	if (len(q.items) > 0 || q.refusedMsgs+q.refusedNotices > 0) && !q.running {
		q.running = true
		m.runnerStarted()
		go p.runEffects()
	}
}

// runEffects runs the peer's queue until it is empty; then it tells the
// user what was refused meanwhile, if anything, and ends.
func (p *peer) runEffects() {
	m := p.m
	q := &p.effects
	defer m.runnerEnded()
	for {
		q.mu.Lock()
		if len(q.items) == 0 && q.refusedMsgs+q.refusedNotices > 0 {
			e := m.refusedNotice(q.link, q.refusedMsgs, q.refusedNotices)
			q.items = append(q.items, queuedEffect{ctx: m.ctx, e: e})
			q.bytes += e.cost
			m.effectBytes.Add(int64(e.cost))
			m.log.Warn().Str("peer", p.key).Int("messages", q.refusedMsgs).Int("notices", q.refusedNotices).
				Msg("Messages of a peer were not shown: the homeserver did not keep up")
			q.refusedMsgs, q.refusedNotices = 0, 0
		}
		if len(q.items) == 0 {
			q.items = nil // let a burst's backing array go
			q.running = false
			q.mu.Unlock()
			return
		}
		qe := q.items[0]
		q.items[0] = queuedEffect{}
		q.items = q.items[1:]
		q.mu.Unlock()

		p.runEffect(qe)

		q.mu.Lock()
		q.bytes -= qe.e.cost
		q.mu.Unlock()
		m.effectBytes.Add(-int64(qe.e.cost))
	}
}

// refusedNotice tells the user what a peer's queue refused.
func (m *Manager) refusedNotice(link PeerLink, msgs, notices int) effect {
	var parts []string
	if msgs > 0 {
		parts = append(parts, fmt.Sprintf("%d message(s)", msgs))
	}
	if notices > 0 {
		parts = append(parts, fmt.Sprintf("%d bridge notice(s)", notices))
	}
	what := strings.Join(parts, " and ")
	text := fmt.Sprintf("⚠️ %s from %s were NOT shown: %s sent faster than the homeserver accepted them, "+
		"and the bridge keeps only so much waiting (%d KiB per chat, %d MiB for all your chats on this network). They are lost; ask %s to send again what matters.",
		what, link.Nick(), link.Nick(), m.peerEffectBudget>>10, m.loginEffectBudget>>20, link.Nick())
	return noticeTo(link, text)
}

// runners counts the peers whose effect queue is running, so that Close
// can wait for them.
type runners struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while nobody waits
}

func (m *Manager) runnerStarted() {
	m.runners.mu.Lock()
	m.runners.n++
	m.runners.mu.Unlock()
}

func (m *Manager) runnerEnded() {
	m.runners.mu.Lock()
	defer m.runners.mu.Unlock()
	m.runners.n--
	if m.runners.n == 0 && m.runners.idle != nil {
		close(m.runners.idle)
		m.runners.idle = nil
	}
}

// waitEffects waits until every peer's queued effects have run, or ctx
// ends.
func (m *Manager) waitEffects(ctx context.Context) error {
	m.runners.mu.Lock()
	if m.runners.n == 0 {
		m.runners.mu.Unlock()
		return nil
	}
	if m.runners.idle == nil {
		m.runners.idle = make(chan struct{})
	}
	idle := m.runners.idle
	m.runners.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notice shows text in the peer's portal. Called with mu held.
func (p *peer) notice(text string) effect { return noticeTo(p.link, text) }

func noticeTo(link PeerLink, text string) effect {
	return effect{kind: effectNotice, cost: len(text) + effectOverhead, run: func(ctx context.Context) { link.Notice(ctx, text) }}
}

// deliver shows a message from the peer. Called with mu held.
func (p *peer) deliver(msg IncomingText) effect {
	link := p.link
	return effect{kind: effectDelivery, cost: len(msg.Text) + len(msg.Annotation) + len(msg.MsgID) + effectOverhead,
		run: func(ctx context.Context) { link.Deliver(ctx, msg) }}
}

// store writes to the bridge's own tables (trust store, markers) on the
// peer's effect queue, in order with its other writes and before the
// notices queued after it: a key exchange does not wait for the
// database. It is never refused. Called with mu held.
func (p *peer) store(failure string, write func(ctx context.Context, d *db.Database) error) effect {
	m := p.m
	return effect{kind: effectStore, cost: effectOverhead, run: func(ctx context.Context) {
		if err := write(ctx, m.cfg.DB); err != nil {
			m.log.Err(err).Str("peer", p.key).Msg(failure)
		}
	}}
}

// markUnencrypted marks the Matrix message evt as sent in plaintext,
// once it went out.
func markUnencrypted(link PeerLink, evt id.EventID) effect {
	return effect{kind: effectMark, cost: effectOverhead, run: func(ctx context.Context) { link.MarkUnencrypted(ctx, evt) }}
}

// stateEffect shows the state if it changed since it was last shown, else
// it is the zero effect. Called with mu held.
func (p *peer) stateEffect() effect {
	s := p.state()
	if s == p.shown {
		return effect{}
	}
	p.shown = s
	link := p.link
	return effect{kind: effectState, cost: effectOverhead, run: func(ctx context.Context) { link.ShowState(ctx, s) }}
}
