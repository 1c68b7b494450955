package otr

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"math/big"

	"github.com/otrbridge/otrbridge/otr/internal/group"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// akeState is the authentication state of the spec.
type akeState int

const (
	akeNone akeState = iota
	akeAwaitingDHKey
	akeAwaitingRevealSig
	akeAwaitingSig
)

// akeKeyID is the key id both sides give their AKE DH keys, as libotr does.
const akeKeyID = 1

// ake runs one authenticated key exchange. It is copied by value when a
// commit sent without a receiver instance is answered by one instance.
type ake struct {
	state   akeState
	version int

	our      *dhKey
	r        [16]byte // initiator: key that hides g^x in the commit
	encGx    []byte   // initiator: ours; responder: theirs
	hashGx   []byte   // initiator: ours; responder: theirs
	theirDH  *big.Int // g^y seen by the initiator
	keys     *akeKeys
	lastType byte   // type of the last message we sent, for resending
	lastBody []byte // its body after the header
}

// akeResult is what a finished AKE hands to the data session.
type akeResult struct {
	version    int
	our        *dhKey
	theirDH    *big.Int
	theirKeyID uint32
	theirKey   *PublicKey
	ssid       [8]byte
	initiator  bool
}

// reply is one message for the caller to wrap in a header and send.
type reply struct {
	typ  byte
	body []byte
}

func (a *ake) resend() *reply { return &reply{a.lastType, a.lastBody} }

func (a *ake) sent(typ byte, body []byte) *reply {
	a.lastType, a.lastBody = typ, body
	return a.resend()
}

// start begins an AKE as initiator: a D-H Commit.
func (a *ake) start(rand io.Reader, version int) (*reply, error) {
	*a = ake{version: version}
	var err error
	if a.our, err = newDHKey(rand); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rand, a.r[:]); err != nil {
		return nil, fmt.Errorf("otr: reading AKE key: %w", err)
	}
	gx := wire.AppendMPI(nil, a.our.pub)
	a.encGx = aesCTR(a.r[:], gx)
	h := sha256.Sum256(gx)
	a.hashGx = h[:]
	a.state = akeAwaitingDHKey
	body := wire.NewWriter(nil).Data(a.encGx).Data(a.hashGx).Bytes()
	return a.sent(msgDHCommit, body), nil
}

// handleCommit processes a D-H Commit.
func (a *ake) handleCommit(rand io.Reader, version int, r *wire.Reader) (*reply, error) {
	encGx := r.Data()
	hashGx := r.Data()
	if r.Err() != nil || len(hashGx) != sha256.Size {
		return nil, fmt.Errorf("%w: D-H Commit", ErrMalformed)
	}
	switch a.state {
	case akeAwaitingDHKey:
		// Both sides sent a commit: the larger hash (as a big-endian
		// number) keeps its own; the other answers. An equal hash is our
		// own commit echoed back (v2 has no instance tags to show it).
		if a.version == version {
			switch bytes.Compare(a.hashGx, hashGx) {
			case 0:
				return nil, nil
			case 1:
				return a.resend(), nil
			}
		}
	case akeAwaitingRevealSig:
		// Take the new commit but repeat the same D-H Key.
		if a.version == version {
			a.encGx = bytes.Clone(encGx)
			a.hashGx = bytes.Clone(hashGx)
			return a.resend(), nil
		}
	}
	*a = ake{version: version}
	var err error
	if a.our, err = newDHKey(rand); err != nil {
		return nil, err
	}
	a.encGx = bytes.Clone(encGx)
	a.hashGx = bytes.Clone(hashGx)
	a.state = akeAwaitingRevealSig
	return a.sent(msgDHKey, wire.AppendMPI(nil, a.our.pub)), nil
}

// handleDHKey processes a D-H Key: the initiator reveals its key and signs.
func (a *ake) handleDHKey(rand io.Reader, version int, r *wire.Reader, priv *PrivateKey) (*reply, error) {
	gy := r.MPI()
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: D-H Key", ErrMalformed)
	}
	if a.version != version || a.our != nil && a.our.pub.Cmp(gy) == 0 {
		return nil, nil // another version, or our own D-H Key echoed back
	}
	switch a.state {
	case akeAwaitingSig:
		// A retransmitted D-H Key: resend our Reveal Signature only if
		// it is the same key.
		if a.theirDH.Cmp(gy) == 0 {
			return a.resend(), nil
		}
		return nil, nil
	case akeAwaitingDHKey:
	default:
		return nil, nil
	}
	if err := group.CheckElement(gy); err != nil {
		return nil, fmt.Errorf("%w: D-H Key: %w", ErrMalformed, err)
	}
	a.theirDH = gy
	a.keys = deriveAKEKeys(a.our.sharedSecret(gy))
	enc, mac, err := a.signature(rand, priv, a.keys.m1[:], a.keys.m2[:], a.keys.c[:], a.our.pub, gy)
	if err != nil {
		return nil, err
	}
	a.state = akeAwaitingSig
	body := wire.NewWriter(nil).Data(a.r[:]).Data(enc).Raw(mac).Bytes()
	return a.sent(msgRevealSig, body), nil
}

