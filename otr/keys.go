package otr

import (
	//lint:ignore SA1019 OTR v2 and v3 identity keys are DSA (the protocol mandates them); crypto/dsa is deprecated, not removed, and is the standard library's DSA.
	"crypto/dsa"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"filippo.io/bigmod"

	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// PublicKey is a DSA public key as carried in OTR's PUBKEY encoding.
type PublicKey struct {
	p, q, g, y *big.Int
	encoded    []byte // PUBKEY: SHORT 0 || MPI p, q, g, y
}

// PrivateKey is a long-term DSA identity key.
type PrivateKey struct {
	pub PublicKey
	x   *big.Int

	// Constant-time moduli for signing, built once.
	modP, modQ *bigmod.Modulus
}

// Fingerprint is the SHA-1 hash of a public key, as libotr shows it.
type Fingerprint [20]byte

// ErrInvalidKey means a key failed to decode or its parameters are not a
// usable DSA key.
var ErrInvalidKey = errors.New("otr: invalid key")

// GenerateKey makes a new DSA-1024/160 key. It takes about a second; run it
// in the background. (crypto/dsa may take its randomness from the system
// generator instead of rand; keys need no determinism.)
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	var k dsa.PrivateKey
	if err := dsa.GenerateParameters(&k.Parameters, rand, dsa.L1024N160); err != nil {
		return nil, fmt.Errorf("otr: generating DSA parameters: %w", err)
	}
	if err := dsa.GenerateKey(&k, rand); err != nil {
		return nil, fmt.Errorf("otr: generating DSA key: %w", err)
	}
	return newPrivateKey(k.P, k.Q, k.G, k.Y, k.X)
}

// newPrivateKey builds a key from its DSA parameters, checking that they
// are consistent (y = g^x mod p, q divides p-1, sizes).
func newPrivateKey(p, q, g, y, x *big.Int) (*PrivateKey, error) {
	pub, err := newPublicKey(p, q, g, y)
	if err != nil {
		return nil, err
	}
	if x == nil || x.Sign() <= 0 || x.Cmp(q) >= 0 {
		return nil, fmt.Errorf("%w: private exponent out of range", ErrInvalidKey)
	}
	if new(big.Int).Exp(g, x, p).Cmp(y) != 0 {
		return nil, fmt.Errorf("%w: public value does not match private exponent", ErrInvalidKey)
	}
	k := &PrivateKey{pub: *pub, x: new(big.Int).Set(x)}
	if k.modP, err = bigmod.NewModulus(p.Bytes()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if k.modQ, err = bigmod.NewModulus(q.Bytes()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return k, nil
}

func newPublicKey(p, q, g, y *big.Int) (*PublicKey, error) {
	for _, v := range []*big.Int{p, q, g, y} {
		if v == nil || v.Sign() <= 0 {
			return nil, fmt.Errorf("%w: missing parameter", ErrInvalidKey)
		}
	}
	// libotr keys are 1024/160; accept larger p (up to 3072 bits) but keep
	// q at 160..256 bits so signatures fit the 2x20-byte SIG of OTR.
	if p.BitLen() < 1024 || p.BitLen() > 3072 || q.BitLen() != 160 || p.Bit(0) == 0 || q.Bit(0) == 0 {
		return nil, fmt.Errorf("%w: unsupported DSA sizes %d/%d", ErrInvalidKey, p.BitLen(), q.BitLen())
	}
	if g.Cmp(p) >= 0 || y.Cmp(p) >= 0 || g.Cmp(big.NewInt(1)) <= 0 || y.Cmp(big.NewInt(1)) <= 0 {
		return nil, fmt.Errorf("%w: DSA value out of range", ErrInvalidKey)
	}
	if new(big.Int).Mod(new(big.Int).Sub(p, big.NewInt(1)), q).Sign() != 0 {
		return nil, fmt.Errorf("%w: q does not divide p-1", ErrInvalidKey)
	}
	w := wire.NewWriter(nil).Short(0).MPI(p).MPI(q).MPI(g).MPI(y)
	return &PublicKey{p: p, q: q, g: g, y: y, encoded: w.Bytes()}, nil
}

// Public returns the public half of k.
func (k *PrivateKey) Public() *PublicKey { return &k.pub }

// Fingerprint returns the SHA-1 hash of the key's PUBKEY encoding without
// its two type bytes, as libotr computes it.
func (k *PublicKey) Fingerprint() Fingerprint { return sha1.Sum(k.encoded[2:]) }

// Equal reports whether k and o are the same key.
func (k *PublicKey) Equal(o *PublicKey) bool {
	return o != nil && string(k.encoded) == string(o.encoded)
}

// parsePublicKey reads a PUBKEY from r.
func parsePublicKey(r *wire.Reader) (*PublicKey, error) {
	if t := r.Short(); r.Err() == nil && t != 0 {
		return nil, fmt.Errorf("%w: public key type %d is not DSA", ErrInvalidKey, t)
	}
	p, q, g, y := r.MPI(), r.MPI(), r.MPI(), r.MPI()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return newPublicKey(p, q, g, y)
}

const keyEncodingVersion = 1

// MarshalBinary encodes the private key compactly (a version byte and the
// MPIs p, q, g, y, x) for storage. The result is secret.
func (k *PrivateKey) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(nil).Byte(keyEncodingVersion)
	w.MPI(k.pub.p).MPI(k.pub.q).MPI(k.pub.g).MPI(k.pub.y).MPI(k.x)
	return w.Bytes(), nil
}

// UnmarshalBinary decodes a key written by MarshalBinary.
func (k *PrivateKey) UnmarshalBinary(b []byte) error {
	r := wire.NewReader(b)
	if v := r.Byte(); r.Err() == nil && v != keyEncodingVersion {
		return fmt.Errorf("%w: unknown encoding version %d", ErrInvalidKey, v)
	}
	p, q, g, y, x := r.MPI(), r.MPI(), r.MPI(), r.MPI(), r.MPI()
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: trailing bytes", ErrInvalidKey)
	}
	nk, err := newPrivateKey(p, q, g, y, x)
	if err != nil {
		return err
	}
	*k = *nk
	return nil
}

