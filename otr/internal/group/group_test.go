package group

import (
	"crypto/rand"
	"math/big"
	"testing"
)

func TestExpMatchesMathBig(t *testing.T) {
	e, _ := RandomExponent(rand.Reader, 40)
	want := new(big.Int).Exp(G, new(big.Int).SetBytes(e), P)
	if got := ExpG(e); got.Cmp(want) != 0 {
		t.Fatal("ExpG mismatch")
	}
	base := big.NewInt(12345)
	want = new(big.Int).Exp(base, new(big.Int).SetBytes(e), P)
	if got := Exp(base, e); got.Cmp(want) != 0 {
		t.Fatal("Exp mismatch")
	}
}

func TestSubMulQ(t *testing.T) {
	r, _ := rand.Int(rand.Reader, Q)
	a, _ := rand.Int(rand.Reader, Q)
	x, _ := rand.Int(rand.Reader, P)
	want := new(big.Int).Sub(r, new(big.Int).Mul(a, x))
	want.Mod(want, Q)
	if got := SubMulQ(r, a, x); got.Cmp(want) != 0 {
		t.Fatal("SubMulQ mismatch")
	}
}

func TestChecks(t *testing.T) {
	for _, x := range []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(P, big.NewInt(1)), P} {
		if CheckElement(x) == nil {
			t.Errorf("element %v accepted", x)
		}
	}
	if CheckElement(big.NewInt(2)) != nil || CheckElement(PMinus2) != nil {
		t.Error("valid bounds rejected")
	}
	if CheckExponent(big.NewInt(0)) == nil || CheckExponent(Q) == nil || CheckExponent(big.NewInt(1)) != nil {
		t.Error("exponent bounds wrong")
	}
}

func BenchmarkExpG320(b *testing.B) {
	e, _ := RandomExponent(rand.Reader, 40)
	for b.Loop() {
		ExpG(e)
	}
}

// TestExpGFixedBase checks the table path of ExpG against math/big on
// edge exponents (all zero, all ones, single digits in the first and last
// windows) and random ones.
func TestExpGFixedBase(t *testing.T) {
	var exps [][]byte
	for _, fill := range []byte{0x00, 0xff, 0x01, 0x10, 0x80} {
		e := make([]byte, 40)
		for i := range e {
			e[i] = fill
		}
		exps = append(exps, e)
	}
	first, last := make([]byte, 40), make([]byte, 40)
	first[39], last[0] = 0x0f, 0xf0
	exps = append(exps, first, last)
	for range 20 {
		e, _ := RandomExponent(rand.Reader, 40)
		exps = append(exps, e)
	}
	for _, e := range exps {
		want := new(big.Int).Exp(G, new(big.Int).SetBytes(e), P)
		if got := ExpG(e); got.Cmp(want) != 0 {
			t.Fatalf("ExpG(%x) mismatch", e)
		}
	}
}

func BenchmarkExpGGeneric320(b *testing.B) {
	e, _ := RandomExponent(rand.Reader, 40)
	for b.Loop() {
		bigmodExpG(e)
	}
}
