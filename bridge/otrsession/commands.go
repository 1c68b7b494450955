package otrsession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otrbridge/otrbridge/otr"
)

// The user's actions on one conversation (`!otr init`, `finish`, `auth`,
// ...). Each returns a reply for the user; an error is for the user too
// and never contains a secret.

// Init asks the peer for a private conversation; until it is up (or the
// hold timeout passes) messages to the peer wait.
func (m *Manager) Init(ctx context.Context, link PeerLink) (string, error) {
	return m.startAKE(ctx, link, false)
}

// InitInPortal is Init given in the peer's own portal. Its reply is shown
// there only if the key exchange is still pending after akeReplyDelay:
// usually the notice that the conversation is private comes first and
// says all the reply would, and a second event before it would only hold
// it up (the homeserver takes a room's events one after the other).
func (m *Manager) InitInPortal(ctx context.Context, link PeerLink) error {
	_, err := m.startAKE(ctx, link, true)
	return err
}

// startAKE starts the key exchange; the reply is returned, or with
// laterReply kept for the peer's tick.
func (m *Manager) startAKE(ctx context.Context, link PeerLink, laterReply bool) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) ([]effect, string, error) {
		out, err := conv.Start(now)
		reply := p.akeStarted(now, fmt.Sprintf("Asked %s for a private conversation; a notice follows when it is up. Until then your messages wait.", link.Nick()), laterReply, err)
		return p.actionOutput(ctx, now, out, err), reply, err
	})
}

// akeReplyDelay is how long the reply to a key exchange asked for in the
// portal waits for it: well above its usual duration (0.1-0.5 s under load
// here).
const akeReplyDelay = time.Second

// Refresh renews the keys of the private conversation.
func (m *Manager) Refresh(ctx context.Context, link PeerLink) (string, error) {
	return m.refresh(ctx, link, false)
}

// RefreshInPortal is Refresh given in the peer's own portal: as with
// InitInPortal, the notice that the keys were renewed is the answer, and
// the reply shows only if that takes longer than akeReplyDelay.
func (m *Manager) RefreshInPortal(ctx context.Context, link PeerLink) error {
	_, err := m.refresh(ctx, link, true)
	return err
}

func (m *Manager) refresh(ctx context.Context, link PeerLink, laterReply bool) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) ([]effect, string, error) {
		if conv.Info().State != otr.Encrypted {
			return nil, "", fmt.Errorf("there is no private conversation with %s to refresh; `!otr init` starts one", link.Nick())
		}
		out, err := conv.Start(now)
		reply := p.akeStarted(now, fmt.Sprintf("Renewing the keys of the private conversation with %s…", link.Nick()), laterReply, err)
		return p.actionOutput(ctx, now, out, err), reply, err
	})
}

// akeStarted records that the user asked for a key exchange, which the
// conversation's next secure state ends (goneSecure), and returns reply,
// or with laterReply keeps it for the tick after akeReplyDelay. Called
// with mu held.
func (p *peer) akeStarted(now time.Time, reply string, laterReply bool, err error) string {
	p.akePendingUntil = now.Add(p.m.cfg.HoldTimeout)
	if !laterReply {
		return reply
	}
	if err == nil {
		p.akeReply, p.akeReplyAt = reply, now.Add(akeReplyDelay)
	}
	return ""
}

// Finish ends the conversation with the peer; messages are then sent
// unencrypted (as policy allows). Messages that were waiting for a private
// conversation fail: the user gave up on it, and they were written for one.
func (m *Manager) Finish(ctx context.Context, link PeerLink) (string, error) {
	return m.drive(ctx, link, true, func(p *peer, conv *otr.Conversation, now time.Time) ([]effect, string, error) {
		nick := link.Nick()
		was := conv.Info().State
		waiting := len(p.held) > 0
		p.setRecovering(false)
		p.akePendingUntil = time.Time{}
		p.unconfirmed, p.resend = nil, nil
		plainAllowed := p.policy&otr.RequireEncryption == 0
		var drop error
		if waiting {
			text := fmt.Sprintf("Not sent: you ran `!otr finish` while this message waited for a private conversation with %s.", nick)
			if plainAllowed {
				text += " Send it again to send it unencrypted."
			}
			drop = &SendError{Err: ErrNotPrivate, Text: text}
		}
		fx := p.endConversation(ctx, now, drop)
		reply := fmt.Sprintf("Ended the private conversation with %s.", nick)
		if was == otr.Plaintext {
			reply = fmt.Sprintf("There was no private conversation with %s.", nick)
		}
		if waiting {
			reply += " What was waiting for one was not sent (each message says so)."
		}
		if plainAllowed {
			reply += " New messages are sent unencrypted."
		} else {
			reply += " Your policy for this chat (always) sends nothing unencrypted: new messages wait for a new private conversation (`!otr init`); `!otr policy manual` allows unencrypted ones."
		}
		return fx, reply, nil
	})
}

