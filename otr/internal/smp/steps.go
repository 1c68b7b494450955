package smp

import (
	"fmt"
	"io"
	"math/big"

	"github.com/otrbridge/otrbridge/otr/internal/group"
)

// The hash version bytes of each proof, as in the spec and libotr.
const (
	hashSMP1G2 = 1 + iota
	hashSMP1G3
	hashSMP2G2
	hashSMP2G3
	hashSMP2PQ
	hashSMP3PQ
	hashSMP3R
	hashSMP4R
)

// receive1 checks an SMP1 (g2a, c2, D2, g3a, c3, D3) and keeps the
// peer's shares until the user answers.
func (s *State) receive1(payload []byte) error {
	v, err := decode(payload, countSMP1, 1, 4)
	if err != nil {
		return err
	}
	g2a, c2, d2, g3a, c3, d3 := v[0], v[1], v[2], v[3], v[4], v[5]
	if err := checkElements(g2a, g3a); err != nil {
		return fmt.Errorf("SMP1: %w", err)
	}
	if err := checkExponents(d2, d3); err != nil {
		return fmt.Errorf("SMP1: %w", err)
	}
	if !checkLog(hashSMP1G2, c2, d2, g2a) || !checkLog(hashSMP1G3, c3, d3, g3a) {
		return fmt.Errorf("SMP1: %w", ErrProof)
	}
	*s = State{step: waitSecret, g2a: g2a, g3a: g3a}
	return nil
}

// respond builds SMP2 (g2b, c2, D2, g3b, c3, D3, Pb, Qb, cP, D5, D6).
func (s *State) respond(y secret, rand io.Reader) ([]byte, error) {
	var r [5]secret // b2, b3, r4, r5, r6
	for i := range r {
		var err error
		if r[i], err = newSecret(rand); err != nil {
			return nil, err
		}
	}
	b2, b3, r4, r5, r6 := r[0], r[1], r[2], r[3], r[4]
	c2, d2, err := proveLog(hashSMP2G2, b2, rand)
	if err != nil {
		return nil, err
	}
	c3, d3, err := proveLog(hashSMP2G3, b3, rand)
	if err != nil {
		return nil, err
	}
	g2 := group.Exp(s.g2a, b2.b)
	g3 := group.Exp(s.g3a, b3.b)
	pb := group.Exp(g3, r4.b)
	qb := group.MulP(group.ExpG(r4.b), group.Exp(g2, y.b))
	cp := hash(hashSMP2PQ, group.Exp(g3, r5.b), group.MulP(group.ExpG(r5.b), group.Exp(g2, r6.b)))
	d5 := group.SubMulQ(r5.n, r4.n, cp)
	d6 := group.SubMulQ(r6.n, y.n, cp)

	s.a3, s.g2, s.g3, s.g3o, s.p, s.q = b3, g2, g3, s.g3a, pb, qb
	s.g2a, s.g3a = nil, nil
	return encode(group.ExpG(b2.b), c2, d2, group.ExpG(b3.b), c3, d3, pb, qb, cp, d5, d6), nil
}

// checkPQ verifies the proof that P and Q were formed from the same r4.
func (s *State) checkPQ(version byte, p, q, cp, d5, d6 *big.Int) bool {
	t1 := mulPub(expPub(s.g3, d5), expPub(p, cp))
	t2 := mulPub(mulPub(expPub(group.G, d5), expPub(s.g2, d6)), expPub(q, cp))
	return sameHash(cp, hash(version, t1, t2))
}

// checkR verifies the proof that R = (Qa/Qb)^e for the e behind the
// peer's g3 share.
func (s *State) checkR(version byte, r, cr, d7 *big.Int) bool {
	t1 := mulPub(expPub(group.G, d7), expPub(s.g3o, cr))
	t2 := mulPub(expPub(s.qq, d7), expPub(r, cr))
	return sameHash(cr, hash(version, t1, t2))
}

// proveR returns R = (Qa/Qb)^a3 with its proof (cR, D7).
func (s *State) proveR(version byte, rand io.Reader) (r, cr, d7 *big.Int, err error) {
	r7, err := newSecret(rand)
	if err != nil {
		return nil, nil, nil, err
	}
	r = group.Exp(s.qq, s.a3.b)
	cr = hash(version, group.ExpG(r7.b), group.Exp(s.qq, r7.b))
	return r, cr, group.SubMulQ(r7.n, s.a3.n, cr), nil
}

