package smp

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"math/big"

	"github.com/otrbridge/otrbridge/otr/internal/group"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// randomBytes is the size of SMP random exponents: 1536 bits, as libotr.
const randomBytes = 192

// secret is a random exponent kept both as bytes, for the constant-time
// group.Exp, and as a number, for group.SubMulQ.
type secret struct {
	b []byte
	n *big.Int
}

func newSecret(rand io.Reader) (secret, error) {
	b, err := group.RandomExponent(rand, randomBytes)
	if err != nil {
		return secret{}, fmt.Errorf("otr smp: reading random bytes: %w", err)
	}
	return secret{b: b, n: new(big.Int).SetBytes(b)}, nil
}

func secretFrom(x []byte) secret {
	b := append([]byte(nil), x...)
	return secret{b: b, n: new(big.Int).SetBytes(b)}
}

// hash is libotr's sm_hash: SHA-256 over a version byte and one or two MPIs.
func hash(version byte, a, b *big.Int) *big.Int {
	buf := []byte{version}
	buf = wire.AppendMPI(buf, a)
	if b != nil {
		buf = wire.AppendMPI(buf, b)
	}
	sum := sha256.Sum256(buf)
	return new(big.Int).SetBytes(sum[:])
}

// sameHash compares a received c value with a recomputed one.
func sameHash(a, b *big.Int) bool {
	var x, y [32]byte
	a.FillBytes(x[:])
	b.FillBytes(y[:])
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

// expPub is exponentiation with a public exponent (a received D or c).
func expPub(base, e *big.Int) *big.Int { return new(big.Int).Exp(base, e, group.P) }

// mulPub multiplies public values mod p.
func mulPub(a, b *big.Int) *big.Int {
	m := new(big.Int).Mul(a, b)
	return m.Mod(m, group.P)
}

// divPub returns a/b mod p for public values.
func divPub(a, b *big.Int) *big.Int { return mulPub(a, group.InverseP(b)) }

// proveLog returns c = H(version, g^r) and D = r - e*c mod q, a proof of
// knowledge of the exponent e of g^e.
func proveLog(version byte, e secret, rand io.Reader) (c, d *big.Int, err error) {
	r, err := newSecret(rand)
	if err != nil {
		return nil, nil, err
	}
	c = hash(version, group.ExpG(r.b), nil)
	return c, group.SubMulQ(r.n, e.n, c), nil
}

// checkLog verifies a proof made by proveLog for the public value y.
func checkLog(version byte, c, d, y *big.Int) bool {
	return sameHash(c, hash(version, mulPub(expPub(group.G, d), expPub(y, c)), nil))
}

func checkElements(vals ...*big.Int) error {
	for _, v := range vals {
		if group.CheckElement(v) != nil {
			return ErrInvalidElement
		}
	}
	return nil
}

func checkExponents(vals ...*big.Int) error {
	for _, v := range vals {
		if group.CheckExponent(v) != nil {
			return ErrInvalidExponent
		}
	}
	return nil
}
