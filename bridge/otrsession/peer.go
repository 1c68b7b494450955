package otrsession

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// maxPending bounds the lines kept while the identity key is generated.
const maxPending = 64

// autoSendTimeout bounds how long a unit may wait in the IRC send queue.
const autoSendTimeout = 2 * time.Minute

// peer is everything the manager keeps for one peer of the login.
type peer struct {
	m   *Manager
	key string // trust store peer column
	// lastUsed is when a call last concerned the peer; guarded by m.mu.
	lastUsed time.Time

	// mu guards everything below and the conversation.
	mu sync.Mutex
	// effects are what the Matrix user sees of the peer, waiting to be
	// shown (it has a lock of its own).
	effects effectQueue

	link      PeerLink // most recent link (current nick)
	conv      *otr.Conversation
	convIdent *identity

	policy      otr.Policy
	policyScope db.Scope
	policyValid bool
	exempt      bool // a channel or a configured service: no OTR (isExempt)
	// recovering: the bridge restarted during a private conversation;
	// messages are held (fail closed) until it is private again or the
	// user runs `finish`.
	recovering bool

	// unconfirmed: sent encrypted since the peer's last data message;
	// resend: lost with a session the peer no longer has, to be sent once
	// more in the next one (lost.go).
	unconfirmed, resend []sentMessage

	trust map[otr.Fingerprint]db.Trust
	// formerKey is the key of the last private conversation the peer
	// lost; refusedKeys are keys held messages were refused to, until the
	// user verifies them (heldkey.go).
	formerKey    otr.Fingerprint
	hasFormerKey bool
	refusedKeys  []otr.Fingerprint

	held    map[otr.HeldID]chan error
	pending []pendingLine

	wire wireQueue

	// replies limits the automatic replies to the peer; throttled: the
	// limit is being hit (and the user was told).
	replies   *rate.Limiter
	throttled bool
	// noise counts what the peer's client sent that was ignored, per kind.
	noise [noiseKinds]noiseCount

	queryAt time.Time // when the peer last sent a query (libotr's explanation lines follow)
	// queryExplained: the notice about the query's explanation lines was
	// given for the last query.
	queryExplained bool
	// akePendingUntil: the user asked for a key exchange (`init`,
	// `refresh`); it ends at the next secure state (goneSecure) or at this
	// time. Until then messages wait if the conversation is not private yet.
	akePendingUntil time.Time
	// akeReply is the reply to an `init` or `refresh` given in the peer's
	// portal, shown at akeReplyAt if the key exchange is still pending then.
	akeReply   string
	akeReplyAt time.Time
	// secureCh is closed at the next GoneSecure (for Sends waiting for it).
	secureCh chan struct{}

	// shown is the state last shown (stateUnshown: none is known to be
	// shown). A portal starts without an OTR topic, which says plaintext.
	shown         State
	warnedPlain   bool // "unencrypted message received" notice given for this private session
	noticedBypass bool // "OTR is off for this peer" notice given
	noticedSentPT bool // "sent unencrypted" notice given since the last private session
	// linksAllowed: the user was told that links (files) go outside OTR
	// and sent one again, in the private session linksSSID (zero while
	// the key exchange runs).
	linksAllowed bool
	linksSSID    [8]byte
}

type pendingLine struct {
	link PeerLink
	msg  IncomingText
}

// unit is one batch of wire lines sent as one unit. done, err and waiters
// are guarded by the wire queue's lock.
type unit struct {
	ctx   context.Context
	link  PeerLink
	kind  ircconn.Kind
	lines []string
	// reply: an automatic reply, sent with PeerLink.SendReply.
	reply   bool
	done    bool
	err     error
	waiters []chan error
}

func newPeer(m *Manager, link PeerLink) *peer {
	return &peer{m: m, key: peerKey(link), link: link, trust: map[otr.Fingerprint]db.Trust{}, held: map[otr.HeldID]chan error{},
		replies: rate.NewLimiter(rate.Every(m.cfg.ReplyInterval), m.cfg.ReplyBurst)}
}

// loadPolicy resolves the peer's policy: exempt (service/channel) →
// never, else peer override → user default → network default. Called
// with mu held.
func (p *peer) loadPolicy(ctx context.Context) error {
	if p.policyValid {
		return nil
	}
	pol, scope, err := p.resolvePolicy(ctx)
	if err != nil {
		return err
	}
	p.policy, p.policyScope, p.policyValid = pol, scope, true
	p.syncPolicy()
	return nil
}

// effectivePolicy is the engine's policy: the peer's, except that a
// protected conversation (conversationProtected) keeps OTR on under policy
// never, so that the engine still reads, answers and ends it, and that
// messages are held while the bridge recovers from a restart. Called with
// mu held.
func (p *peer) effectivePolicy() otr.Policy {
	pol := p.policy
	if pol == otr.PolicyNever && p.conversationProtected() {
		pol = otr.PolicyManual
	}
	if p.recovering {
		pol |= otr.RequireEncryption
	}
	return pol
}