// receive2 checks SMP2 on the initiator and builds SMP3
// (Pa, Qa, cP, D5, D6, Ra, cR, D7).
func (s *State) receive2(payload []byte, rand io.Reader) ([]byte, error) {
	v, err := decode(payload, countSMP2, 1, 4, 8)
	if err != nil {
		return nil, err
	}
	g2b, c2, d2, g3b, c3, d3, pb, qb, cp, d5, d6 := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]
	if err := checkElements(g2b, g3b, pb, qb); err != nil {
		return nil, fmt.Errorf("SMP2: %w", err)
	}
	if err := checkExponents(d2, d3, d5, d6); err != nil {
		return nil, fmt.Errorf("SMP2: %w", err)
	}
	if !checkLog(hashSMP2G2, c2, d2, g2b) || !checkLog(hashSMP2G3, c3, d3, g3b) {
		return nil, fmt.Errorf("SMP2: %w", ErrProof)
	}
	s.g2 = group.Exp(g2b, s.a2.b)
	s.g3 = group.Exp(g3b, s.a3.b)
	if !s.checkPQ(hashSMP2PQ, pb, qb, cp, d5, d6) {
		return nil, fmt.Errorf("SMP2: %w", ErrProof)
	}

	var r [3]secret // r4, r5, r6
	for i := range r {
		if r[i], err = newSecret(rand); err != nil {
			return nil, err
		}
	}
	r4, r5, r6 := r[0], r[1], r[2]
	pa := group.Exp(s.g3, r4.b)
	qa := group.MulP(group.ExpG(r4.b), group.Exp(s.g2, s.x.b))
	cpa := hash(hashSMP3PQ, group.Exp(s.g3, r5.b), group.MulP(group.ExpG(r5.b), group.Exp(s.g2, r6.b)))
	d5a := group.SubMulQ(r5.n, r4.n, cpa)
	d6a := group.SubMulQ(r6.n, s.x.n, cpa)

	s.g3o = g3b
	s.pp = divPub(pa, pb)
	s.qq = divPub(qa, qb)
	// a3 stays: it makes Ra now and Rab when SMP4 arrives.
	ra, cr, d7, err := s.proveR(hashSMP3R, rand)
	if err != nil {
		return nil, err
	}
	s.x, s.a2 = secret{}, secret{}
	return encode(pa, qa, cpa, d5a, d6a, ra, cr, d7), nil
}

// receive3 checks SMP3 on the responder, builds SMP4 (Rb, cR, D7) and
// reports whether the secrets match.
func (s *State) receive3(payload []byte, rand io.Reader) (smp4 []byte, same bool, err error) {
	v, err := decode(payload, countSMP3, 2, 6)
	if err != nil {
		return nil, false, err
	}
	pa, qa, cp, d5, d6, ra, cr, d7 := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	if err := checkElements(pa, qa, ra); err != nil {
		return nil, false, fmt.Errorf("SMP3: %w", err)
	}
	if err := checkExponents(d5, d6, d7); err != nil {
		return nil, false, fmt.Errorf("SMP3: %w", err)
	}
	if !s.checkPQ(hashSMP3PQ, pa, qa, cp, d5, d6) {
		return nil, false, fmt.Errorf("SMP3: %w", ErrProof)
	}
	s.qq = divPub(qa, s.q)
	if !s.checkR(hashSMP3R, ra, cr, d7) {
		return nil, false, fmt.Errorf("SMP3: %w", ErrProof)
	}
	rb, crb, d7b, err := s.proveR(hashSMP4R, rand)
	if err != nil {
		return nil, false, err
	}
	rab := group.Exp(ra, s.a3.b)
	same = group.Equal(rab, divPub(pa, s.p))
	return encode(rb, crb, d7b), same, nil
}

// receive4 checks SMP4 on the initiator and reports whether the secrets
// match.
func (s *State) receive4(payload []byte) (same bool, err error) {
	v, err := decode(payload, countSMP4, 1)
	if err != nil {
		return false, err
	}
	rb, cr, d7 := v[0], v[1], v[2]
	if err := checkElements(rb); err != nil {
		return false, fmt.Errorf("SMP4: %w", err)
	}
	if err := checkExponents(d7); err != nil {
		return false, fmt.Errorf("SMP4: %w", err)
	}
	if !s.checkR(hashSMP4R, rb, cr, d7) {
		return false, fmt.Errorf("SMP4: %w", ErrProof)
	}
	rab := group.Exp(rb, s.a3.b)
	return group.Equal(rab, s.pp), nil
}
