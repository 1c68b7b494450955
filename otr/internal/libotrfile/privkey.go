package libotrfile

import (
	"fmt"
	"math/big"

	"filippo.io/bigmod"
)

// PrivateKey is one account's DSA key from libotr's private key file.
type PrivateKey struct {
	Account  string // libotr's "name": the local account
	Protocol string
	// The DSA domain parameters, public key y = g^x mod p, and private key x.
	P, Q, G, Y, X *big.Int
}

// ParsePrivateKeys reads a libotr private key file. It checks that every
// key is consistent (1 < g < p, 0 < x < q, y = g^x mod p) so that a
// damaged file is caught on import rather than by a failed signature.
func ParsePrivateKeys(data []byte) ([]PrivateKey, error) {
	root, err := parseSexp(data)
	if err != nil {
		return nil, err
	}
	if root.head() != "privkeys" {
		return nil, fmt.Errorf("%w: not a privkeys list", ErrMalformed)
	}
	var keys []PrivateKey
	for i, acct := range root.list[1:] {
		k, err := parseAccount(acct)
		if err != nil {
			return nil, fmt.Errorf("account %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func parseAccount(acct *node) (PrivateKey, error) {
	var k PrivateKey
	if acct.head() != "account" {
		return k, fmt.Errorf("%w: expected an account list", ErrMalformed)
	}
	name, ok := acct.find("name").value()
	if !ok {
		return k, fmt.Errorf("%w: missing name", ErrMalformed)
	}
	proto, ok := acct.find("protocol").value()
	if !ok {
		return k, fmt.Errorf("%w: missing protocol", ErrMalformed)
	}
	k.Account, k.Protocol = string(name), string(proto)
	pk := acct.find("private-key")
	if pk == nil {
		return k, fmt.Errorf("%w: missing private-key", ErrMalformed)
	}
	dsa := pk.find("dsa")
	if dsa == nil {
		return k, fmt.Errorf("%w: private key is not DSA", ErrMalformed)
	}
	for _, f := range []struct {
		name string
		dst  **big.Int
	}{{"p", &k.P}, {"q", &k.Q}, {"g", &k.G}, {"y", &k.Y}, {"x", &k.X}} {
		b, ok := dsa.find(f.name).value()
		if !ok {
			return k, fmt.Errorf("%w: missing DSA %s", ErrMalformed, f.name)
		}
		if len(b) > maxNumber {
			return k, fmt.Errorf("%w: DSA %s of %d bytes", ErrTooLarge, f.name, len(b))
		}
		// libgcrypt writes numbers signed, with a 00 byte before a set top bit.
		*f.dst = new(big.Int).SetBytes(b)
	}
	if err := k.check(); err != nil {
		return PrivateKey{}, err
	}
	return k, nil
}

// check validates the key's numbers. y is recomputed in constant time
// since x is secret.
func (k *PrivateKey) check() error {
	one := big.NewInt(1)
	if k.P == nil || k.Q == nil || k.G == nil || k.Y == nil || k.X == nil {
		return fmt.Errorf("%w: missing number", ErrInvalidKey)
	}
	// FIPS 186 DSA sizes go up to 3072/256 bits; libotr uses 1024/160.
	// The bound also keeps the check below cheap on hostile input.
	if k.P.BitLen() > 3072 || k.Q.BitLen() > 256 {
		return fmt.Errorf("%w: DSA key larger than 3072/256 bits", ErrInvalidKey)
	}
	if k.P.Bit(0) == 0 || k.P.Cmp(one) <= 0 || k.Q.Sign() <= 0 || k.Q.Cmp(k.P) >= 0 ||
		k.G.Cmp(one) <= 0 || k.G.Cmp(k.P) >= 0 || k.Y.Cmp(one) <= 0 || k.Y.Cmp(k.P) >= 0 ||
		k.X.Sign() <= 0 || k.X.Cmp(k.Q) >= 0 {
		return fmt.Errorf("%w: number out of range", ErrInvalidKey)
	}
	m, err := bigmod.NewModulus(k.P.Bytes())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	g, err := bigmod.NewNat().SetBytes(k.G.Bytes(), m)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	y := new(big.Int).SetBytes(bigmod.NewNat().Exp(g, k.X.Bytes(), m).Bytes(m))
	if y.Cmp(k.Y) != 0 {
		return fmt.Errorf("%w: y is not g^x mod p", ErrInvalidKey)
	}
	return nil
}
