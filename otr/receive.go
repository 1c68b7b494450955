package otr

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/otr/internal/fragment"
	"github.com/otrbridge/otrbridge/otr/internal/plaintext"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// heartbeatInterval is libotr's: after receiving a data message, send an
// empty one if we sent nothing for this long.
const heartbeatInterval = 60 * time.Second

// Error texts sent to the peer, as libotr's clients word them.
const (
	errTextNotPrivate = "You sent encrypted data which was not expected."
	errTextUnreadable = "You transmitted an unreadable encrypted message."
	errTextMalformed  = "You transmitted a malformed data message."
)

// Receive processes one line (an IRC PRIVMSG body) from the peer. The
// returned Output is meaningful even when err != nil: it may hold an
// error reply for the peer and events for the user. Errors wrap
// ErrMalformed, ErrUnreadable or ErrMessageTooLarge.
//
// Heartbeats follow libotr's rule: after a data message arrives, if we
// sent nothing to that instance for 60 seconds, the Output carries an
// empty data message (and a HeartbeatSent event) so keys keep rotating.
func (c *Conversation) Receive(now time.Time, line string) (Output, error) {
	var out Output
	if c.versions() == 0 {
		// Like libotr, a policy allowing no version leaves every line
		// alone, OTR markers included.
		out.Messages = append(out.Messages, Received{Text: line})
		return out, nil
	}
	var (
		msg  string
		done bool
		err  error
	)
	if c.reasm.Pending() == 0 && strings.HasSuffix(line, ".") && strings.Contains(line, "?OTR:") && !fragment.IsFragment(line) {
		// A whole encoded message and nothing buffered: the reassembler
		// would hand it back unchanged after scanning every character.
		msg, done = line, true
	} else {
		msg, done, err = c.reasm.Add(now, line)
	}
	if err != nil {
		c.reasm.TakeDropped() // this error reports the loss
		switch {
		case errors.Is(err, fragment.ErrNotForUs):
			return out, nil // libotr ignores fragments for other instances
		case errors.Is(err, fragment.ErrLimit):
			out.Events = append(out.Events, Malformed{Reason: "fragment limit"})
			return out, fmt.Errorf("%w: %w", ErrMessageTooLarge, err)
		}
		out.Events = append(out.Events, Malformed{Reason: "bad fragment"})
		return out, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c.reportDropped(&out)
	if !done {
		return out, nil
	}
	if i := strings.Index(msg, "?OTR:"); i >= 0 {
		err = c.receiveEncoded(now, &out, msg[i:])
		return out, err
	}
	if text, ok := plaintext.FindError(msg); ok {
		out.Events = append(out.Events, ErrorReceived{Text: text})
		if c.cfg.Policy&ErrorStartAKE != 0 {
			if q := plaintext.QueryMessage(c.versions()); q != "" {
				out.Wire = append(out.Wire, q)
				// The peer probably could not read our last message:
				// offer it again once the new session is up.
				c.last.retransmit = c.last.valid && now.Sub(c.last.at) <= resendInterval
			}
		}
		return out, nil
	}
	return out, c.receivePlaintext(now, &out, msg)
}

func (c *Conversation) receivePlaintext(now time.Time, out *Output, msg string) error {
	text, tagVersions, tagged := plaintext.FindWhitespaceTag(msg)
	if !tagged {
		// The peer answered in plaintext: stop advertising.
		c.offer = offerRejected
	}
	if qv, ok := plaintext.FindQuery(text); ok {
		if v := c.bestVersion(qv); v != 0 {
			return c.startAKE(out, v)
		}
		return nil
	}
	if strings.Contains(text, "?OTR?") {
		// A version 1 query: never spoken, and like libotr never shown.
		return nil
	}
	if tagged && c.cfg.Policy&WhitespaceStartAKE != 0 {
		if v := c.bestVersion(tagVersions); v != 0 {
			if err := c.startAKE(out, v); err != nil {
				return err
			}
		}
	}
	if text == "" {
		return nil
	}
	out.Messages = append(out.Messages, Received{Text: text})
	if s := c.best(); (s != nil && s.state != Plaintext) || c.cfg.Policy&RequireEncryption != 0 {
		var tag InstanceTag
		if s != nil {
			tag = s.tag
		}
		out.Events = append(out.Events, UnencryptedReceived{Instance: tag})
	}
	return nil
}

// startAKE sends a D-H Commit to whichever instance answers.
func (c *Conversation) startAKE(out *Output, version int) error {
	r, err := c.master.start(c.rand, version)
	if err != nil {
		return err
	}
	return c.emitAKE(out, r, version, 0)
}

func (c *Conversation) receiveEncoded(now time.Time, out *Output, msg string) error {
	// Nothing below keeps a reference into b: values are copied out.
	p := getBuf()
	b, err := appendDecoded(*p, msg)
	defer putBuf(p, b)
	if err != nil {
		out.Events = append(out.Events, Malformed{Reason: "undecodable OTR message"})
		return err
	}
	r := wire.NewReader(b)
	h, err := parseHeader(r)
	if err != nil {
		out.Events = append(out.Events, Malformed{Reason: "short OTR header"})
		return err
	}
	if h.version != 2 && h.version != 3 || !c.cfg.Policy.allows(h.version) {
		return nil // v1, unknown, or a version policy forbids: ignore
	}
	var tag InstanceTag
	if h.version == 3 {
		if h.sender < minInstanceTag {
			out.Events = append(out.Events, Malformed{Reason: "bad sender instance tag"})
			return fmt.Errorf("%w: sender instance tag %#x", ErrMalformed, h.sender)
		}
		if h.receiver != uint32(c.cfg.InstanceTag) && !(h.receiver == 0 && h.typ == msgDHCommit) {
			return nil // for another instance of our account
		}
		if h.sender == uint32(c.cfg.InstanceTag) {
			return nil // our own message echoed back (libotr's MSG_REFLECTED)
		}
		tag = InstanceTag(h.sender)
	}
	switch h.typ {
	case msgDHCommit, msgDHKey, msgRevealSig, msgSig:
		err = c.receiveAKE(now, out, h, tag, r)
	case msgData:
		err = c.receiveData(now, out, h, tag, b, r)
	default:
		out.Events = append(out.Events, Malformed{Reason: "unknown message type"})
		err = fmt.Errorf("%w: unknown message type %#x", ErrMalformed, h.typ)
	}
	return err
}

func (c *Conversation) receiveAKE(now time.Time, out *Output, h header, tag InstanceTag, r *wire.Reader) error {
	s := c.sessionOrNew(tag)
	if s == nil {
		return nil // too many encrypted instances already; ignore
	}
	c.recvSeq++
	s.recvSeq = c.recvSeq
	// The commit we sent to "any instance" is answered here: continue
	// that exchange with this instance. A commit crossing ours needs our
	// hash to decide who yields.
	//
	// libotr yields to a crossing commit even when its hash is higher:
	// in v3 its instance context answers ours with a D-H Key, and when
	// our own D-H Key (we yielded too) reaches it, it continues its own
	// commit and sends a Reveal Signature, so we must stay the responder
	// and drop its D-H Key. In v2 its single context stays the responder
	// to our commit and ignores our D-H Key, so its D-H Key must make us
	// continue our commit, or both sides would wait forever.
	if c.master.state == akeAwaitingDHKey && c.master.version == h.version {
		switch {
		case h.typ == msgDHCommit && s.ake.state == akeNone,
			h.typ == msgDHKey && s.ake.state == akeNone,
			h.typ == msgDHKey && s.ake.state == akeAwaitingRevealSig && h.version == 2:
			s.ake = c.master
		}
	}
	var (
		rep *reply
		res *akeResult
		err error
	)
	switch h.typ {
	case msgDHCommit:
		rep, err = s.ake.handleCommit(c.rand, h.version, r)
	case msgDHKey:
		rep, err = s.ake.handleDHKey(c.rand, h.version, r, c.cfg.PrivateKey)
	case msgRevealSig:
		rep, res, err = s.ake.handleRevealSig(c.rand, h.version, r, c.cfg.PrivateKey)
	case msgSig:
		res, err = s.ake.handleSig(h.version, r)
	}
	if err != nil {
		// libotr ignores a failed AKE message; report it all the same.
		out.Events = append(out.Events, Malformed{Reason: "bad AKE message"})
		return err
	}
	if rep != nil {
		if err := c.emitAKE(out, rep, h.version, tag); err != nil {
			return err
		}
	}
	if res != nil {
		refreshed := s.goSecure(now, res)
		out.Events = append(out.Events, GoneSecure{
			Version: res.version, Instance: tag, Fingerprint: s.lastFP, SSID: s.ssid, Refreshed: refreshed,
		})
		if c.best() != s {
			return nil
		}
		if err := c.resendLast(now, out, s); err != nil {
			return err
		}
		return c.heldToNewSession(now, out, s)
	}
	return nil
}

func (c *Conversation) receiveData(now time.Time, out *Output, h header, tag InstanceTag, full []byte, r *wire.Reader) error {
	d, err := parseData(full, r)
	if err != nil {
		out.Events = append(out.Events, Malformed{Reason: "bad data message"})
		out.Wire = append(out.Wire, plaintext.ErrorMessage(errTextMalformed))
		return err
	}
	s := c.session(tag)
	if s == nil || s.state != Encrypted || s.version != h.version {
		if d.flags&flagIgnoreUnreadable != 0 {
			return nil
		}
		out.Events = append(out.Events, Unreadable{Instance: tag, Reason: "not in a private session"})
		out.Wire = append(out.Wire, plaintext.ErrorMessage(errTextNotPrivate))
		return fmt.Errorf("%w: no private session with instance %v", ErrUnreadable, tag)
	}
	plain, extra, err := s.decrypt(&d)
	if err == nil {
		c.recvSeq++
		s.recvSeq = c.recvSeq
	}
	if err != nil {
		if d.flags&flagIgnoreUnreadable != 0 || s.isOwnEcho(&d) {
			return nil
		}
		out.Events = append(out.Events, Unreadable{Instance: tag, Reason: "could not decrypt"})
		out.Wire = append(out.Wire, plaintext.ErrorMessage(errTextUnreadable))
		return err
	}
	text, tlvs := splitPlaintext(plain)
	if len(text) > 0 {
		out.Messages = append(out.Messages, Received{Text: string(text), Encrypted: true, Instance: tag})
	}
	for _, t := range tlvs {
		switch t.typ {
		case tlvDisconnect:
			s.state = Finished
			s.wipeKeys()
			s.smp.reset()
			out.Events = append(out.Events, PeerEnded{Instance: tag})
			return nil
		case tlvSymKey:
			if len(t.value) < 4 {
				continue
			}
			ev := ExtraSymmetricKeyReceived{Instance: tag, Key: extra}
			ev.Use = uint32(t.value[0])<<24 | uint32(t.value[1])<<16 | uint32(t.value[2])<<8 | uint32(t.value[3])
			ev.UseData = append([]byte(nil), t.value[4:]...)
			out.Events = append(out.Events, ev)
		case tlvSMP1, tlvSMP2, tlvSMP3, tlvSMP4, tlvSMPAbort, tlvSMP1Q:
			if err := c.receiveSMP(now, out, s, t); err != nil {
				return err
			}
		}
	}
	if now.Sub(s.lastSent) >= heartbeatInterval {
		if err := c.sendData(now, out, s, flagIgnoreUnreadable, ""); err != nil {
			return err
		}
		out.Events = append(out.Events, HeartbeatSent{Instance: tag})
	}
	return nil
}
