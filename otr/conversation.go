package otr

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/otr/internal/fragment"
	"github.com/otrbridge/otrbridge/otr/internal/plaintext"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// heartbeatInterval is libotr's: after receiving a data message, send an
// empty one if we sent nothing for this long.
const heartbeatInterval = 60 * time.Second

const defaultHoldTimeout = 60 * time.Second

// queryRepeat is how often held messages may trigger another query.
const queryRepeat = 10 * time.Second

// Error texts sent to the peer, as libotr's clients word them.
const (
	errTextNotPrivate = "You sent encrypted data which was not expected."
	errTextUnreadable = "You transmitted an unreadable encrypted message."
	errTextMalformed  = "You transmitted a malformed data message."
)

// whitespace tag offer state, as libotr's otr_offer.
type offerState int

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

// Conversation is the OTR state with one peer: all of the peer's
// instances, the AKE we started, held messages and partial fragments.
// It is not safe for concurrent use.
type Conversation struct {
	cfg  Config
	rand io.Reader

	// master is the AKE we start in answer to a query or whitespace tag,
	// before we know which peer instance will answer (receiver tag 0).
	master   ake
	sessions []*session // in order of creation, for determinism
	selected InstanceTag

	recvSeq uint64

	offer     offerState
	last      lastMessage
	held      []heldMessage
	nextHeld  HeldID
	lastQuery time.Time
	reasm     *fragment.Reassembler
}

// NewConversation validates cfg and returns a conversation in plaintext.
func NewConversation(cfg Config) (*Conversation, error) {
	if cfg.PrivateKey == nil {
		return nil, errors.New("otr: Config.PrivateKey is required")
	}
	if cfg.InstanceTag < minInstanceTag {
		return nil, fmt.Errorf("otr: instance tag %#x is below 0x100", uint32(cfg.InstanceTag))
	}
	if cfg.FragmentSize < 0 {
		return nil, errors.New("otr: negative FragmentSize")
	}
	if cfg.HoldTimeout <= 0 {
		cfg.HoldTimeout = defaultHoldTimeout
	}
	c := &Conversation{cfg: cfg, rand: cfg.Rand}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	c.reasm = fragment.NewReassembler(fragment.Limits{OwnInstance: uint32(cfg.InstanceTag)})
	return c, nil
}

// SetFragmentSize changes the maximum wire line length for later output
// (for example after a nick change alters the IRC line budget); 0 means
// never fragment.
func (c *Conversation) SetFragmentSize(n int) {
	if n >= 0 {
		c.cfg.FragmentSize = n
	}
}

// SetPolicy changes the policy for later calls.
func (c *Conversation) SetPolicy(p Policy) { c.cfg.Policy = p }

// Policy returns the current policy.
func (c *Conversation) Policy() Policy { return c.cfg.Policy }

func (c *Conversation) versions() plaintext.Versions {
	var v plaintext.Versions
	if c.cfg.Policy&AllowV2 != 0 {
		v |= plaintext.V2
	}
	if c.cfg.Policy&AllowV3 != 0 {
		v |= plaintext.V3
	}
	return v
}

// bestVersion picks the highest version both we and the offer allow.
func (c *Conversation) bestVersion(offer plaintext.Versions) int {
	both := offer & c.versions()
	switch {
	case both.Has(plaintext.V3):
		return 3
	case both.Has(plaintext.V2):
		return 2
	}
	return 0
}

func (c *Conversation) session(tag InstanceTag) *session {
	for _, s := range c.sessions {
		if s.tag == tag {
			return s
		}
	}
	return nil
}

// maxInstances bounds the peer instances kept, so a peer inventing
// instance tags cannot make us hold unbounded state.
const maxInstances = 16

// sessionOrNew returns the session with tag, creating it if needed. At
// the cap it replaces the least recently heard instance that is not
// encrypted; if all are encrypted it returns nil.
func (c *Conversation) sessionOrNew(tag InstanceTag) *session {
	if s := c.session(tag); s != nil {
		return s
	}
	s := &session{tag: tag}
	if len(c.sessions) < maxInstances {
		c.sessions = append(c.sessions, s)
		return s
	}
	victim := -1
	for i, old := range c.sessions {
		if old.state != Encrypted && (victim < 0 || old.recvSeq < c.sessions[victim].recvSeq) {
			victim = i
		}
	}
	if victim < 0 {
		return nil
	}
	if c.selected == c.sessions[victim].tag {
		c.selected = 0
	}
	c.sessions = append(append(c.sessions[:victim:victim], c.sessions[victim+1:]...), s)
	return s
}

