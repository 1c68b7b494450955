// Package wire reads and writes the OTR binary encodings (BYTE, SHORT, INT,
// MPI, DATA, CTR, MAC) used inside encoded messages, TLVs and SMP payloads.
//
// Every read checks the remaining length before it slices, so a length
// field taken from the wire can never make the reader allocate or index
// past the input.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// ErrShort means the input ended before the field being read.
var ErrShort = errors.New("otr wire: input too short")

// ErrNonMinimalMPI means an MPI carried leading zero bytes. libotr never
// writes one, and fingerprints and key derivation depend on minimal form.
var ErrNonMinimalMPI = errors.New("otr wire: MPI has leading zero bytes")

// Reader consumes fields from a byte slice. The first error sticks: later
// reads return zero values, and Err reports the first failure.
type Reader struct {
	buf []byte
	err error
}

// NewReader returns a Reader over b. It does not copy b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Err returns the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.buf) }

// Rest returns the unread bytes and consumes them.
func (r *Reader) Rest() []byte {
	b := r.buf
	r.buf = nil
	return b
}

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Bytes reads n raw bytes.
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf) {
		r.fail(ErrShort)
		return nil
	}
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b
}

// Byte reads a BYTE.
func (r *Reader) Byte() byte {
	b := r.Bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// Short reads a SHORT (16-bit big-endian).
func (r *Reader) Short() uint16 {
	b := r.Bytes(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// Int reads an INT (32-bit big-endian).
func (r *Reader) Int() uint32 {
	b := r.Bytes(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Data reads a DATA: a 4-byte length and that many bytes.
func (r *Reader) Data() []byte {
	n := r.Int()
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.buf)) {
		r.fail(fmt.Errorf("%w: DATA length %d, %d bytes left", ErrShort, n, len(r.buf)))
		return nil
	}
	return r.Bytes(int(n))
}

// MPIBytes reads an MPI and returns its minimal big-endian magnitude.
func (r *Reader) MPIBytes() []byte {
	b := r.Data()
	if r.err != nil {
		return nil
	}
	if len(b) > 0 && b[0] == 0 {
		r.fail(ErrNonMinimalMPI)
		return nil
	}
	return b
}

// MPI reads an MPI as a big.Int.
func (r *Reader) MPI() *big.Int {
	b := r.MPIBytes()
	if r.err != nil {
		return nil
	}
	return new(big.Int).SetBytes(b)
}

// CTR reads the 8-byte top half of a counter.
func (r *Reader) CTR() [8]byte {
	var c [8]byte
	copy(c[:], r.Bytes(8))
	return c
}

// MAC reads a 20-byte MAC.
func (r *Reader) MAC() [20]byte {
	var m [20]byte
	copy(m[:], r.Bytes(20))
	return m
}

// Writer appends fields to a byte slice.
type Writer struct {
	buf []byte
}

// NewWriter returns a Writer that appends to buf (which may be nil).
func NewWriter(buf []byte) *Writer { return &Writer{buf: buf} }

// Bytes returns everything written so far.
func (w *Writer) Bytes() []byte { return w.buf }

// Raw appends b unchanged.
func (w *Writer) Raw(b []byte) *Writer { w.buf = append(w.buf, b...); return w }

// Byte appends a BYTE.
func (w *Writer) Byte(b byte) *Writer { w.buf = append(w.buf, b); return w }

// Short appends a SHORT.
func (w *Writer) Short(v uint16) *Writer { w.buf = binary.BigEndian.AppendUint16(w.buf, v); return w }

// Int appends an INT.
func (w *Writer) Int(v uint32) *Writer { w.buf = binary.BigEndian.AppendUint32(w.buf, v); return w }

// Data appends a DATA.
func (w *Writer) Data(b []byte) *Writer {
	w.Int(uint32(len(b)))
	return w.Raw(b)
}

// MPIBytes appends an MPI from a big-endian magnitude, dropping leading
// zero bytes so the encoding is minimal.
func (w *Writer) MPIBytes(b []byte) *Writer {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return w.Data(b)
}

// MPI appends x (which must be non-negative) as an MPI.
func (w *Writer) MPI(x *big.Int) *Writer { return w.MPIBytes(x.Bytes()) }

// AppendMPI appends the MPI encoding of x to buf.
func AppendMPI(buf []byte, x *big.Int) []byte { return NewWriter(buf).MPI(x).Bytes() }
