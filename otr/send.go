package otr

import (
	"errors"
	"fmt"
	"time"

	"github.com/otrbridge/otrbridge/otr/internal/fragment"
	"github.com/otrbridge/otrbridge/otr/internal/plaintext"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// queryRepeat is how often held messages may trigger another query.
const queryRepeat = 10 * time.Second

const (
	offerNotSent offerState = iota
	offerSent
	offerRejected
)

// resendInterval and resentPrefix are libotr's RESEND_INTERVAL and default
// resent_msg_prefix.
const (
	resendInterval = 60 * time.Second
	resentPrefix   = "[resent] "
)

// lastMessage is the last text we sent encrypted, kept for resending.
type lastMessage struct {
	text       string
	at         time.Time
	fp         Fingerprint
	valid      bool
	retransmit bool // an OTR error arrived since: resend after the next AKE
}

type heldMessage struct {
	id   HeldID
	text string
	at   time.Time
}

// emit encodes a binary message, fragments it and appends the lines.
func (c *Conversation) emit(out *Output, msg []byte, version int, receiver InstanceTag) error {
	enc := encodeMessage(msg)
	if c.cfg.FragmentSize <= 0 || len(enc) <= c.cfg.FragmentSize {
		out.Wire = append(out.Wire, enc)
		return nil
	}
	lines, err := fragment.Split(enc, c.cfg.FragmentSize, version, uint32(c.cfg.InstanceTag), uint32(receiver))
	if err != nil {
		if errors.Is(err, fragment.ErrTooManyFragments) {
			return fmt.Errorf("%w: %w", ErrMessageTooLarge, err)
		}
		return fmt.Errorf("otr: fragmenting: %w", err)
	}
	out.Wire = append(out.Wire, lines...)
	return nil
}

// emitAKE sends an AKE message with the right header.
func (c *Conversation) emitAKE(out *Output, r *reply, version int, receiver InstanceTag) error {
	w := wire.NewWriter(make([]byte, 0, 11+len(r.body)))
	header{version: version, typ: r.typ, sender: uint32(c.cfg.InstanceTag), receiver: uint32(receiver)}.appendTo(w)
	w.Raw(r.body)
	return c.emit(out, w.Bytes(), version, receiver)
}

// sendData encrypts text and TLVs to s and appends the lines to out.
func (c *Conversation) sendData(now time.Time, out *Output, s *session, flags byte, text string, tlvs ...tlv) error {
	p := getBuf()
	b, err := s.encrypt(*p, c.rand, now, c.cfg.InstanceTag, flags, text, tlvs)
	if err == nil {
		err = c.emit(out, b, s.version, s.tag)
	}
	putBuf(p, b)
	return err
}

// Send turns user text into wire lines. In an encrypted session the text
// is encrypted to the best peer instance. In plaintext it goes out as is
// (with a whitespace tag if policy says so), unless policy requires
// encryption: then it is held (a HeldMessage event gives its ID), a query
// is sent, and it goes out once the session is private. If the peer ended
// the session, Send returns ErrFinished and no wire output.
func (c *Conversation) Send(now time.Time, text string) (Output, error) {
	var out Output
	s := c.best()
	if s != nil {
		switch s.state {
		case Finished:
			return Output{}, ErrFinished
		case Encrypted:
			if c.refusing() {
				return Output{}, ErrKeyRefused
			}
			if err := c.sendData(now, &out, s, 0, text); err != nil {
				return Output{}, err
			}
			c.last = lastMessage{text: text, at: now, fp: s.lastFP, valid: true}
			return out, nil
		}
	}
	if c.cfg.Policy&RequireEncryption != 0 {
		c.nextHeld++
		id := c.nextHeld
		// One query per burst of held messages: every query makes the
		// peer restart its AKE.
		if q := plaintext.QueryMessage(c.versions()); q != "" && (len(c.held) == 0 || now.Sub(c.lastQuery) >= queryRepeat) {
			out.Wire = append(out.Wire, q)
			c.lastQuery = now
		}
		c.held = append(c.held, heldMessage{id: id, text: text, at: now})
		out.Events = append(out.Events, HeldMessage{ID: id})
		return out, nil
	}
	if c.cfg.Policy&SendWhitespaceTag != 0 && c.offer != offerRejected {
		if tag := plaintext.WhitespaceTag(c.versions()); tag != "" {
			text += tag
			c.offer = offerSent
		}
	}
	out.Wire = append(out.Wire, text)
	return out, nil
}

// End ends the private sessions with all peer instances: an encrypted
// session gets a disconnect message, and every instance goes back to
// plaintext.
func (c *Conversation) End(now time.Time) (Output, error) {
	var out Output
	var firstErr error
	c.master = ake{}
	c.last = lastMessage{} // nothing sent before End is resent after it
	c.refused = nil        // the next private session is asked again
	for _, s := range c.sessions {
		switch s.state {
		case Encrypted:
			if err := c.sendData(now, &out, s, flagIgnoreUnreadable, "", tlv{typ: tlvDisconnect}); err != nil && firstErr == nil {
				firstErr = err
			}
			fallthrough
		case Finished:
			s.state = Plaintext
			s.wipeKeys()
			s.smp.reset()
			out.Events = append(out.Events, GoneInsecure{Instance: s.tag})
		}
		s.ake = ake{}
	}
	return out, firstErr
}

// resendLast sends our last message again after an AKE that an error
// from the peer started, as libotr does, but only within resendInterval
// and only to the same key: a message must not go to someone else.
func (c *Conversation) resendLast(now time.Time, out *Output, s *session) error {
	l := c.last
	c.last.retransmit = false
	if !l.retransmit || now.Sub(l.at) > resendInterval || l.fp != s.lastFP {
		return nil
	}
	if err := c.sendData(now, out, s, 0, resentPrefix+l.text); err != nil {
		return err
	}
	out.Events = append(out.Events, MessageResent{Instance: s.tag})
	return nil
}

// heldToNewSession sends the held messages to s, which just became
// private, unless Config.HeldMayGoTo refuses its key: then they are
// dropped unsent, and Send refuses messages to s until AcceptKey.
func (c *Conversation) heldToNewSession(now time.Time, out *Output, s *session) error {
	if (len(c.held) > 0 || c.refusing()) && c.cfg.HeldMayGoTo != nil && !c.cfg.HeldMayGoTo(s.lastFP) {
		if c.refused == s && len(c.held) == 0 {
			return nil // a refresh of the refused session: nothing new
		}
		c.refused = s
		ids := make([]HeldID, len(c.held))
		for i, h := range c.held {
			ids[i] = h.id
		}
		c.held = nil
		out.Events = append(out.Events, HeldRefused{Instance: s.tag, Fingerprint: s.lastFP, IDs: ids})
		return nil
	}
	c.refused = nil
	return c.flushHeld(now, out, s)
}

// refusing reports whether Send refuses messages to the private session.
func (c *Conversation) refusing() bool { return c.refused != nil && c.refused.state == Encrypted }

// RefusedKey reports the key of the private session Send refuses messages
// to (see Config.HeldMayGoTo), if there is one.
func (c *Conversation) RefusedKey() (Fingerprint, bool) {
	if !c.refusing() {
		return Fingerprint{}, false
	}
	return c.refused.lastFP, true
}

// AcceptKey ends the refusal of the private session with the key fp: the
// user accepted it, and Send sends to it again. Another key changes
// nothing.
func (c *Conversation) AcceptKey(fp Fingerprint) {
	if c.refusing() && c.refused.lastFP == fp {
		c.refused = nil
	}
}

// flushHeld sends held messages to s, which just became private.
func (c *Conversation) flushHeld(now time.Time, out *Output, s *session) error {
	for len(c.held) > 0 {
		h := c.held[0]
		if err := c.sendData(now, out, s, 0, h.text); err != nil {
			return err
		}
		c.held = c.held[1:]
		out.Events = append(out.Events, HeldSent{ID: h.id, Instance: s.tag})
	}
	c.held = nil
	return nil
}
