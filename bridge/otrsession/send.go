package otrsession

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
	"github.com/otrbridge/otrbridge/otr"
)

// Errors of Send, usable with errors.Is. The error itself is a *SendError
// whose text is meant for the Matrix user.
var (
	// ErrFinished: the peer ended the private conversation; nothing was sent.
	ErrFinished = errors.New("otrsession: peer ended the private conversation")
	// ErrNotPrivate: policy requires encryption and no private
	// conversation came up in time; nothing was sent.
	ErrNotPrivate = errors.New("otrsession: no private conversation")
)

// SendError is a message that was not sent, with an explanation for the
// user. It never contains message text.
type SendError struct {
	Err  error
	Text string
}

func (e *SendError) Error() string { return e.Text }
func (e *SendError) Unwrap() error { return e.Err }

// whitespaceTagRoom is left free in plaintext lines for the whitespace tag
// (16 bytes base + 8 per version) the engine may append.
const whitespaceTagRoom = 32

// SendResult tells the caller of Send how the message went out.
type SendResult struct {
	// Encrypted: every line went out inside the private conversation.
	Encrypted bool
	// Unencrypted: the message went out in plaintext although OTR is
	// enabled for the peer (opportunistic or manual policy before a
	// private conversation exists). Mark the Matrix message as such.
	Unencrypted bool
	// Held: the message waited for a private conversation first.
	Held bool
}

