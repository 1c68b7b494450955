package wire

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	x := new(big.Int).SetBytes([]byte{0x01, 0x02, 0x03})
	b := NewWriter(nil).Byte(7).Short(0x0102).Int(0xdeadbeef).Data([]byte("hi")).MPI(x).MPIBytes([]byte{0, 0, 5}).Bytes()
	r := NewReader(b)
	if r.Byte() != 7 || r.Short() != 0x0102 || r.Int() != 0xdeadbeef || string(r.Data()) != "hi" ||
		r.MPI().Cmp(x) != 0 || !bytes.Equal(r.MPIBytes(), []byte{5}) || r.Err() != nil || r.Len() != 0 {
		t.Fatalf("round trip mismatch, err %v", r.Err())
	}
}

func TestRejects(t *testing.T) {
	cases := map[string][]byte{
		"short int":        {0, 0, 1},
		"data too long":    {0xff, 0xff, 0xff, 0xff, 1, 2},
		"data past end":    {0, 0, 0, 3, 1, 2},
		"mpi leading zero": {0, 0, 0, 2, 0, 1},
	}
	for name, in := range cases {
		r := NewReader(in)
		if name == "short int" {
			r.Int()
		} else {
			r.MPI()
		}
		if r.Err() == nil {
			t.Errorf("%s: no error", name)
		}
		if name == "mpi leading zero" && !errors.Is(r.Err(), ErrNonMinimalMPI) {
			t.Errorf("%s: got %v", name, r.Err())
		}
	}
}

func TestStickyError(t *testing.T) {
	r := NewReader([]byte{1})
	r.Int()
	if r.Byte() != 0 || !errors.Is(r.Err(), ErrShort) {
		t.Fatal("error did not stick")
	}
}
