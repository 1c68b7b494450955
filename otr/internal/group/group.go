// Package group is the OTR Diffie-Hellman group: the 1536-bit MODP group of
// RFC 3526 with generator 2, and its prime-order subgroup of order
// q = (p-1)/2. Operations with secret exponents run in constant time through
// filippo.io/bigmod; public checks may use math/big.
package group

import (
	"crypto/subtle"
	"errors"
	"io"
	"math/big"

	"filippo.io/bigmod"
)

const primeHex = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D" +
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D" +
	"670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"

// Size is the length in bytes of a group element written in full.
const Size = 192

var (
	// P is the group prime, G the generator, Q the subgroup order (p-1)/2.
	P, G, Q *big.Int
	// PMinus2 is the largest valid group element.
	PMinus2 *big.Int

	modP, modQ *bigmod.Modulus
	gNat       *bigmod.Nat
	topBitModQ *bigmod.Nat // 2^1535 mod q
)

func init() {
	P, _ = new(big.Int).SetString(primeHex, 16)
	G = big.NewInt(2)
	Q = new(big.Int).Rsh(P, 1)
	PMinus2 = new(big.Int).Sub(P, big.NewInt(2))
	var err error
	if modP, err = bigmod.NewModulus(P.Bytes()); err != nil {
		panic(err)
	}
	if modQ, err = bigmod.NewModulus(Q.Bytes()); err != nil {
		panic(err)
	}
	gNat = bigmod.NewNat().SetUint(2).ExpandFor(modP)
	top := new(big.Int).Lsh(big.NewInt(1), 8*Size-1)
	if topBitModQ, err = bigmod.NewNat().SetBytes(top.Mod(top, Q).FillBytes(make([]byte, Size)), modQ); err != nil {
		panic(err)
	}
}

// ErrInvalidElement means a received value is outside 2 <= x <= p-2.
var ErrInvalidElement = errors.New("otr: group element out of range")

// ErrInvalidExponent means a received exponent is outside 1 <= x < q.
var ErrInvalidExponent = errors.New("otr: exponent out of range")

// CheckElement reports whether x is a valid group element (2 <= x <= p-2).
func CheckElement(x *big.Int) error {
	if x == nil || x.Cmp(G) < 0 || x.Cmp(PMinus2) > 0 {
		return ErrInvalidElement
	}
	return nil
}

// CheckExponent reports whether x is a valid SMP exponent (1 <= x < q).
func CheckExponent(x *big.Int) error {
	if x == nil || x.Sign() <= 0 || x.Cmp(Q) >= 0 {
		return ErrInvalidExponent
	}
	return nil
}

// Pad returns x as a big-endian byte string of exactly Size bytes.
func Pad(x *big.Int) []byte { return x.FillBytes(make([]byte, Size)) }

func natModP(x *big.Int) *bigmod.Nat {
	n, err := bigmod.NewNat().SetBytes(Pad(x), modP)
	if err != nil {
		panic("otr/group: element not reduced mod p")
	}
	return n
}

// Exp returns base^exp mod p, taking time independent of the value of the
// secret exponent exp (big-endian bytes). base must be reduced mod p.
func Exp(base *big.Int, exp []byte) *big.Int {
	return new(big.Int).SetBytes(bigmod.NewNat().Exp(natModP(base), exp, modP).Bytes(modP))
}

// ExpG returns g^exp mod p in constant time with respect to exp.
// DH private keys (40 bytes) use a precomputed table; other lengths (SMP's
// 192-byte randoms) the generic exponentiation.
func ExpG(exp []byte) *big.Int {
	if len(exp) == fixedBaseExpBytes {
		return new(big.Int).SetBytes(expGFixed(exp).Bytes(modP))
	}
	return new(big.Int).SetBytes(bigmod.NewNat().Exp(gNat, exp, modP).Bytes(modP))
}

// MulP returns a*b mod p. Both must be reduced mod p.
func MulP(a, b *big.Int) *big.Int {
	return new(big.Int).SetBytes(natModP(a).Mul(natModP(b), modP).Bytes(modP))
}

// InverseP returns the inverse of a public element a mod p.
func InverseP(a *big.Int) *big.Int { return new(big.Int).ModInverse(a, P) }

// natModQ reduces x < 2^1536 mod q in constant time. bigmod only loads
// values as long as the modulus (1535 bits for q), so the top bit of a
// 1536-bit value (SMP randoms are 1536 bits) is folded in as 2^1535 mod q.
func natModQ(x *big.Int) *bigmod.Nat {
	b := x.FillBytes(make([]byte, Size))
	hi := uint(b[0] >> 7)
	b[0] &= 0x7f
	n, err := bigmod.NewNat().SetOverflowingBytes(b, modQ)
	if err != nil {
		panic("otr/group: value too large for mod q reduction")
	}
	top := bigmod.NewNat().SetUint(hi).ExpandFor(modQ).Mul(topBitModQ, modQ)
	return n.Add(top, modQ)
}

// SubMulQ returns (r - a*x) mod q in constant time, the SMP proof response.
// r, a and x must each be below 2^1536 (1536-bit values are fine).
func SubMulQ(r, a, x *big.Int) *big.Int {
	ax := natModQ(a).Mul(natModQ(x), modQ)
	return new(big.Int).SetBytes(natModQ(r).Sub(ax, modQ).Bytes(modQ))
}

// RandomExponent returns n random bytes from rand as a secret exponent
// (libotr uses 40 bytes for DH private keys and 192 for SMP randoms).
func RandomExponent(rand io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Equal compares two group elements in constant time.
func Equal(a, b *big.Int) bool {
	return subtle.ConstantTimeCompare(Pad(a), Pad(b)) == 1
}