// Send sends one Matrix message to the peer: encrypted when the
// conversation is private; held until it is (or failing) when policy
// requires encryption; refused when the peer finished the conversation;
// in plaintext otherwise (with a whitespace tag under opportunistic
// policy, and reported as Unencrypted). It returns once the message is on
// its way (confirmed where the server offers it); an error means it was
// not sent, and its text is meant for the Matrix user.
func (m *Manager) Send(ctx context.Context, link PeerLink, msg OutgoingText) (SendResult, error) {
	p := m.peer(link)
	p.mu.Lock()
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		p.mu.Unlock()
		m.log.Err(err).Msg("Failed to resolve OTR policy")
		return SendResult{}, &SendError{Err: err, Text: "Not sent: the bridge could not look up your OTR policy for this chat."}
	}
	fx := p.restartEffects(ctx)
	if p.policy == otr.PolicyNever {
		// No OTR, but through the peer's queue, after anything queued.
		lines := splitPlaintext(msg.Lines, link.LineBudget(msg.Kind))
		if len(lines) == 0 {
			p.unlockInOrder(ctx, fx)
			return SendResult{}, errEmpty
		}
		done := make(chan error, 1)
		p.enqueue(ctx, msg.Kind, lines, done)
		p.unlockInOrder(ctx, fx)
		return SendResult{}, <-done
	}
	p.unlockInOrder(ctx, fx)
	if len(msg.Lines) == 0 {
		return SendResult{}, errEmpty
	}

	id, err := m.waitIdentity(ctx)
	if err != nil {
		return SendResult{}, &SendError{Err: err, Text: err.Error()}
	}
	var conv *otr.Conversation
	for waited := false; ; waited = true {
		p.mu.Lock()
		p.link = link
		conv, err = p.ensureConv(ctx, id)
		if err != nil {
			p.mu.Unlock()
			m.log.Err(err).Msg("Failed to set up OTR conversation")
			return SendResult{}, &SendError{Err: err, Text: "Not sent: the bridge could not set up OTR for this chat."}
		}
		if waited || !otherInstanceAKE(conv) {
			break
		}
		// The peer's client restarted and is setting up a new session
		// while the old one still looks private: a message now would go
		// to the dead instance. Wait for the new session (briefly).
		ch := p.secureSignal()
		p.mu.Unlock()
		t := time.NewTimer(newInstanceWait)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return SendResult{}, &SendError{Err: ctx.Err(), Text: "Not sent: timed out while a new private conversation was being set up."}
		}
		t.Stop()
	}
	now := m.clock.Now()
	inf := conv.Info()
	if inf.State == otr.Finished {
		err := p.finishedError()
		p.mu.Unlock()
		return SendResult{}, err
	}
	// While a key exchange runs (or was asked for with `init`), even an
	// opportunistic policy holds messages: the user expects privacy.
	akeRunning := inf.State == otr.Plaintext && (inf.ExpectedVersion != 0 || now.Before(p.akePendingUntil))
	require := p.effectivePolicy()&otr.RequireEncryption != 0
	encrypt := inf.State == otr.Encrypted || require || akeRunning
	if akeRunning && !require {
		conv.SetPolicy(p.effectivePolicy() | otr.RequireEncryption)
	}
	var (
		wire  []string
		held  []otr.HeldID
		out   otr.Output
		other []otr.Event
	)
	texts := msg.Lines
	if !encrypt {
		texts = splitPlaintext(msg.Lines, link.LineBudget(msg.Kind)-whitespaceTagRoom)
	}
	for _, text := range texts {
		if encrypt && msg.Kind == ircconn.Action {
			text = "/me " + text
		}
		out, err = conv.Send(now, text)
		if err != nil {
			break
		}
		if !(akeRunning && !require) {
			wire = append(wire, out.Wire...) // else only a query: the exchange is under way
		}
		for _, ev := range out.Events {
			if h, ok := ev.(otr.HeldMessage); ok {
				held = append(held, h.ID)
			} else {
				other = append(other, ev)
			}
		}
	}
	if akeRunning && !require {
		conv.SetPolicy(p.effectivePolicy())
	}
	if err != nil {
		p.mu.Unlock()
		if errors.Is(err, otr.ErrFinished) {
			return SendResult{}, p.finishedError()
		}
		m.log.Err(err).Msg("OTR send failed")
		return SendResult{}, &SendError{Err: err, Text: "Not sent: " + strings.TrimPrefix(err.Error(), "otr: ") + "."}
	}
	budget := link.LineBudget(ircconn.Privmsg)
	for _, l := range wire {
		if budget > 0 && len(l) > budget {
			p.mu.Unlock()
			return SendResult{}, &SendError{Err: ircconn.ErrLineTooLong, Text: "Not sent: an OTR line does not fit into one IRC line to this nick; lower max_fragment_size."}
		}
	}
	waiters := make([]chan error, 0, len(held)+1)
	for _, hid := range held {
		w := make(chan error, 1)
		p.held[hid] = w
		waiters = append(waiters, w)
	}
	unitDone := make(chan error, 1)
	switch {
	case len(wire) == 0:
		unitDone <- nil
	case encrypt:
		p.enqueue(ctx, ircconn.Privmsg, wire, unitDone)
	default:
		// Plaintext keeps its kind (notice, emote).
		p.enqueue(ctx, msg.Kind, wire, unitDone)
	}
	fx = p.handleOutput(ctx, now, otr.Output{Events: other}, nil, false)
	unencrypted := !encrypt
	if unencrypted && !p.noticedSentPT {
		p.noticedSentPT = true
		fx = append(fx, func(ctx context.Context) {
			link.Notice(ctx, fmt.Sprintf("Messages to %s are sent UNENCRYPTED: there is no private conversation yet. `!otr init` starts one.", link.Nick()))
		})
	}
	p.unlockInOrder(ctx, fx)

	if err := <-unitDone; err != nil {
		return SendResult{}, err
	}
	for i, w := range waiters {
		select {
		case err := <-w:
			if err != nil {
				return SendResult{}, err
			}
		case <-ctx.Done():
			p.mu.Lock()
			for _, hid := range held[i:] {
				delete(p.held, hid)
			}
			p.mu.Unlock()
			return SendResult{}, &SendError{Err: ctx.Err(), Text: "Not confirmed: the message is still waiting for a private conversation; if one comes up in time it is sent encrypted, otherwise never."}
		}
	}
	return SendResult{Encrypted: encrypt, Unencrypted: unencrypted, Held: len(held) > 0}, nil
}

// newInstanceWait bounds how long Send waits for a key exchange with a
// new instance of the peer to finish.
const newInstanceWait = 20 * time.Second

// otherInstanceAKE reports a key exchange in progress with a peer
// instance other than the one messages go to now.
func otherInstanceAKE(conv *otr.Conversation) bool {
	cur := conv.Info()
	if cur.State != otr.Encrypted {
		return false // Send holds or sends plaintext by policy anyway
	}
	for _, inf := range conv.Instances() {
		if inf.TheirInstance != cur.TheirInstance && inf.ExpectedVersion != 0 {
			return true
		}
	}
	return false
}

var errEmpty = &SendError{Err: errors.New("empty message"), Text: "Not sent: the message has no text that can be sent to IRC."}

// splitPlaintext splits the lines of a message that goes out unencrypted.
func splitPlaintext(lines []string, budget int) []string {
	return ircfmt.SplitLines(lines, max(budget, minPlaintextBudget))
}

// minPlaintextBudget keeps splitting plaintext going when the budget left
// beside the whitespace tag is tiny.
const minPlaintextBudget = 16
