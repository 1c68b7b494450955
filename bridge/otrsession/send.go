package otrsession

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// ErrKeyRefused: the private conversation is with a key the peer is
	// not known by, which came up for held messages, and the user has not
	// verified it (heldkey.go); nothing was sent.
	ErrKeyRefused = errors.New("otrsession: the private conversation's key is not verified")
	// ErrOutsideOTR: a link to content outside OTR (OutgoingText.OutsideOTR)
	// was refused, or held back until the user sends it again.
	ErrOutsideOTR = errors.New("otrsession: content outside OTR")
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
	// Unencrypted: the message went out in plaintext (no private
	// conversation under a manual or opportunistic policy, or OTR off for
	// the peer). The manager has the Matrix message marked as such
	// (PeerLink.MarkUnencrypted).
	Unencrypted bool
	// Held: the message waited for a private conversation first.
	Held bool
}

// Send sends one Matrix message to the peer: encrypted when the
// conversation is private, whatever the policy says; held until it is
// (or failing) when policy requires encryption or a restart cut a private
// conversation off; refused when the peer finished the conversation; in
// plaintext otherwise (with a whitespace tag under opportunistic policy),
// always reported as Unencrypted. It returns once the message is on
// its way (confirmed where the server offers it); an error means it was
// not sent, and its text is meant for the Matrix user.
//
// Each pass decides under the peer's lock (decideSend) and then runs the
// Matrix effects and waits outside it; a pass that needs the identity key
// or a new instance's key exchange first waits for it and decides again.
func (m *Manager) Send(ctx context.Context, link PeerLink, msg OutgoingText) (SendResult, error) {
	p := m.peer(link)
	var id *identity
	waitedForInstance := false
	for {
		p.mu.Lock()
		d := sendDecision{err: errInternal} // what a panic in decideSend leaves
		d.fx = p.guardDecision(ctx, "send", func() []effect {
			d = p.decideSend(ctx, link, msg, id, waitedForInstance)
			return d.fx
		})
		p.release(ctx, d.fx)
		switch {
		case d.err != nil:
			return SendResult{}, d.err
		case d.needIdentity:
			var err error
			if id, err = m.waitIdentity(ctx); err != nil {
				return SendResult{}, &SendError{Err: err, Text: err.Error()}
			}
		case d.newInstance != nil:
			// The peer's client restarted and is setting up a new session
			// while the old one still looks private: a message now would
			// go to the dead instance. Wait for the new session (briefly).
			waitedForInstance = true
			if err := waitForSecure(ctx, d.newInstance); err != nil {
				return SendResult{}, err
			}
		default:
			res, err := p.awaitSent(ctx, d)
			if err == nil && res.Unencrypted && msg.Event != "" {
				p.mu.Lock()
				p.release(ctx, []effect{markUnencrypted(link, msg.Event)})
			}
			return res, err
		}
	}
}

// sendDecision is what one pass of Send decided under the peer's lock.
type sendDecision struct {
	fx []effect // for the Matrix side, in order
	// err: refused, nothing was sent.
	err error
	// needIdentity: wait for the identity key, then decide again.
	needIdentity bool
	// newInstance: wait (briefly) until it is closed, then decide again.
	newInstance <-chan struct{}

	// unit gets the result of the lines queued now; held are the parts
	// the engine holds until the conversation is private, waiters their
	// results.
	unit    chan error
	held    []otr.HeldID
	waiters []chan error
	result  SendResult
}

