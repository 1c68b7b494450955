package otrsession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/otr"
)

// The user's actions on one conversation (`!otr init`, `finish`, `auth`,
// ...). Each returns a reply for the user; an error is for the user too
// and never contains a secret.

// Init asks the peer for a private conversation; until it is up (or the
// hold timeout passes) messages to the peer wait.
func (m *Manager) Init(ctx context.Context, link PeerLink) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) (otr.Output, string, error) {
		out, err := conv.Start(now)
		p.akePendingUntil = now.Add(m.cfg.HoldTimeout)
		return out, fmt.Sprintf("Asked %s for a private conversation; a notice follows when it is up. Until then your messages wait.", link.Nick()), err
	})
}

// Refresh renews the keys of the private conversation.
func (m *Manager) Refresh(ctx context.Context, link PeerLink) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) (otr.Output, string, error) {
		if conv.Info().State != otr.Encrypted {
			return otr.Output{}, "", fmt.Errorf("there is no private conversation with %s to refresh; `!otr init` starts one", link.Nick())
		}
		out, err := conv.Start(now)
		return out, fmt.Sprintf("Renewing the keys of the private conversation with %s…", link.Nick()), err
	})
}

// Finish ends the conversation with the peer; messages are then sent
// unencrypted (as policy allows).
func (m *Manager) Finish(ctx context.Context, link PeerLink) (string, error) {
	return m.drive(ctx, link, true, func(p *peer, conv *otr.Conversation, now time.Time) (otr.Output, string, error) {
		was := conv.Info().State
		out, err := conv.End(now)
		p.setRecovering(false)
		p.akePendingUntil = time.Time{}
		p.clearMarker(ctx)
		if was == otr.Plaintext {
			return out, fmt.Sprintf("There was no private conversation with %s; messages are sent unencrypted.", link.Nick()), err
		}
		return out, fmt.Sprintf("Ended the private conversation with %s.", link.Nick()), err
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
		now := m.clock.Now()
		out, err := p.conv.End(now)
		if err != nil {
			m.log.Err(err).Msg("Ending OTR session")
		}
		p.enqueue(m.ctx, ircconn.Privmsg, out.Wire, nil)
		out.Wire = nil
		p.clearMarker(ctx)
		fx := p.handleOutput(ctx, now, out, nil, false)
		p.unlockInOrder(ctx, fx)
		n++
	}
	return fmt.Sprintf("Ended %d private conversation(s).", n)
}

// StartSMP asks the peer to verify with secret (SMP), showing them
// question if it is not empty.
func (m *Manager) StartSMP(ctx context.Context, link PeerLink, question, secret string) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) (otr.Output, string, error) {
		if conv.Info().State != otr.Encrypted {
			return otr.Output{}, "", otr.ErrNotPrivate
		}
		out, err := conv.StartSMP(now, question, []byte(secret))
		return out, fmt.Sprintf("Asked %s to verify with your secret; a notice follows with the result.", link.Nick()), err
	})
}

// AnswerSMP answers the peer's verification request with secret; when
// none is waiting for an answer it asks the peer to verify instead
// (without a question), as irssi's `/otr auth` does.
func (m *Manager) AnswerSMP(ctx context.Context, link PeerLink, secret string) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) (otr.Output, string, error) {
		inf := conv.Info()
		if inf.State != otr.Encrypted {
			return otr.Output{}, "", otr.ErrNotPrivate
		}
		if inf.SMP == otr.SMPWaitingForSecret {
			out, err := conv.AnswerSMP(now, []byte(secret))
			return out, fmt.Sprintf("Answered %s's verification request…", link.Nick()), err
		}
		out, err := conv.StartSMP(now, "", []byte(secret))
		return out, fmt.Sprintf("Asked %s to verify with your secret; a notice follows with the result.", link.Nick()), err
	})
}

// AbortSMP aborts a verification in progress.
func (m *Manager) AbortSMP(ctx context.Context, link PeerLink) (string, error) {
	return m.drive(ctx, link, false, func(p *peer, conv *otr.Conversation, now time.Time) (otr.Output, string, error) {
		out, err := conv.AbortSMP(now)
		return out, fmt.Sprintf("Verification with %s aborted.", link.Nick()), err
	})
}

// drive runs one user action on the peer's conversation: it waits for the
// identity key, refuses peers without OTR (unless evenWithoutOTR, for
// `finish`), and sends what the engine produced.
func (m *Manager) drive(ctx context.Context, link PeerLink, evenWithoutOTR bool,
	act func(p *peer, conv *otr.Conversation, now time.Time) (otr.Output, string, error)) (string, error) {
	p := m.peer(link)
	id, err := m.waitIdentity(ctx)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		p.mu.Unlock()
		return "", fmt.Errorf("could not look up the OTR policy: %w", err)
	}
	fx := p.restartEffects(ctx)
	if p.policy == otr.PolicyNever && !evenWithoutOTR {
		p.unlockInOrder(ctx, fx)
		if m.bypass(link.Nick()) {
			return "", fmt.Errorf("%s is a service (or a channel): it never gets OTR", link.Nick())
		}
		return "", fmt.Errorf("OTR is off for %s (policy never); `!otr policy manual` or `opportunistic` turns it on", link.Nick())
	}
	conv, err := p.ensureConv(ctx, id)
	if err != nil {
		p.unlockInOrder(ctx, fx)
		return "", fmt.Errorf("could not set up OTR: %w", err)
	}
	now := m.clock.Now()
	out, reply, err := act(p, conv, now)
	if err != nil {
		p.unlockInOrder(ctx, fx)
		if errors.Is(err, otr.ErrNotPrivate) {
			return "", fmt.Errorf("there is no private conversation with %s; `!otr init` starts one", link.Nick())
		}
		return "", err
	}
	p.enqueue(m.ctx, ircconn.Privmsg, out.Wire, nil)
	out.Wire = nil
	fx = append(fx, p.handleOutput(ctx, now, out, nil, false)...)
	p.unlockInOrder(ctx, fx)
	return reply, nil
}
