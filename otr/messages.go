package otr

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/otrbridge/otrbridge/otr/internal/b64"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// Encoded message types.
const (
	msgDHCommit  = 0x02
	msgData      = 0x03
	msgDHKey     = 0x0a
	msgRevealSig = 0x11
	msgSig       = 0x12
)

// Data message flags.
const flagIgnoreUnreadable = 0x01

// maxDecodedMessage bounds the binary size of one encoded message, also
// one that arrived whole; the fragment reassembler holds at most 256 KiB
// per conversation.
const maxDecodedMessage = 1 << 20

// header is the start of every encoded message.
type header struct {
	version          int
	typ              byte
	sender, receiver uint32 // v3 only
}

func (h header) appendTo(w *wire.Writer) {
	w.Short(uint16(h.version)).Byte(h.typ)
	if h.version == 3 {
		w.Int(h.sender).Int(h.receiver)
	}
}

// encodeMessage wraps a binary message as "?OTR:<base64>.".
func encodeMessage(b []byte) string {
	buf := make([]byte, 0, 6+base64.StdEncoding.EncodedLen(len(b)))
	buf = append(buf, "?OTR:"...)
	buf = b64.AppendEncode(buf, b)
	buf = append(buf, '.')
	// buf is never touched again: share it instead of copying it.
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// appendDecoded appends the binary message of s, which starts with
// "?OTR:", to dst. Anything after the closing "." is ignored, like libotr
// does.
func appendDecoded(dst []byte, s string) ([]byte, error) {
	body := strings.TrimPrefix(s, "?OTR:")
	end := strings.IndexByte(body, '.')
	if end < 0 {
		return nil, fmt.Errorf("%w: encoded message has no final '.'", ErrMalformed)
	}
	body = body[:end]
	if base64.StdEncoding.DecodedLen(len(body)) > maxDecodedMessage {
		return nil, fmt.Errorf("%w: encoded message too long", ErrMalformed)
	}
	b, err := b64.AppendDecodeString(dst, body)
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	return b, nil
}

// Binary messages live only while one is encoded or decoded, so their
// buffers are recycled. Large ones are left to the garbage collector so
// one 100 KiB message does not pin 100 KiB.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooledBuf = 64 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(p *[]byte, b []byte) {
	if b == nil {
		b = *p
	}
	if cap(b) <= maxPooledBuf {
		*p = b[:0]
		bufPool.Put(p)
	}
}

// parseHeader reads the version, type and (v3) instance tags.
func parseHeader(r *wire.Reader) (header, error) {
	var h header
	h.version = int(r.Short())
	h.typ = r.Byte()
	if h.version == 3 {
		h.sender = r.Int()
		h.receiver = r.Int()
	}
	if err := r.Err(); err != nil {
		return h, fmt.Errorf("%w: short header", ErrMalformed)
	}
	return h, nil
}

// dataMessage is a decoded Data message.
type dataMessage struct {
	flags                  byte
	senderKeyID, recvKeyID uint32
	nextDH                 []byte // MPI magnitude
	ctr                    [8]byte
	encrypted              []byte
	mac                    [20]byte
	authenticated          []byte // header through ciphertext, covered by mac
	oldMACKeys             []byte
}

// parseData reads a Data message body; full is the whole binary message
// (the MAC covers it from the start).
func parseData(full []byte, r *wire.Reader) (dataMessage, error) {
	var d dataMessage
	d.flags = r.Byte()
	d.senderKeyID = r.Int()
	d.recvKeyID = r.Int()
	d.nextDH = r.MPIBytes()
	d.ctr = r.CTR()
	d.encrypted = r.Data()
	authLen := len(full) - r.Len()
	d.mac = r.MAC()
	d.oldMACKeys = r.Data()
	if err := r.Err(); err != nil {
		return d, fmt.Errorf("%w: data message: %w", ErrMalformed, err)
	}
	d.authenticated = full[:authLen]
	return d, nil
}

// TLV types.
const (
	tlvPadding    = 0
	tlvDisconnect = 1
	tlvSMP1       = 2
	tlvSMP2       = 3
	tlvSMP3       = 4
	tlvSMP4       = 5
	tlvSMPAbort   = 6
	tlvSMP1Q      = 7
	tlvSymKey     = 8
)

type tlv struct {
	typ   uint16
	value []byte
}

// splitPlaintext separates the human-readable part of a decrypted data
// message from its TLVs. A truncated TLV ends the list (libotr does the
// same), so a peer's garbage never hides the message.
func splitPlaintext(b []byte) (text []byte, tlvs []tlv) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return b, nil
	}
	text = b[:i]
	r := wire.NewReader(b[i+1:])
	for r.Len() >= 4 {
		t := r.Short()
		v := r.Bytes(int(r.Short()))
		if r.Err() != nil {
			break
		}
		tlvs = append(tlvs, tlv{t, v})
	}
	return text, tlvs
}

func appendTLV(b []byte, t tlv) []byte {
	w := wire.NewWriter(b).Short(t.typ).Short(uint16(len(t.value))).Raw(t.value)
	return w.Bytes()
}
