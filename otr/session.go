package otr

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"
	"math/big"
	"slices"
	"time"

	"github.com/otrbridge/otrbridge/otr/internal/group"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// session is the state with one peer instance (tag 0 for a v2 peer).
type session struct {
	tag     InstanceTag
	state   MsgState
	version int
	ake     ake

	// Our two newest DH keys: [0] has id ourKeyID (nil until we first
	// need it), [1] has ourKeyID-1. Likewise their two newest public keys.
	ourKeys    [2]*dhKey
	ourKeyID   uint32
	theirDH    [2]*big.Int
	theirKeyID uint32
	// keys[i][j] caches the session keys of ourKeys[i] and theirDH[j],
	// computed on first use so a message never costs a modexp it does
	// not need.
	keys       [2][2]*sessionKeys
	oldMACKeys []byte // receiving MAC keys to reveal in the next message

	theirKey   *PublicKey
	ssid       [8]byte
	initiator  bool
	everSecure bool
	lastFP     Fingerprint

	lastSent time.Time // for the heartbeat rule
	// recvSeq orders instances by the last message received from them
	// (libotr compares lastrecv times; a counter does not tie).
	recvSeq uint64

	smp smpSession
}

// goSecure installs the result of an AKE.
func (s *session) goSecure(now time.Time, res *akeResult) (refreshed bool) {
	fp := res.theirKey.Fingerprint()
	refreshed = s.state == Encrypted && s.lastFP == fp
	s.wipeKeys()
	s.state = Encrypted
	s.version = res.version
	// Our own copy: the AKE's key may also sit in the commit we sent to
	// any instance, and ours gets wiped when it rotates out.
	s.ourKeys[1] = &dhKey{priv: bytes.Clone(res.our.priv), pub: res.our.pub, pubMPI: res.our.pubMPI}
	s.ourKeyID = akeKeyID + 1
	s.theirDH[0] = res.theirDH
	s.theirKeyID = res.theirKeyID
	s.theirKey = res.theirKey
	s.lastFP = fp
	s.ssid = res.ssid
	s.initiator = res.initiator
	s.everSecure = true
	s.lastSent = now
	s.smp.reset()
	return refreshed
}

// wipeKeys forgets all data keys.
func (s *session) wipeKeys() {
	for _, k := range s.ourKeys {
		k.wipe()
	}
	for _, row := range s.keys {
		for _, k := range row {
			k.wipe()
		}
	}
	s.ourKeys = [2]*dhKey{}
	s.theirDH = [2]*big.Int{}
	s.keys = [2][2]*sessionKeys{}
	s.oldMACKeys = nil
	s.ourKeyID, s.theirKeyID = 0, 0
}

func (s *session) sessionKeys(i, j int) *sessionKeys {
	if s.keys[i][j] == nil {
		s.keys[i][j] = newSessionKeys(s.ourKeys[i], s.theirDH[j])
	}
	return s.keys[i][j]
}

// encrypt builds a Data message carrying text, a NUL and the TLVs (libotr
// always writes the NUL, so our sizes match its sizes).
func (s *session) encrypt(buf []byte, rand io.Reader, now time.Time, ourTag InstanceTag, flags byte, text string, tlvs []tlv) ([]byte, error) {
	if s.ourKeys[0] == nil {
		k, err := newDHKey(rand)
		if err != nil {
			return nil, err
		}
		s.ourKeys[0] = k
	}
	sk := s.sessionKeys(1, 0)
	if !incCounter(&sk.sendCtr) {
		return nil, fmt.Errorf("otr: message counter exhausted")
	}
	n := len(text) + 1
	for _, t := range tlvs {
		n += 4 + len(t.value)
	}
	w := wire.NewWriter(slices.Grow(buf[:0], 11+9+len(s.ourKeys[0].pubMPI)+8+4+n+20+4+len(s.oldMACKeys)))
	header{version: s.version, typ: msgData, sender: uint32(ourTag), receiver: uint32(s.tag)}.appendTo(w)
	w.Byte(flags).Int(s.ourKeyID - 1).Int(s.theirKeyID).Raw(s.ourKeys[0].pubMPI).Raw(sk.sendCtr[:])
	w.Int(uint32(n))
	start := len(w.Bytes())
	buf = append(w.Bytes(), text...)
	buf = append(buf, 0)
	for _, t := range tlvs {
		buf = appendTLV(buf, t)
	}
	sk.seal(sk.sendCtr, buf[start:])
	buf = append(buf, sk.sendMACOf(buf)...)
	buf = wire.NewWriter(buf).Data(s.oldMACKeys).Bytes()
	s.oldMACKeys = nil
	s.lastSent = now
	return buf, nil
}

// incCounter increments a big-endian counter top half; false on wrap.
func incCounter(c *[8]byte) bool {
	for i := 7; i >= 0; i-- {
		c[i]++
		if c[i] != 0 {
			return true
		}
	}
	return false
}