// best picks the peer instance to send to like libotr's
// OTRL_INSTAG_BEST: encrypted beats finished beats plaintext, then a
// trusted fingerprint, then the most recent message received.
func (c *Conversation) best() *session {
	if c.selected != 0 {
		if s := c.session(c.selected); s != nil {
			return s
		}
	}
	var best *session
	for _, s := range c.sessions {
		if best == nil || c.better(s, best) {
			best = s
		}
	}
	return best
}

func rank(s MsgState) int {
	switch s {
	case Encrypted:
		return 2
	case Finished:
		return 1
	}
	return 0
}

func (c *Conversation) better(a, b *session) bool {
	if ra, rb := rank(a.state), rank(b.state); ra != rb {
		return ra > rb
	}
	if c.cfg.Trusted != nil {
		ta := a.theirKey != nil && c.cfg.Trusted(a.lastFP)
		tb := b.theirKey != nil && c.cfg.Trusted(b.lastFP)
		if ta != tb {
			return ta
		}
	}
	return a.recvSeq > b.recvSeq
}

// SelectInstance pins sending to one peer instance; 0 restores the
// automatic choice.
func (c *Conversation) SelectInstance(tag InstanceTag) error {
	if tag != 0 && c.session(tag) == nil {
		return ErrUnknownInstance
	}
	c.selected = tag
	return nil
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

// Start asks the peer for a private conversation by sending a query
// message (a refresh if one exists already).
func (c *Conversation) Start(now time.Time) (Output, error) {
	q := plaintext.QueryMessage(c.versions())
	if q == "" {
		return Output{}, errors.New("otr: policy allows no OTR version")
	}
	return Output{Wire: []string{q}}, nil
}

// End ends the private sessions with all peer instances: an encrypted
// session gets a disconnect message, and every instance goes back to
// plaintext.
func (c *Conversation) End(now time.Time) (Output, error) {
	var out Output
	var firstErr error
	c.master = ake{}
	c.last = lastMessage{} // nothing sent before End is resent after it
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

// Tick expires held messages (HeldExpired after Config.HoldTimeout) and
// stale incoming fragments. Call it every few seconds. (Heartbeats are
// sent by Receive, as in libotr.)
func (c *Conversation) Tick(now time.Time) Output {
	var out Output
	kept := c.held[:0]
	for _, h := range c.held {
		if now.Sub(h.at) >= c.cfg.HoldTimeout {
			out.Events = append(out.Events, HeldExpired{ID: h.id})
			continue
		}
		kept = append(kept, h)
	}
	c.held = kept
	c.reasm.Expire(now)
	return out
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

func (c *Conversation) info(s *session) Info {
	inf := Info{OurInstance: c.cfg.InstanceTag}
	if s == nil {
		if c.master.state != akeNone {
			inf.ExpectedVersion = c.master.version
		}
		return inf
	}
	inf.State = s.state
	inf.TheirInstance = s.tag
	if s.everSecure {
		inf.Version = s.version
		inf.Fingerprint = s.lastFP
		inf.HasFingerprint = true
		inf.SSID = s.ssid
		inf.SSIDHighHalf = !s.initiator
	}
	if s.ake.state != akeNone {
		inf.ExpectedVersion = s.ake.version
	}
	inf.SMP = s.smp.info()
	return inf
}

// Info describes the session with the peer instance Send would use.
func (c *Conversation) Info() Info { return c.info(c.best()) }

// Instances describes every peer instance seen, in order of first contact.
func (c *Conversation) Instances() []Info {
	infos := make([]Info, 0, len(c.sessions))
	for _, s := range c.sessions {
		infos = append(infos, c.info(s))
	}
	return infos
}

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
		switch {
		case errors.Is(err, fragment.ErrNotForUs):
			return out, nil // libotr ignores fragments for other instances
		case errors.Is(err, fragment.ErrMessageTooLarge):
			err = fmt.Errorf("%w: %w", ErrMessageTooLarge, err)
		default:
			err = fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		out.Events = append(out.Events, Malformed{Reason: "bad fragment"})
		return out, err
	}
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
		return c.flushHeld(now, out, s)
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
