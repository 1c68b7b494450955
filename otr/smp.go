package otr

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/otrbridge/otrbridge/otr/internal/smp"
)

// smpSession is the Socialist Millionaires' Protocol state with one peer
// instance, around package smp's State.
type smpSession struct {
	st        smp.State
	weStarted bool // we are the initiator of the current exchange
	question  bool // the peer's request carried a question
}

func (m *smpSession) reset() { *m = smpSession{} }

func (m *smpSession) info() SMPState {
	switch {
	case m.st.Waiting():
		return SMPWaitingForSecret
	case m.st.InExchange():
		return SMPInProgress
	}
	return SMPIdle
}

// smpSecret hashes the user's secret as OTR does:
// SHA256(0x01 || initiator fp || responder fp || ssid || secret).
func smpSecret(initiator, responder Fingerprint, ssid [8]byte, secret []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(initiator[:])
	h.Write(responder[:])
	h.Write(ssid[:])
	h.Write(secret)
	return h.Sum(nil)
}

func (c *Conversation) privateSession() (*session, error) {
	s := c.best()
	if s == nil || s.state != Encrypted {
		return nil, ErrNotPrivate
	}
	return s, nil
}

func (c *Conversation) sendSMP(now time.Time, out *Output, s *session, t smp.TLV) error {
	return c.sendData(now, out, s, flagIgnoreUnreadable, "", tlv{typ: t.Type, value: t.Value})
}

// StartSMP asks the peer to prove it knows secret, optionally showing it a
// question ("" for none). Any exchange in progress is aborted first.
func (c *Conversation) StartSMP(now time.Time, question string, secret []byte) (Output, error) {
	var out Output
	s, err := c.privateSession()
	if err != nil {
		return out, err
	}
	if s.smp.st.InExchange() {
		// Abort the old exchange in a message of its own: libotr looks at
		// SMP1 before abort within one message and would refuse the SMP1.
		if err := c.sendSMP(now, &out, s, smp.TLV{Type: smp.TypeAbort}); err != nil {
			return Output{}, err
		}
	}
	ours := c.cfg.PrivateKey.Public().Fingerprint()
	x := smpSecret(ours, s.lastFP, s.ssid, secret)
	smp1, err := s.smp.st.Start(x, c.rand)
	if err != nil {
		return out, fmt.Errorf("otr: starting SMP: %w", err)
	}
	s.smp.weStarted, s.smp.question = true, question != ""
	t := smp.TLV{Type: smp.TypeSMP1, Value: smp1}
	if question != "" {
		t = smp.TLV{Type: smp.TypeSMP1Q, Value: smp.JoinSMP1Q(question, smp1)}
	}
	return out, c.sendSMP(now, &out, s, t)
}

// smpWaiting returns the encrypted session whose peer asked for SMP,
// preferring the best instance: the question may come from an instance
// that is not the one we send to.
func (c *Conversation) smpWaiting() *session {
	if s := c.best(); s != nil && s.state == Encrypted && s.smp.st.Waiting() {
		return s
	}
	for _, s := range c.sessions {
		if s.state == Encrypted && s.smp.st.Waiting() {
			return s
		}
	}
	return nil
}

// AnswerSMP answers the peer's SMP request (see SMPAsked) with secret.
func (c *Conversation) AnswerSMP(now time.Time, secret []byte) (Output, error) {
	var out Output
	s := c.smpWaiting()
	if s == nil {
		if _, err := c.privateSession(); err != nil {
			return out, err
		}
		return out, ErrNoSMPRequest
	}
	ours := c.cfg.PrivateKey.Public().Fingerprint()
	x := smpSecret(s.lastFP, ours, s.ssid, secret)
	smp2, err := s.smp.st.Respond(x, c.rand)
	if err != nil {
		return out, fmt.Errorf("otr: answering SMP: %w", err)
	}
	return out, c.sendSMP(now, &out, s, smp.TLV{Type: smp.TypeSMP2, Value: smp2})
}

// AbortSMP abandons any SMP exchange and tells the peer.
func (c *Conversation) AbortSMP(now time.Time) (Output, error) {
	var out Output
	s, err := c.privateSession()
	if err != nil {
		return out, err
	}
	s.smp.reset()
	return out, c.sendSMP(now, &out, s, smp.TLV{Type: smp.TypeAbort})
}

// receiveSMP handles one SMP TLV from s. SMP failures are reported as
// events, never as Receive errors.
func (c *Conversation) receiveSMP(now time.Time, out *Output, s *session, t tlv) error {
	var question string
	if t.typ == tlvSMP1Q {
		question, _, _ = smp.SplitSMP1Q(t.value)
	}
	reply, res, _ := s.smp.st.Receive(t.typ, t.value, c.rand)
	if reply != nil {
		if err := c.sendSMP(now, out, s, *reply); err != nil {
			return err
		}
	}
	tag := s.tag
	switch res {
	case smp.NeedSecret:
		s.smp.weStarted, s.smp.question = false, t.typ == tlvSMP1Q
		out.Events = append(out.Events, SMPAsked{Instance: tag, Question: question, HasQuestion: t.typ == tlvSMP1Q})
	case smp.InProgress:
		out.Events = append(out.Events, SMPProgress{Instance: tag})
	case smp.Succeeded:
		// libotr: the initiator trusts on success; the responder only if
		// no question was asked (a shared secret the asker could guess
		// from the question proves less).
		trust := s.smp.weStarted || !s.smp.question
		out.Events = append(out.Events, SMPSucceeded{Instance: tag, Fingerprint: s.lastFP, SetTrust: trust})
		s.smp.reset()
	case smp.Failed:
		out.Events = append(out.Events, SMPFailed{Instance: tag})
		s.smp.reset()
	case smp.Aborted, smp.Error:
		out.Events = append(out.Events, SMPAborted{Instance: tag})
		s.smp.reset()
	case smp.Cheated:
		out.Events = append(out.Events, SMPCheated{Instance: tag})
		s.smp.reset()
	}
	return nil
}