// syncPolicy gives the engine the effective policy again after the
// conversation's state may have changed. Called with mu held.
func (p *peer) syncPolicy() {
	if p.conv != nil {
		p.conv.SetPolicy(p.effectivePolicy())
	}
}

// conversationProtected reports a conversation that no policy may turn
// into plaintext: private, finished by the peer (until the user runs
// `finish`), or cut off by a bridge restart while private. Called with mu
// held.
func (p *peer) conversationProtected() bool {
	if p.recovering {
		return true
	}
	return p.conv != nil && p.conv.Info().State != otr.Plaintext
}

func (p *peer) setRecovering(r bool) {
	p.recovering = r
	p.syncPolicy()
}

// nickSlack is the longest nick we expect a peer to rename to: the
// engine's fragment size is fixed for the conversation's life, so it
// leaves room for a longer nick in the line prefix.
const nickSlack = 30

// fragmentSize is what fits into one line to the peer, now and after a
// rename to a nick of up to nickSlack bytes.
func (p *peer) fragmentSize() int {
	n := p.m.cfg.MaxFragmentSize
	b := p.link.LineBudget(ircconn.Privmsg)
	if grow := nickSlack - len(p.link.Nick()); grow > 0 {
		b -= grow
	}
	if b > 0 && b < n {
		n = b
	}
	return n
}

// ensureConv returns the conversation, creating it with the current
// identity. Called with mu held; the identity must be ready.
func (p *peer) ensureConv(ctx context.Context, id *identity) (*otr.Conversation, error) {
	if p.conv != nil && p.convIdent == id {
		return p.conv, nil
	}
	if err := p.loadPolicy(ctx); err != nil {
		return nil, err
	}
	conv, err := otr.NewConversation(otr.Config{
		PrivateKey:     id.key,
		InstanceTag:    id.tag,
		Policy:         p.effectivePolicy(),
		FragmentSize:   p.fragmentSize(),
		Rand:           p.m.cfg.Rand,
		HoldTimeout:    p.m.cfg.HoldTimeout,
		Trusted:        func(fp otr.Fingerprint) bool { return p.trust[fp].Trusted() },
		HeldMayGoTo:    p.heldMayGoTo,
		FragmentBudget: p.m.fragments,
	})
	if err != nil {
		return nil, err
	}
	fps, err := p.m.cfg.DB.Fingerprints.List(ctx, p.m.cfg.User, p.m.cfg.Network, p.key)
	if err != nil {
		p.m.log.Err(err).Msg("Failed to load OTR fingerprints")
	}
	p.trust = map[otr.Fingerprint]db.Trust{}
	for _, r := range fps {
		if len(r.Fingerprint) == len(otr.Fingerprint{}) {
			fp := otr.Fingerprint(r.Fingerprint)
			p.trust[fp] = r.Trust
			if r.Refused && !r.Trust.Trusted() {
				p.refuseKey(fp)
			}
		}
	}
	p.conv, p.convIdent = conv, id
	return conv, nil
}

// wireQueue is the peer's send queue: units of wire lines, sent in order
// by a goroutine that runs while the queue is not empty. It has a lock of
// its own (after the peer's), so that lines queued under the peer's lock
// leave while the peer is still locked (by the rest of a decision, or by
// the next one).
type wireQueue struct {
	mu      sync.Mutex
	units   []*unit
	writing bool
}

// enqueue queues lines to be sent as one unit after everything queued
// before; waiter (if not nil) gets the result. Called with mu held.
func (p *peer) enqueue(ctx context.Context, kind ircconn.Kind, lines []string, waiter chan error) *unit {
	return p.enqueueUnit(&unit{ctx: ctx, link: p.link, kind: kind, lines: lines}, waiter)
}

// enqueueReply queues an automatic reply (PeerLink.SendReply). Called with
// mu held.
func (p *peer) enqueueReply(lines []string) *unit {
	return p.enqueueUnit(&unit{ctx: p.m.ctx, link: p.link, kind: ircconn.Privmsg, lines: lines, reply: true}, nil)
}

func (p *peer) enqueueUnit(u *unit, waiter chan error) *unit {
	if len(u.lines) == 0 {
		if waiter != nil {
			waiter <- nil
		}
		return nil
	}
	if waiter != nil {
		u.waiters = append(u.waiters, waiter)
	}
	q := &p.wire
	q.mu.Lock()
	defer q.mu.Unlock()
	q.units = append(q.units, u)
	if !q.writing {
		q.writing = true
		go p.writeLoop()
	}
	return u
}

// addWaiter adds a waiter to u, or answers at once if u is done. Called
// with mu held.
func (p *peer) addWaiter(u *unit, w chan error) {
	p.wire.mu.Lock()
	defer p.wire.mu.Unlock()
	if u.done {
		w <- u.err
		return
	}
	u.waiters = append(u.waiters, w)
}

