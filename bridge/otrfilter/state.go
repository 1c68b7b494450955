package otrfilter

import (
	"context"
	"slices"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge"
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

// StateShower is an optional extension of bridge.PeerLink. When the link
// passed to the filter implements it, the filter calls ShowOTRState every
// time the state of the conversation with that peer changes, so the
// bridge can show it at a glance (e.g. in the DM portal's topic).
type StateShower interface {
	ShowOTRState(ctx context.Context, s State)
}

// showState tells link about s if it can show states.
func showState(ctx context.Context, link bridge.PeerLink, s State) {
	if sh, ok := link.(StateShower); ok {
		sh.ShowOTRState(ctx, s)
	}
}

// SendReport tells the caller of Filter.Send how the message went out.
// Attach one with WithSendReport before calling Send.
type SendReport struct {
	// Encrypted: every line went out inside the private conversation.
	Encrypted bool
	// Unencrypted: the message went out in plaintext although OTR is
	// enabled for the peer (opportunistic or manual policy before a
	// private conversation exists). Mark the Matrix message as such.
	Unencrypted bool
	// Held: the message waited for a private conversation first.
	Held bool
}

type reportKey struct{}

// WithSendReport returns a context that makes Filter.Send fill in r.
func WithSendReport(ctx context.Context, r *SendReport) context.Context {
	return context.WithValue(ctx, reportKey{}, r)
}

func reportFrom(ctx context.Context) *SendReport {
	r, _ := ctx.Value(reportKey{}).(*SendReport)
	if r == nil {
		return &SendReport{}
	}
	return r
}

// State returns the current state with a peer (StatePlaintext for a peer
// not seen since the bridge started), e.g. to set a portal's topic when
// the portal is created.
func (f *Filter) State(peer networkid.UserID) State {
	p := f.existingPeer(peer)
	if p == nil {
		return StatePlaintext
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state()
}

// RestartedPeers lists the peers (their IDs) whose private conversation a
// bridge restart cut off and who have not been told yet. The bridge may
// call Announce for each right after the login connects instead of
// waiting for the first message.
func (f *Filter) RestartedPeers() []networkid.UserID {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]networkid.UserID, 0, len(f.restarts))
	for k := range f.restarts {
		out = append(out, networkid.UserID(k))
	}
	slices.Sort(out)
	return out
}

// Announce gives the restart notice to link's portal now (if it is due)
// and shows the state.
func (f *Filter) Announce(ctx context.Context, link bridge.PeerLink) {
	p := f.peer(link)
	p.mu.Lock()
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		f.log.Err(err).Msg("Failed to resolve OTR policy")
	}
	fx := p.restartEffects(ctx)
	if e := p.stateEffect(); e != nil {
		fx = append(fx, e)
	}
	p.unlockInOrder(ctx, fx)
}
