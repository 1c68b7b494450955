package otrsession

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"github.com/otrbridge/otrbridge/otr"
)

// A bug that panics must cost one peer, never the login or the bridge:
// every goroutine of the manager (a peer's effect queue and send queue,
// the timers, the identity loader) and every decision it makes under a
// peer's lock for what a peer sends (Receive, the lines kept while the
// key was made, the timers) or for a message of the user (Send) recovers
// a panic. The log gets the panic's type and stack, never its value,
// which may hold message text. A decision that panicked leaves the
// peer's conversation in an unknown state, so it is dropped, fail closed:
// its keys are forgotten, messages waiting for it fail, and after a
// private conversation the user's messages wait for a new one (as after a
// restart) instead of going out in plaintext; the user is told in the
// chat (once a minute at most). Everything else of the login goes on.

// errInternal is what a message gets that a panic stopped.
var errInternal = &SendError{Err: errors.New("otrsession: internal error"),
	Text: "Not sent: an internal error in the bridge stopped this message (it is logged)."}

// faultPoint, when set, is called where a bug would panic, with where
// ("receive", "send", "tick", "effect", "write") and the peer's key. Only
// builds with the faultinject tag set it (fault_inject.go), for the
// end-to-end test of these recovers; the bridge never does.
var faultPoint func(where, peer string)

// logPanic logs a recovered panic without its value.
func logPanic(log zerolog.Logger, r any, peer, where string) {
	log.Error().Str("peer", peer).Str("panic_type", fmt.Sprintf("%T", r)).Str("where", where).
		Bytes("stack", debug.Stack()).Msg("Recovered from a panic; the rest of the login goes on")
}

// guardDecision runs decide, a decision under the peer's lock, and turns
// a panic in it into the peer's failure. Called with mu held; mu is held
// when it returns.
func (p *peer) guardDecision(ctx context.Context, where string, decide func() []effect) (fx []effect) {
	defer func() {
		if r := recover(); r != nil {
			logPanic(p.m.log, r, p.key, where)
			fx = p.failLocked(ctx)
		}
	}()
	if faultPoint != nil {
		faultPoint(where, p.key)
	}
	return decide()
}

// failLocked drops the peer's conversation after a panic, fail closed,
// and returns what tells the user. Called with mu held.
func (p *peer) failLocked(ctx context.Context) []effect {
	private := p.conv != nil && p.conv.Info().State == otr.Encrypted
	p.conv, p.convIdent = nil, nil
	p.pending = nil
	p.failHeld(errInternal)
	p.akePendingUntil = time.Time{}
	if p.secureCh != nil {
		close(p.secureCh)
		p.secureCh = nil
	}
	nick := p.link.Nick()
	var text string
	if private && p.policy != otr.PolicyNever {
		p.setRecovering(true)
		text = fmt.Sprintf("⚠️ An internal error in the bridge ended your private conversation with %s (it is logged; nothing was shown or sent unencrypted). Your messages wait until a new private conversation is up (`!otr init`); `!otr finish` continues unencrypted instead.", nick)
	} else {
		text = fmt.Sprintf("⚠️ An internal error in the bridge dropped what %s just sent (it is logged). The chat goes on.", nick)
	}
	fx := []effect{p.stateEffect()}
	if p.admitNoise(time.Now(), noiseInternal) {
		fx = append(fx, p.notice(text))
	}
	return fx
}

// runEffect runs one effect of the peer's queue; a panic in it loses that
// effect only.
func (p *peer) runEffect(qe queuedEffect) {
	defer func() {
		if r := recover(); r != nil {
			logPanic(p.m.log, r, p.key, "effect")
		}
	}()
	if faultPoint != nil {
		faultPoint("effect", p.key)
	}
	qe.e.run(qe.ctx)
}

// sendUnit sends one unit of the peer's send queue; a panic fails it.
func (p *peer) sendUnit(ctx context.Context, u *unit) (err error) {
	defer func() {
		if r := recover(); r != nil {
			logPanic(p.m.log, r, p.key, "write")
			err = errInternal
		}
	}()
	if faultPoint != nil {
		faultPoint("write", p.key)
	}
	if u.reply {
		return u.link.SendReply(ctx, u.lines)
	}
	return u.link.SendLines(ctx, u.kind, u.lines)
}