func (p *peer) writeLoop() {
	q := &p.wire
	for {
		q.mu.Lock()
		if len(q.units) == 0 {
			q.units = nil
			q.writing = false
			q.mu.Unlock()
			return
		}
		u := q.units[0]
		q.units[0] = nil
		q.units = q.units[1:]
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(u.ctx, autoSendTimeout)
		err := p.sendUnit(ctx, u)
		cancel()
		q.mu.Lock()
		u.done, u.err = true, err
		ws := u.waiters
		u.waiters = nil
		q.mu.Unlock()
		switch {
		case u.reply && errors.Is(err, ircconn.ErrDropped):
			// Too many automatic messages on the connection (strangers'
			// key exchanges count too): counted like noise.
			p.m.log.Debug().Str("peer", p.key).Msg("Automatic OTR reply dropped")
			p.mu.Lock()
			var fx []effect
			if p.admitNoise(time.Now(), noiseDropped) {
				fx = append(fx, p.notice(droppedReplyText(p.link.Nick())))
			}
			p.release(p.m.ctx, fx)
		case err != nil:
			p.m.log.Warn().Err(err).Int("lines", len(u.lines)).Bool("automatic", u.reply).Msg("Sending OTR lines failed")
		}
		for _, w := range ws {
			w <- err
		}
	}
}

// failHeld fails every held message. Called with mu held.
func (p *peer) failHeld(err error) {
	for hid, w := range p.held {
		w <- err
		delete(p.held, hid)
	}
}

// state computes the state at a glance. Called with mu held.
func (p *peer) state() State {
	if p.conv == nil {
		return StatePlaintext
	}
	inf := p.conv.Info()
	switch inf.State {
	case otr.Encrypted:
		if p.trust[inf.Fingerprint].Trusted() {
			return StatePrivateVerified
		}
		return StatePrivateUnverified
	case otr.Finished:
		return StateFinished
	}
	return StatePlaintext
}

// refreshState shows the state if it changed.
func (p *peer) refreshState(ctx context.Context) {
	p.mu.Lock()
	p.release(ctx, []effect{p.stateEffect()})
}

// clearMarker removes the private-conversation marker (on the effect
// queue, see store). Called with mu held.
func (p *peer) clearMarker() effect {
	user, network, key := p.m.cfg.User, p.m.cfg.Network, p.key
	return p.store("Failed to clear private conversation marker", func(ctx context.Context, d *db.Database) error {
		_, err := d.Private.Clear(ctx, user, network, key)
		return err
	})
}

// endConversation ends the conversation with the peer on the wire and
// drops its restart marker; the effects tell the user how it ended. With
// drop set the conversation is also forgotten (the next one starts afresh,
// with the current key and policy) and messages waiting for it fail with
// drop. Called with mu held.
func (p *peer) endConversation(ctx context.Context, now time.Time, drop error) []effect {
	if p.conv == nil {
		return []effect{p.stateEffect()}
	}
	out, err := p.conv.End(now)
	if err != nil {
		p.m.log.Err(err).Msg("Ending OTR session")
	}
	fx := append([]effect{p.clearMarker()}, p.handleOutput(ctx, now, out, nil, false)...)
	if drop != nil {
		p.failHeld(drop)
		p.conv = nil
		fx = append(fx, p.stateEffect())
	}
	return fx
}

// tick runs the engine's timers and shows the noise counted in an
// interval that is over.
func (p *peer) tick(now time.Time) {
	p.mu.Lock()
	if !p.waiting() {
		p.mu.Unlock()
		return
	}
	fx := p.guardDecision(p.m.ctx, "tick", func() []effect {
		fx := p.noiseSummaries(now)
		if p.akeReply != "" && !now.Before(p.akeReplyAt) {
			if now.Before(p.akePendingUntil) {
				fx = append(fx, p.notice(p.akeReply))
			}
			p.akeReply = ""
		}
		if p.conv != nil {
			fx = append(fx, p.handleOutput(p.m.ctx, now, p.conv.Tick(now), nil, false)...)
		}
		return fx
	})
	p.release(p.m.ctx, fx)
}

// waiting reports whether the peer's timers have something to do: the
// engine's (held or incomplete messages) or a summary of noise. Called
// with mu held.
func (p *peer) waiting() bool {
	if p.akeReply != "" || p.conv != nil && p.conv.Waiting() {
		return true
	}
	for _, c := range p.noise {
		if c.more > 0 {
			return true
		}
	}
	return false
}

// secureSignal returns a channel closed at the next GoneSecure. Called
// with mu held.
func (p *peer) secureSignal() <-chan struct{} {
	if p.secureCh == nil {
		p.secureCh = make(chan struct{})
	}
	return p.secureCh
}