// decideSend decides how msg goes out and queues what can go now. id is
// the identity key if a previous pass waited for it. Called with mu held.
func (p *peer) decideSend(ctx context.Context, link PeerLink, msg OutgoingText, id *identity, waitedForInstance bool) (d sendDecision) {
	m := p.m
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		m.log.Err(err).Msg("Failed to resolve OTR policy")
		d.err = &SendError{Err: err, Text: "Not sent: the bridge could not look up your OTR policy for this chat."}
		return d
	}
	d.fx = p.restartEffects()
	if p.policy == otr.PolicyNever {
		if p.recovering {
			d.err = p.recoveringWithoutOTRError()
			return d
		}
		if !p.conversationProtected() {
			p.sendWithoutOTR(ctx, msg.unencrypted(), &d)
			return d
		}
		// Private or finished: the engine encrypts or refuses.
	}
	if len(msg.Lines) == 0 {
		d.err = errEmpty
		return d
	}
	if id == nil {
		if id = m.identity(); !id.isReady() || id.err != nil {
			d.needIdentity = true
			return d
		}
	}
	conv, err := p.ensureConv(ctx, id)
	if err != nil {
		m.log.Err(err).Msg("Failed to set up OTR conversation")
		d.err = &SendError{Err: err, Text: "Not sent: the bridge could not set up OTR for this chat."}
		return d
	}
	if !waitedForInstance && otherInstanceAKE(conv) {
		d.newInstance = p.secureSignal()
		return d
	}
	now := time.Now()
	inf := conv.Info()
	if inf.State == otr.Finished {
		d.err = p.finishedError()
		return d
	}
	if inf.State == otr.Encrypted && inf.HasFingerprint && slices.Contains(p.refusedKeys, inf.Fingerprint) {
		// Refused earlier (held messages were refused to it), whoever
		// started this key exchange: nothing goes to it until verified.
		d.err = p.keyRefusedError(inf.Fingerprint)
		return d
	}
	encrypt, require, akeRunning := p.expectsPrivacy(inf, now)
	if !encrypt {
		if msg = msg.unencrypted(); len(msg.Lines) == 0 {
			d.err = errEmpty
			return d
		}
	}
	if msg.OutsideOTR != "" && encrypt {
		if d.err = p.linkOutsideOTR(link, msg.OutsideOTR, require, inf.SSID); d.err != nil {
			return d
		}
	}
	wire, other, err := p.encode(conv, now, msg, encrypt, akeRunning && !require, &d)
	if err != nil {
		d.err = err
		return d
	}
	d.unit = make(chan error, 1)
	switch {
	case len(wire) == 0:
		d.unit <- nil
	case encrypt:
		p.enqueue(ctx, ircconn.Privmsg, wire, d.unit)
	default:
		// Plaintext keeps its kind (notice, emote).
		p.enqueue(ctx, msg.Kind, wire, d.unit)
	}
	if inf.State == otr.Encrypted && len(wire) > 0 {
		p.recordSent(msg, now, inf)
	}
	d.fx = append(d.fx, p.handleOutput(ctx, now, otr.Output{Events: other}, nil, false)...)
	if !encrypt && !p.noticedSentPT {
		p.noticedSentPT = true
		d.fx = append(d.fx, p.notice(fmt.Sprintf("Messages to %s are sent UNENCRYPTED: there is no private conversation yet. `!otr init` starts one.", link.Nick())))
	}
	d.result = SendResult{Encrypted: encrypt, Unencrypted: !encrypt, Held: len(d.held) > 0}
	return d
}

// expectsPrivacy tells how a message goes out in the conversation's state
// inf: encrypt (private, required by policy, or a key exchange running),
// require (the policy allows nothing else), akeRunning. Called with mu
// held.
func (p *peer) expectsPrivacy(inf otr.Info, now time.Time) (encrypt, require, akeRunning bool) {
	// While a key exchange runs (or was asked for with `init`), even an
	// opportunistic policy holds messages: the user expects privacy.
	akeRunning = inf.State == otr.Plaintext && (inf.ExpectedVersion != 0 || now.Before(p.akePendingUntil))
	require = p.effectivePolicy()&otr.RequireEncryption != 0
	return inf.State == otr.Encrypted || require || akeRunning, require, akeRunning
}

// CheckOutsideOTR answers, before a link to content outside OTR is made
// (a public link to a file), whether Send would refuse a message with
// OutgoingText.OutsideOTR set to what, with the same explanation. A
// refusal in a private conversation is the user being told: the next check
// and the send go through.
func (m *Manager) CheckOutsideOTR(ctx context.Context, link PeerLink, what string) error {
	p := m.peer(link)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.loadPolicy(ctx); err != nil {
		m.log.Err(err).Msg("Failed to resolve OTR policy")
		return &SendError{Err: err, Text: "Not sent: the bridge could not look up your OTR policy for this chat."}
	}
	var inf otr.Info
	if p.conv != nil {
		inf = p.conv.Info()
	}
	encrypt, require, _ := p.expectsPrivacy(inf, time.Now())
	if !encrypt {
		return nil
	}
	return p.linkOutsideOTR(link, what, require, inf.SSID)
}

// linkOutsideOTR decides about a message that links to content outside
// OTR (a file) where the user expects privacy: never under policy always;
// in a private conversation (or one being set up) only once the user was
// told and sent it again. Called with mu held.
func (p *peer) linkOutsideOTR(link PeerLink, what string, require bool, ssid [8]byte) error {
	outside := what + " cannot go inside OTR: only a link to it would, and whoever has the link downloads it from " +
		"this bridge, outside the private conversation (your homeserver keeps a copy too)."
	if require {
		return &SendError{Err: ErrOutsideOTR, Text: fmt.Sprintf("Not sent: %s Your OTR policy for %s is always.", outside, link.Nick())}
	}
	if p.linksAllowed && p.linksSSID == ssid {
		return nil
	}
	p.linksAllowed, p.linksSSID = true, ssid
	return &SendError{Err: ErrOutsideOTR, Text: "Not sent yet: this is a private conversation, and " + outside +
		" Send it again to send the link anyway (for the rest of this private conversation)."}
}

