package otrfilter

import (
	"context"

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
