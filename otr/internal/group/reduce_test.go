package group

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// SMP randoms are 1536 bits, one bit longer than q: the reductions mod q
// must accept them and agree with math/big.
func TestReduceModQ1536BitValues(t *testing.T) {
	max := new(big.Int).Lsh(big.NewInt(1), 1536)
	vals := []*big.Int{
		new(big.Int).Sub(max, big.NewInt(1)),
		new(big.Int).Lsh(big.NewInt(1), 1535),
		new(big.Int).Set(P),
		new(big.Int).Sub(P, big.NewInt(1)),
		new(big.Int).Set(Q),
		big.NewInt(0),
	}
	for range 20 {
		v, _ := rand.Int(rand.Reader, max)
		vals = append(vals, v)
	}
	for _, v := range vals {
		want := new(big.Int).Mod(v, Q)
		if got := new(big.Int).SetBytes(natModQ(v).Bytes(modQ)); got.Cmp(want) != 0 {
			t.Fatalf("natModQ(%x) = %x, want %x", v, got, want)
		}
		for _, w := range vals[:6] {
			exp := new(big.Int).Sub(v, new(big.Int).Mul(w, v))
			exp.Mod(exp, Q)
			if got := SubMulQ(v, w, v); got.Cmp(exp) != 0 {
				t.Fatalf("SubMulQ mismatch for 1536-bit inputs")
			}
		}
	}
}
