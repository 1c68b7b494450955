package otr

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
	"math/big"

	"github.com/otrbridge/otrbridge/otr/internal/group"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// dhPrivateBytes is the DH private key size libotr uses (320 bits).
const dhPrivateBytes = 40

// dhKey is one of our Diffie-Hellman key pairs.
type dhKey struct {
	priv   []byte // secret exponent, big-endian
	pub    *big.Int
	pubMPI []byte // pub encoded as an MPI, sent in every data message
}

func newDHKey(rand io.Reader) (*dhKey, error) {
	x, err := group.RandomExponent(rand, dhPrivateBytes)
	if err != nil {
		return nil, fmt.Errorf("otr: reading DH key: %w", err)
	}
	pub := group.ExpG(x)
	return &dhKey{priv: x, pub: pub, pubMPI: wire.AppendMPI(nil, pub)}, nil
}

// wipe clears the secret exponent of a key that is no longer used. (The
// Go runtime may have copies; this narrows the window.)
func (k *dhKey) wipe() {
	if k != nil {
		clear(k.priv)
	}
}

// sharedSecret returns MPI(their^priv mod p), the "secbytes" both key
// derivations hash.
func (k *dhKey) sharedSecret(their *big.Int) []byte {
	s := group.Exp(their, k.priv)
	return wire.AppendMPI(nil, s)
}

// sessionKeys are the symmetric keys of one (our key, their key) pair.
type sessionKeys struct {
	sendAES, recvAES [16]byte
	sendMAC, recvMAC [20]byte
	extra            [32]byte
	sendCtr, recvCtr [8]byte // top halves; sendCtr is the last one used
	recvMACUsed      bool    // recvMAC verified a message: reveal it later

	// Key schedules and keyed hashes, made on first use: most key pairs
	// only ever send or only ever receive, and each costs heap.
	sendBlock, recvBlock cipher.Block
	sendHMAC, recvHMAC   hash.Hash // HMAC-SHA1 keyed with sendMAC/recvMAC

	// Scratch space, so a message allocates nothing for its crypto.
	macBuf     [sha1.Size]byte
	ctrBuf, ks [aes.BlockSize]byte
}

func (k *sessionKeys) sendMACOf(b []byte) []byte {
	if k.sendHMAC == nil {
		k.sendHMAC = hmac.New(sha1.New, k.sendMAC[:])
	}
	return k.macOf(k.sendHMAC, b)
}

func (k *sessionKeys) recvMACOf(b []byte) []byte {
	if k.recvHMAC == nil {
		k.recvHMAC = hmac.New(sha1.New, k.recvMAC[:])
	}
	return k.macOf(k.recvHMAC, b)
}

func (k *sessionKeys) macOf(h hash.Hash, b []byte) []byte {
	h.Reset()
	h.Write(b)
	return h.Sum(k.macBuf[:0])
}

// seal and open run AES-128-CTR in place with the cached key schedules.
func (k *sessionKeys) seal(ctr [8]byte, b []byte) {
	if k.sendBlock == nil {
		k.sendBlock = newAES(k.sendAES[:])
	}
	k.ctr(k.sendBlock, ctr, b)
}

func (k *sessionKeys) open(ctr [8]byte, b []byte) {
	if k.recvBlock == nil {
		k.recvBlock = newAES(k.recvAES[:])
	}
	k.ctr(k.recvBlock, ctr, b)
}

func newAES(key []byte) cipher.Block {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("otr: AES key size") // keys are fixed 16-byte arrays
	}
	return b
}

// smallCTR is the size up to which ctr runs block by block in scratch
// space: cheaper than setting up (and allocating) a cipher.Stream.
const smallCTR = 256

func (k *sessionKeys) ctr(block cipher.Block, ctrTop [8]byte, b []byte) {
	if len(b) > smallCTR {
		ctrXORInPlace(block, ctrTop, b)
		return
	}
	copy(k.ctrBuf[:8], ctrTop[:])
	clear(k.ctrBuf[8:])
	for i := 0; i < len(b); i += aes.BlockSize {
		block.Encrypt(k.ks[:], k.ctrBuf[:])
		subtle.XORBytes(b[i:], b[i:], k.ks[:])
		incCounter16(&k.ctrBuf)
	}
}

// incCounter16 increments the low 8 bytes of a CTR block big-endian.
func incCounter16(c *[16]byte) {
	for i := 15; i >= 8; i-- {
		c[i]++
		if c[i] != 0 {
			return
		}
	}
}

func ctrXORInPlace(block cipher.Block, ctrTop [8]byte, b []byte) {
	var iv [16]byte
	copy(iv[:], ctrTop[:])
	cipher.NewCTR(block, iv[:]).XORKeyStream(b, b)
}

// wipe clears the encryption keys once the pair is retired. The MAC keys
// stay: they are revealed on purpose.
func (k *sessionKeys) wipe() {
	if k != nil {
		clear(k.sendAES[:])
		clear(k.recvAES[:])
		clear(k.extra[:])
		k.sendBlock, k.recvBlock = nil, nil
		k.sendHMAC, k.recvHMAC = nil, nil
	}
}

// newSessionKeys derives the data keys from our key and their public key.
// The side with the numerically larger public key uses byte 0x01 to send.
func newSessionKeys(ours *dhKey, their *big.Int) *sessionKeys {
	secbytes := ours.sharedSecret(their)
	sendByte, recvByte := byte(0x02), byte(0x01)
	if ours.pub.Cmp(their) > 0 {
		sendByte, recvByte = 0x01, 0x02
	}
	h1 := func(b byte) [20]byte {
		h := sha1.New()
		h.Write([]byte{b})
		h.Write(secbytes)
		var out [20]byte
		h.Sum(out[:0])
		return out
	}
	var sk sessionKeys
	s, r := h1(sendByte), h1(recvByte)
	copy(sk.sendAES[:], s[:16])
	copy(sk.recvAES[:], r[:16])
	sk.sendMAC = sha1.Sum(sk.sendAES[:])
	sk.recvMAC = sha1.Sum(sk.recvAES[:])
	h := sha256.New()
	h.Write([]byte{0xff})
	h.Write(secbytes)
	h.Sum(sk.extra[:0])
	return &sk
}

// akeKeys are derived from the AKE's shared secret.
type akeKeys struct {
	ssid             [8]byte
	c, c2            [16]byte
	m1, m2, m1b, m2b [32]byte
}

func deriveAKEKeys(secbytes []byte) *akeKeys {
	h2 := func(b byte) [32]byte {
		h := sha256.New()
		h.Write([]byte{b})
		h.Write(secbytes)
		var out [32]byte
		h.Sum(out[:0])
		return out
	}
	var k akeKeys
	s := h2(0x00)
	copy(k.ssid[:], s[:8])
	c := h2(0x01)
	copy(k.c[:], c[:16])
	copy(k.c2[:], c[16:])
	k.m1, k.m2, k.m1b, k.m2b = h2(0x02), h2(0x03), h2(0x04), h2(0x05)
	return &k
}

// aesCTR returns b encrypted or decrypted with AES-128 in counter mode
// with an all-zero IV, as the AKE uses it.
func aesCTR(key []byte, b []byte) []byte {
	out := append([]byte(nil), b...)
	ctrXORInPlace(newAES(key), [8]byte{}, out)
	return out
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}