// decrypt checks and opens a Data message, then rotates keys. In order:
// key ids, MAC (constant time), counter, and only then any state change.
func (s *session) decrypt(d *dataMessage) (plain []byte, extra [32]byte, err error) {
	if d.senderKeyID == 0 || d.recvKeyID == 0 {
		return nil, extra, fmt.Errorf("%w: key id 0", ErrUnreadable)
	}
	var ti, oi int
	switch {
	case d.senderKeyID == s.theirKeyID:
		ti = 0
	case d.senderKeyID == s.theirKeyID-1 && s.theirDH[1] != nil:
		ti = 1
	default:
		return nil, extra, fmt.Errorf("%w: unknown sender key id", ErrUnreadable)
	}
	switch {
	case d.recvKeyID == s.ourKeyID && s.ourKeys[0] != nil:
		oi = 0
	case d.recvKeyID == s.ourKeyID-1 && s.ourKeys[1] != nil:
		oi = 1
	default:
		return nil, extra, fmt.Errorf("%w: unknown recipient key id", ErrUnreadable)
	}
	sk := s.sessionKeys(oi, ti)
	if subtle.ConstantTimeCompare(sk.recvMACOf(d.authenticated), d.mac[:]) != 1 {
		return nil, extra, fmt.Errorf("%w: MAC mismatch", ErrUnreadable)
	}
	if string(d.ctr[:]) <= string(sk.recvCtr[:]) { // big-endian, public
		return nil, extra, fmt.Errorf("%w: counter not increasing (replay?)", ErrUnreadable)
	}
	var next *big.Int
	if ti == 0 {
		next = new(big.Int).SetBytes(d.nextDH)
		if err := group.CheckElement(next); err != nil {
			return nil, extra, fmt.Errorf("%w: next DH key: %w", ErrMalformed, err)
		}
	}
	// The ciphertext lies in our own decoded buffer and its MAC has been
	// checked: decrypt it in place.
	plain = d.encrypted
	sk.open(d.ctr, plain)
	extra = sk.extra
	sk.recvCtr = d.ctr
	sk.recvMACUsed = true
	if oi == 0 {
		s.rotateOurs()
	}
	if ti == 0 {
		s.rotateTheirs(next)
	}
	return plain, extra, nil
}

// isOwnEcho reports whether d is a data message we sent ourselves, handed
// back by an echoing server: v2 has no instance tags to tell. It only
// checks key pairs we have used, so it costs no modexp.
func (s *session) isOwnEcho(d *dataMessage) bool {
	oi, ti := -1, -1
	switch {
	case d.senderKeyID == s.ourKeyID && s.ourKeys[0] != nil:
		oi = 0
	case d.senderKeyID == s.ourKeyID-1 && s.ourKeys[1] != nil:
		oi = 1
	}
	switch {
	case d.recvKeyID == s.theirKeyID && s.theirDH[0] != nil:
		ti = 0
	case d.recvKeyID == s.theirKeyID-1 && s.theirDH[1] != nil:
		ti = 1
	}
	if oi < 0 || ti < 0 || s.keys[oi][ti] == nil {
		return false
	}
	return subtle.ConstantTimeCompare(s.keys[oi][ti].sendMACOf(d.authenticated), d.mac[:]) == 1
}

// reveal queues the receiving MAC key of k if it was used.
func (s *session) reveal(k *sessionKeys) {
	if k != nil && k.recvMACUsed {
		s.oldMACKeys = append(s.oldMACKeys, k.recvMAC[:]...)
	}
}

// rotateOurs retires our previous key after the peer used our newest one.
// The replacement newest key is generated when we next send.
func (s *session) rotateOurs() {
	s.reveal(s.keys[1][0])
	s.reveal(s.keys[1][1])
	s.keys[1][0].wipe()
	s.keys[1][1].wipe()
	s.keys[1] = s.keys[0]
	s.keys[0] = [2]*sessionKeys{}
	s.ourKeys[1].wipe()
	s.ourKeys[1] = s.ourKeys[0]
	s.ourKeys[0] = nil
	s.ourKeyID++
}

// rotateTheirs retires their previous key after they announced a new one.
func (s *session) rotateTheirs(next *big.Int) {
	s.reveal(s.keys[0][1])
	s.reveal(s.keys[1][1])
	s.keys[0][1].wipe()
	s.keys[1][1].wipe()
	s.keys[0][1], s.keys[1][1] = s.keys[0][0], s.keys[1][0]
	s.keys[0][0], s.keys[1][0] = nil, nil
	s.theirDH[1] = s.theirDH[0]
	s.theirDH[0] = next
	s.theirKeyID++
}

// extraKey returns the extra symmetric key of the keys we send with.
func (s *session) extraKey() [32]byte { return s.sessionKeys(1, 0).extra }
