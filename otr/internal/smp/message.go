package smp

import (
	"bytes"
	"fmt"
	"math/big"

	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// TLV types carrying SMP.
const (
	TypeSMP1  uint16 = 2
	TypeSMP2  uint16 = 3
	TypeSMP3  uint16 = 4
	TypeSMP4  uint16 = 5
	TypeAbort uint16 = 6
	TypeSMP1Q uint16 = 7
)

// TLV is one type-length-value record to send inside a data message.
type TLV struct {
	Type  uint16
	Value []byte
}

// The number of MPIs in each message.
const (
	countSMP1 = 6
	countSMP2 = 11
	countSMP3 = 8
	countSMP4 = 3
)

// Size bounds for received values. Group elements and exponents are below
// p, so fit in 192 bytes; the c values are SHA-256 outputs.
const (
	maxElementLen = 192
	maxHashLen    = 32
)

// encode writes the SMP payload: INT count, then the MPIs.
func encode(vals ...*big.Int) []byte {
	w := wire.NewWriter(make([]byte, 0, 4+len(vals)*(4+192)))
	w.Int(uint32(len(vals)))
	for _, v := range vals {
		w.MPI(v)
	}
	return w.Bytes()
}

// decode reads a payload that must hold exactly want MPIs and nothing else.
// hashes lists the positions of c values, which may not exceed 32 bytes.
func decode(payload []byte, want int, hashes ...int) ([]*big.Int, error) {
	r := wire.NewReader(payload)
	n := r.Int()
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, r.Err())
	}
	if n != uint32(want) {
		return nil, fmt.Errorf("%w: %d values, want %d", ErrMalformed, n, want)
	}
	vals := make([]*big.Int, want)
	for i := range vals {
		b := r.MPIBytes()
		if r.Err() != nil {
			return nil, fmt.Errorf("%w: value %d: %v", ErrMalformed, i+1, r.Err())
		}
		limit := maxElementLen
		for _, h := range hashes {
			if h == i {
				limit = maxHashLen
			}
		}
		if len(b) > limit {
			return nil, fmt.Errorf("%w: value %d is %d bytes", ErrMalformed, i+1, len(b))
		}
		vals[i] = new(big.Int).SetBytes(b)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, r.Len())
	}
	return vals, nil
}

// JoinSMP1Q returns the value of an SMP1Q TLV: the question, a NUL, and the
// SMP1 payload.
func JoinSMP1Q(question string, smp1 []byte) []byte {
	b := make([]byte, 0, len(question)+1+len(smp1))
	b = append(b, question...)
	b = append(b, 0)
	return append(b, smp1...)
}

// SplitSMP1Q splits the value of an SMP1Q TLV into the question (UTF-8 text
// from the peer, to be shown with care) and the SMP1 payload.
func SplitSMP1Q(value []byte) (question string, smp1 []byte, err error) {
	i := bytes.IndexByte(value, 0)
	if i < 0 {
		return "", nil, fmt.Errorf("%w: SMP1Q without NUL after the question", ErrMalformed)
	}
	return string(value[:i]), value[i+1:], nil
}