// FinishAll ends every private conversation of the login.
func (m *Manager) FinishAll(ctx context.Context) string {
	n := 0
	for _, p := range m.allPeers() {
		p.mu.Lock()
		p.setRecovering(false)
		if p.conv == nil || p.conv.Info().State == otr.Plaintext {
			p.mu.Unlock()
			continue
		}
		p.release(ctx, p.endConversation(ctx, time.Now(), nil))
		n++
	}
	return fmt.Sprintf("Ended %d private conversation(s).", n)
}

// StartSMP asks the peer to verify with secret (SMP), showing them
// question if it is not empty.
func (m *Manager) StartSMP(ctx context.Context, link PeerLink, question, secret string) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) ([]effect, string, error) {
		if conv.Info().State != otr.Encrypted {
			return nil, "", otr.ErrNotPrivate
		}
		out, err := conv.StartSMP(now, question, []byte(secret))
		return p.actionOutput(ctx, now, out, err), fmt.Sprintf("Asked %s to verify with your secret; a notice follows with the result.", link.Nick()), err
	})
}

// AnswerSMP answers the peer's verification request with secret; when
// none is waiting for an answer it asks the peer to verify instead
// (without a question), as irssi's `/otr auth` does.
func (m *Manager) AnswerSMP(ctx context.Context, link PeerLink, secret string) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) ([]effect, string, error) {
		inf := conv.Info()
		if inf.State != otr.Encrypted {
			return nil, "", otr.ErrNotPrivate
		}
		if inf.SMP == otr.SMPWaitingForSecret {
			out, err := conv.AnswerSMP(now, []byte(secret))
			return p.actionOutput(ctx, now, out, err), fmt.Sprintf("Answered %s's verification request…", link.Nick()), err
		}
		out, err := conv.StartSMP(now, "", []byte(secret))
		return p.actionOutput(ctx, now, out, err), fmt.Sprintf("Asked %s to verify with your secret; a notice follows with the result.", link.Nick()), err
	})
}

// AbortSMP aborts a verification in progress.
func (m *Manager) AbortSMP(ctx context.Context, link PeerLink) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) ([]effect, string, error) {
		out, err := conv.AbortSMP(now)
		return p.actionOutput(ctx, now, out, err), fmt.Sprintf("Verification with %s aborted.", link.Nick()), err
	})
}

// actionOutput sends what the engine produced for a user's action and
// returns its effects; nothing when the action failed. Called with mu held.
func (p *peer) actionOutput(ctx context.Context, now time.Time, out otr.Output, err error) []effect {
	if err != nil {
		return nil
	}
	return p.handleOutput(ctx, now, out, nil, false)
}

// drive runs one user action on the peer's conversation, deciding under
// the peer's lock: it refuses peers without OTR (unless evenWithoutOTR,
// for `finish`) and returns the action's reply.
func (m *Manager) drive(ctx context.Context, link PeerLink, evenWithoutOTR bool,
	act func(p *peer, conv *otr.Conversation, now time.Time) ([]effect, string, error)) (string, error) {
	p := m.peer(link)
	id, err := m.waitIdentity(ctx)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	fx, reply, err := p.decideAction(ctx, link, id, evenWithoutOTR, act)
	p.release(ctx, fx)
	if errors.Is(err, otr.ErrNotPrivate) {
		return "", fmt.Errorf("there is no private conversation with %s; `!otr init` starts one", link.Nick())
	}
	return reply, err
}

// decideAction is drive's part under the lock. Called with mu held.
func (p *peer) decideAction(ctx context.Context, link PeerLink, id *identity, evenWithoutOTR bool,
	act func(p *peer, conv *otr.Conversation, now time.Time) ([]effect, string, error)) ([]effect, string, error) {
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		return nil, "", fmt.Errorf("could not look up the OTR policy: %w", err)
	}
	fx := p.restartEffects()
	if p.policy == otr.PolicyNever && !evenWithoutOTR {
		if p.exempt {
			return fx, "", fmt.Errorf("%s is a configured service (or a channel): it gets no OTR unless you give it a policy of its own (`!otr policy manual`)", link.Nick())
		}
		return fx, "", fmt.Errorf("OTR is off for %s (policy never); `!otr policy manual` or `opportunistic` turns it on", link.Nick())
	}
	conv, err := p.ensureConv(ctx, id)
	if err != nil {
		return fx, "", fmt.Errorf("could not set up OTR: %w", err)
	}
	more, reply, err := act(p, conv, time.Now())
	return append(fx, more...), reply, err
}