// sign returns the OTR SIG (r || s, each 20 bytes) over hash, which is
// taken as a number mod q like libgcrypt does (not truncated). The nonce k
// comes from rand and the secret arithmetic runs in constant time.
func (k *PrivateKey) sign(rand io.Reader, hash []byte) ([]byte, error) {
	q := k.pub.q
	qLen := (q.BitLen() + 7) / 8
	z := new(big.Int).Mod(new(big.Int).SetBytes(hash), q)
	zNat, _ := bigmod.NewNat().SetBytes(z.FillBytes(make([]byte, qLen)), k.modQ)
	gNat, _ := bigmod.NewNat().SetBytes(k.pub.g.Bytes(), k.modP)
	qMinus2 := new(big.Int).Sub(q, big.NewInt(2)).Bytes()
	kb := make([]byte, qLen)
	for attempt := 0; attempt < 64; attempt++ {
		if _, err := io.ReadFull(rand, kb); err != nil {
			return nil, fmt.Errorf("otr: reading DSA nonce: %w", err)
		}
		kNat, err := bigmod.NewNat().SetBytes(kb, k.modQ)
		if err != nil || kNat.IsZero() == 1 {
			continue
		}
		rBig := new(big.Int).SetBytes(bigmod.NewNat().Exp(gNat, kb, k.modP).Bytes(k.modP))
		rBig.Mod(rBig, q)
		if rBig.Sign() == 0 {
			continue
		}
		rNat, _ := bigmod.NewNat().SetBytes(rBig.FillBytes(make([]byte, qLen)), k.modQ)
		kInv := bigmod.NewNat().Exp(kNat, qMinus2, k.modQ)
		s, _ := bigmod.NewNat().SetBytes(k.x.FillBytes(make([]byte, qLen)), k.modQ)
		s.Mul(rNat, k.modQ).Add(zNat, k.modQ).Mul(kInv, k.modQ)
		if s.IsZero() == 1 {
			continue
		}
		sig := make([]byte, 40)
		rBig.FillBytes(sig[:20])
		copy(sig[20:], s.Bytes(k.modQ)[qLen-20:])
		return sig, nil
	}
	return nil, errors.New("otr: could not produce a DSA signature")
}

// verify checks an OTR SIG over hash (mod q, as in sign).
func (k *PublicKey) verify(hash, sig []byte) bool {
	if len(sig) != 40 {
		return false
	}
	r := new(big.Int).SetBytes(sig[:20])
	s := new(big.Int).SetBytes(sig[20:])
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(k.q) >= 0 || s.Cmp(k.q) >= 0 {
		return false
	}
	pk := dsa.PublicKey{Parameters: dsa.Parameters{P: k.p, Q: k.q, G: k.g}, Y: k.y}
	return dsa.Verify(&pk, hash, r, s)
}

// String returns the fingerprint in libotr's human form: five groups of
// eight uppercase hex digits separated by spaces.
func (f Fingerprint) String() string {
	h := strings.ToUpper(hex.EncodeToString(f[:]))
	var b strings.Builder
	for i := 0; i < 40; i += 8 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+8])
	}
	return b.String()
}

// ParseFingerprint parses 40 hex digits in any case; spaces are ignored.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	h := strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if len(h) != 40 {
		return f, fmt.Errorf("otr: fingerprint must have 40 hex digits, got %d", len(h))
	}
	if _, err := hex.Decode(f[:], []byte(h)); err != nil {
		return f, fmt.Errorf("otr: fingerprint is not hex: %w", err)
	}
	return f, nil
}

// InstanceTag identifies one client of an account (OTR v3). Valid tags are
// at least 0x100; 0 means unknown.
type InstanceTag uint32

const minInstanceTag = 0x100

// NewInstanceTag draws a random valid instance tag from rand.
func NewInstanceTag(rand io.Reader) (InstanceTag, error) {
	var b [4]byte
	for {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return 0, fmt.Errorf("otr: reading instance tag: %w", err)
		}
		t := InstanceTag(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		if t >= minInstanceTag {
			return t, nil
		}
	}
}

// String formats the tag as libotr does, in lowercase hex.
func (t InstanceTag) String() string { return fmt.Sprintf("%08x", uint32(t)) }
