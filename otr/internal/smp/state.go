package smp

import (
	"fmt"
	"io"
	"math/big"

	"github.com/otrbridge/otrbridge/otr/internal/group"
)

// Result is what a received message meant for the exchange.
type Result int

const (
	None       Result = iota // nothing to report (e.g. an unknown TLV type)
	NeedSecret               // the peer started an exchange: ask the user, then Respond
	InProgress               // a step completed; the exchange goes on
	Succeeded                // both hold the same secret
	Failed                   // the secrets differ
	Aborted                  // the peer aborted the exchange
	Cheated                  // a message failed a check: the peer may be cheating
	Error                    // a message came out of order (e.g. both sides started at once)
)

var resultNames = [...]string{"none", "need secret", "in progress", "succeeded", "failed", "aborted", "cheated", "error"}

func (r Result) String() string {
	if r < 0 || int(r) >= len(resultNames) {
		return fmt.Sprintf("Result(%d)", int(r))
	}
	return resultNames[r]
}

type step int

const (
	expect1    step = iota // no exchange, or an SMP1 answered with an error
	waitSecret             // got SMP1, waiting for Respond
	expect2                // sent SMP1
	expect3                // sent SMP2
	expect4                // sent SMP3
)

// State is one side of an SMP exchange. The zero value is ready. A State is
// not safe for concurrent use.
type State struct {
	step step

	x      secret // our hashed secret
	a2, a3 secret // our exponents for g2 and g3 (b2, b3 on the responder)

	g2a, g3a *big.Int // the peer's g2 and g3 shares (responder only)
	g2, g3   *big.Int // the shared generators
	g3o      *big.Int // the peer's g3 share, for its final proof
	p, q     *big.Int // our P and Q
	pp, qq   *big.Int // P_a/P_b and Q_a/Q_b
}

// Abort forgets the exchange in progress. The caller sends an abort TLV.
func (s *State) Abort() { *s = State{} }

// Waiting reports whether an SMP1 is waiting for Respond.
func (s *State) Waiting() bool { return s.step == waitSecret }

// InExchange reports whether an exchange is under way (including one
// waiting for the user's secret).
func (s *State) InExchange() bool { return s.step != expect1 }

func checkSecret(x []byte) error {
	if len(x) == 0 || len(x) > 64 {
		return ErrSecret
	}
	return nil
}

// Start begins an exchange as the initiator, abandoning any exchange in
// progress, and returns the SMP1 payload.
func (s *State) Start(x []byte, rand io.Reader) (smp1 []byte, err error) {
	*s = State{}
	if err := checkSecret(x); err != nil {
		return nil, err
	}
	a2, err := newSecret(rand)
	if err != nil {
		return nil, err
	}
	a3, err := newSecret(rand)
	if err != nil {
		return nil, err
	}
	c2, d2, err := proveLog(1, a2, rand)
	if err != nil {
		return nil, err
	}
	c3, d3, err := proveLog(2, a3, rand)
	if err != nil {
		return nil, err
	}
	s.x, s.a2, s.a3 = secretFrom(x), a2, a3
	s.step = expect2
	return encode(group.ExpG(a2.b), c2, d2, group.ExpG(a3.b), c3, d3), nil
}

// Receive processes an incoming SMP TLV (types 2 to 7; for type 7 the
// whole value, question included). It returns the TLV to send back, if any,
// and what happened. When err is non-nil the exchange was reset: res is
// Cheated or Error and reply is an abort TLV that must still be sent.
// Other TLV types give (nil, None, nil).
func (s *State) Receive(tlvType uint16, payload []byte, rand io.Reader) (reply *TLV, res Result, err error) {
	switch tlvType {
	case TypeAbort:
		*s = State{}
		return nil, Aborted, nil
	case TypeSMP1, TypeSMP1Q:
		if s.step != expect1 && s.step != waitSecret {
			return s.fail(Error, ErrUnexpected)
		}
		if tlvType == TypeSMP1Q {
			if _, payload, err = SplitSMP1Q(payload); err != nil {
				return s.fail(Cheated, err)
			}
		}
		if err := s.receive1(payload); err != nil {
			return s.fail(Cheated, err)
		}
		return nil, NeedSecret, nil
	case TypeSMP2:
		if s.step != expect2 {
			return s.fail(Error, ErrUnexpected)
		}
		smp3, err := s.receive2(payload, rand)
		if err != nil {
			return s.fail(Cheated, err)
		}
		s.step = expect4
		return &TLV{Type: TypeSMP3, Value: smp3}, InProgress, nil
	case TypeSMP3:
		if s.step != expect3 {
			return s.fail(Error, ErrUnexpected)
		}
		smp4, same, err := s.receive3(payload, rand)
		if err != nil {
			return s.fail(Cheated, err)
		}
		*s = State{}
		return &TLV{Type: TypeSMP4, Value: smp4}, outcome(same), nil
	case TypeSMP4:
		if s.step != expect4 {
			return s.fail(Error, ErrUnexpected)
		}
		same, err := s.receive4(payload)
		if err != nil {
			return s.fail(Cheated, err)
		}
		*s = State{}
		return nil, outcome(same), nil
	}
	return nil, None, nil
}

func outcome(same bool) Result {
	if same {
		return Succeeded
	}
	return Failed
}

// fail resets the exchange and answers with an abort, as libotr does.
func (s *State) fail(res Result, err error) (*TLV, Result, error) {
	*s = State{}
	return &TLV{Type: TypeAbort}, res, err
}

// Respond answers a received SMP1 with our hashed secret and returns the
// SMP2 payload.
func (s *State) Respond(y []byte, rand io.Reader) (smp2 []byte, err error) {
	if s.step != waitSecret {
		return nil, ErrNotAsked
	}
	if err := checkSecret(y); err != nil {
		return nil, err
	}
	out, err := s.respond(secretFrom(y), rand)
	if err != nil {
		*s = State{}
		return nil, err
	}
	s.step = expect3
	return out, nil
}