// sendWithoutOTR queues msg in plaintext for a peer without OTR (policy
// never), through the peer's queue after anything queued. Called with mu
// held.
func (p *peer) sendWithoutOTR(ctx context.Context, msg OutgoingText, d *sendDecision) {
	lines := splitPlaintext(msg.Lines, p.link.LineBudget(msg.Kind))
	if len(lines) == 0 {
		d.err = errEmpty
		return
	}
	d.unit = make(chan error, 1)
	p.enqueue(ctx, msg.Kind, lines, d.unit)
	d.result = SendResult{Unencrypted: true}
	if !p.noticedSentPT {
		p.noticedSentPT = true
		why := "OTR is off for this chat (policy never)"
		if p.exempt {
			why = "it is a configured service, which gets no OTR"
		}
		d.fx = append(d.fx, p.notice(fmt.Sprintf("Messages to %s are sent UNENCRYPTED: %s.", p.link.Nick(), why)))
	}
}

// encode runs the message through the engine: the wire lines to send now,
// the other events, and (in d) the parts the engine holds. With onlyQuery
// (a key exchange the user asked for is under way) the engine holds every
// part and sends at most a query. Called with mu held.
func (p *peer) encode(conv *otr.Conversation, now time.Time, msg OutgoingText, encrypt, onlyQuery bool, d *sendDecision) (wire []string, other []otr.Event, err error) {
	texts := msg.Lines
	if !encrypt {
		texts = splitPlaintext(msg.Lines, p.link.LineBudget(msg.Kind)-whitespaceTagRoom)
	}
	if onlyQuery {
		conv.SetPolicy(p.effectivePolicy() | otr.RequireEncryption)
		defer conv.SetPolicy(p.effectivePolicy())
	}
	for _, text := range texts {
		if encrypt && msg.Kind == ircconn.Action {
			text = "/me " + text
		}
		out, err := conv.Send(now, text)
		if err != nil {
			if errors.Is(err, otr.ErrFinished) {
				return nil, nil, p.finishedError()
			}
			if fp, refused := conv.RefusedKey(); refused && errors.Is(err, otr.ErrKeyRefused) {
				return nil, nil, p.keyRefusedError(fp)
			}
			p.m.log.Err(err).Msg("OTR send failed")
			return nil, nil, &SendError{Err: err, Text: "Not sent: " + strings.TrimPrefix(err.Error(), "otr: ") + "."}
		}
		if !onlyQuery {
			wire = append(wire, out.Wire...)
		}
		for _, ev := range out.Events {
			if h, ok := ev.(otr.HeldMessage); ok {
				d.held = append(d.held, h.ID)
			} else {
				other = append(other, ev)
			}
		}
	}
	budget := p.link.LineBudget(ircconn.Privmsg)
	for _, l := range wire {
		if budget > 0 && len(l) > budget {
			return nil, nil, &SendError{Err: ircconn.ErrLineTooLong, Text: "Not sent: an OTR line does not fit into one IRC line to this nick; lower max_fragment_size."}
		}
	}
	for _, hid := range d.held {
		w := make(chan error, 1)
		p.held[hid] = w
		d.waiters = append(d.waiters, w)
	}
	return wire, other, nil
}

// awaitSent waits until the lines Send queued are sent and the held parts
// went out (or failed). Called without mu.
func (p *peer) awaitSent(ctx context.Context, d sendDecision) (SendResult, error) {
	if err := <-d.unit; err != nil {
		return SendResult{}, err
	}
	for i, w := range d.waiters {
		select {
		case err := <-w:
			if err != nil {
				return SendResult{}, err
			}
		case <-ctx.Done():
			p.mu.Lock()
			for _, hid := range d.held[i:] {
				delete(p.held, hid)
			}
			p.mu.Unlock()
			return SendResult{}, &SendError{Err: ctx.Err(), Text: "Not confirmed: the message is still waiting for a private conversation; if one comes up in time it is sent encrypted, otherwise never."}
		}
	}
	return d.result, nil
}

// waitForSecure waits until secure is closed, at most newInstanceWait.
func waitForSecure(ctx context.Context, secure <-chan struct{}) error {
	t := time.NewTimer(newInstanceWait)
	defer t.Stop()
	select {
	case <-secure:
	case <-t.C:
	case <-ctx.Done():
		return &SendError{Err: ctx.Err(), Text: "Not sent: timed out while a new private conversation was being set up."}
	}
	return nil
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
