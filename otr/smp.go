package otr

import (
	"errors"
	"time"
)

var errUnimplemented = errors.New("otr: SMP not wired yet")

// smpSession tracks one SMP exchange with a peer instance.
type smpSession struct {
	state SMPState
}

func (m *smpSession) reset() { *m = smpSession{} }

func (c *Conversation) receiveSMP(now time.Time, out *Output, s *session, t tlv) error { return nil }

// StartSMP starts SMP; question "" means none.
func (c *Conversation) StartSMP(now time.Time, question string, secret []byte) (Output, error) {
	return Output{}, errUnimplemented
}

// AnswerSMP answers the peer's SMP request.
func (c *Conversation) AnswerSMP(now time.Time, secret []byte) (Output, error) {
	return Output{}, errUnimplemented
}

// AbortSMP aborts SMP.
func (c *Conversation) AbortSMP(now time.Time) (Output, error) { return Output{}, errUnimplemented }
