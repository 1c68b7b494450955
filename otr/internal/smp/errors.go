package smp

import "errors"

var (
	// ErrMalformed means a payload was not a well-formed SMP message.
	ErrMalformed = errors.New("otr smp: malformed message")
	// ErrInvalidElement means a received group element is out of range.
	ErrInvalidElement = errors.New("otr smp: group element out of range")
	// ErrInvalidExponent means a received exponent is out of range.
	ErrInvalidExponent = errors.New("otr smp: exponent out of range")
	// ErrProof means a zero-knowledge proof in a received message failed.
	ErrProof = errors.New("otr smp: proof check failed")
	// ErrUnexpected means an SMP message arrived out of order.
	ErrUnexpected = errors.New("otr smp: unexpected message")
	// ErrNotAsked means Respond was called with no SMP1 waiting for an answer.
	ErrNotAsked = errors.New("otr smp: no SMP request to answer")
	// ErrSecret means the hashed secret passed in has an invalid length.
	ErrSecret = errors.New("otr smp: secret must be 1 to 64 bytes")
)