// signature builds the encrypted, MACed signature block X of the spec:
// M = HMAC-SHA256_m(our g, their g, PUBKEY, keyid), X = PUBKEY, keyid,
// SIG(M), encrypted with c and MACed with m'.
func (a *ake) signature(rand io.Reader, priv *PrivateKey, m, mPrime, c []byte, ours, theirs *big.Int) (enc, mac []byte, err error) {
	pub := priv.Public().encoded
	var keyid [4]byte
	keyid[3] = akeKeyID
	M := hmacSHA256(m, wire.AppendMPI(nil, ours), wire.AppendMPI(nil, theirs), pub, keyid[:])
	sig, err := priv.sign(rand, M)
	if err != nil {
		return nil, nil, err
	}
	x := append(append(append([]byte(nil), pub...), keyid[:]...), sig...)
	enc = aesCTR(c, x)
	mac = hmacSHA256(mPrime, wire.NewWriter(nil).Data(enc).Bytes())[:20]
	return enc, mac, nil
}

// verifySignature checks and opens an encrypted signature block.
func verifySignature(enc, mac []byte, m, mPrime, c []byte, theirs, ours *big.Int) (*PublicKey, uint32, error) {
	want := hmacSHA256(mPrime, wire.NewWriter(nil).Data(enc).Bytes())[:20]
	if subtle.ConstantTimeCompare(want, mac) != 1 {
		return nil, 0, fmt.Errorf("%w: AKE MAC mismatch", ErrMalformed)
	}
	x := aesCTR(c, enc)
	r := wire.NewReader(x)
	start := r.Len()
	pub, err := parsePublicKey(r)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: AKE public key: %w", ErrMalformed, err)
	}
	pubEnc := x[:start-r.Len()]
	keyidBytes := r.Bytes(4)
	sig := r.Rest()
	if keyidBytes == nil || len(sig) != 40 {
		return nil, 0, fmt.Errorf("%w: AKE signature block", ErrMalformed)
	}
	keyid := uint32(keyidBytes[0])<<24 | uint32(keyidBytes[1])<<16 | uint32(keyidBytes[2])<<8 | uint32(keyidBytes[3])
	if keyid == 0 {
		return nil, 0, fmt.Errorf("%w: AKE key id 0", ErrMalformed)
	}
	M := hmacSHA256(m, wire.AppendMPI(nil, theirs), wire.AppendMPI(nil, ours), pubEnc, keyidBytes)
	if !pub.verify(M, sig) {
		return nil, 0, fmt.Errorf("%w: AKE signature does not verify", ErrMalformed)
	}
	return pub, keyid, nil
}

// handleRevealSig processes a Reveal Signature: the responder learns g^x,
// checks the initiator's signature and answers with its own.
func (a *ake) handleRevealSig(rand io.Reader, version int, r *wire.Reader, priv *PrivateKey) (*reply, *akeResult, error) {
	key := r.Data()
	enc := r.Data()
	mac := r.Bytes(20)
	if r.Err() != nil {
		return nil, nil, fmt.Errorf("%w: Reveal Signature", ErrMalformed)
	}
	if a.state != akeAwaitingRevealSig || a.version != version {
		return nil, nil, nil
	}
	// r must be a 16-byte AES key; a short one once crashed a library.
	if len(key) != 16 {
		return nil, nil, fmt.Errorf("%w: Reveal Signature key is %d bytes", ErrMalformed, len(key))
	}
	gxMPI := aesCTR(key, a.encGx)
	h := sha256.Sum256(gxMPI)
	if subtle.ConstantTimeCompare(h[:], a.hashGx) != 1 {
		return nil, nil, fmt.Errorf("%w: revealed g^x does not match its commitment", ErrMalformed)
	}
	gr := wire.NewReader(gxMPI)
	gx := gr.MPI()
	if gr.Err() != nil || gr.Len() != 0 {
		return nil, nil, fmt.Errorf("%w: revealed g^x", ErrMalformed)
	}
	if err := group.CheckElement(gx); err != nil {
		return nil, nil, fmt.Errorf("%w: revealed g^x: %w", ErrMalformed, err)
	}
	keys := deriveAKEKeys(a.our.sharedSecret(gx))
	theirKey, theirKeyID, err := verifySignature(enc, mac, keys.m1[:], keys.m2[:], keys.c[:], gx, a.our.pub)
	if err != nil {
		return nil, nil, err
	}
	encA, macA, err := a.signature(rand, priv, keys.m1b[:], keys.m2b[:], keys.c2[:], a.our.pub, gx)
	if err != nil {
		return nil, nil, err
	}
	res := &akeResult{version: version, our: a.our, theirDH: gx, theirKeyID: theirKeyID, theirKey: theirKey, ssid: keys.ssid}
	body := wire.NewWriter(nil).Data(encA).Raw(macA).Bytes()
	*a = ake{}
	return &reply{msgSig, body}, res, nil
}

// handleSig processes the responder's Signature, completing the AKE for
// the initiator.
func (a *ake) handleSig(version int, r *wire.Reader) (*akeResult, error) {
	enc := r.Data()
	mac := r.Bytes(20)
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: Signature", ErrMalformed)
	}
	if a.state != akeAwaitingSig || a.version != version {
		return nil, nil
	}
	k := a.keys
	theirKey, theirKeyID, err := verifySignature(enc, mac, k.m1b[:], k.m2b[:], k.c2[:], a.theirDH, a.our.pub)
	if err != nil {
		return nil, err
	}
	res := &akeResult{version: version, our: a.our, theirDH: a.theirDH, theirKeyID: theirKeyID, theirKey: theirKey, ssid: k.ssid, initiator: true}
	*a = ake{}
	return res, nil
}
