package otr

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
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
	priv []byte // secret exponent, big-endian
	pub  *big.Int
}

func newDHKey(rand io.Reader) (*dhKey, error) {
	x, err := group.RandomExponent(rand, dhPrivateBytes)
	if err != nil {
		return nil, fmt.Errorf("otr: reading DH key: %w", err)
	}
	return &dhKey{priv: x, pub: group.ExpG(x)}, nil
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

	sendBlock, recvBlock cipher.Block
	sendHMAC, recvHMAC   hash.Hash // HMAC-SHA1 keyed with sendMAC/recvMAC
}

// mac returns HMAC-SHA1 of b with a cached keyed hash.
func mac(h hash.Hash, b []byte) []byte {
	h.Reset()
	h.Write(b)
	return h.Sum(nil)
}

// seal and open run AES-128-CTR in place with the cached key schedules.
func (k *sessionKeys) seal(ctr [8]byte, b []byte) { ctrXORInPlace(k.sendBlock, ctr, b) }
func (k *sessionKeys) open(ctr [8]byte, b []byte) { ctrXORInPlace(k.recvBlock, ctr, b) }

func ctrXORInPlace(block cipher.Block, ctrTop [8]byte, b []byte) {
	var iv [16]byte
	copy(iv[:], ctrTop[:])
	cipher.NewCTR(block, iv[:]).XORKeyStream(b, b)
}

func ctrXOR(block cipher.Block, ctrTop [8]byte, b []byte) []byte {
	var iv [16]byte
	copy(iv[:], ctrTop[:])
	out := make([]byte, len(b))
	cipher.NewCTR(block, iv[:]).XORKeyStream(out, b)
	return out
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
	sk.sendHMAC = hmac.New(sha1.New, sk.sendMAC[:])
	sk.recvHMAC = hmac.New(sha1.New, sk.recvMAC[:])
	sk.sendBlock, _ = aes.NewCipher(sk.sendAES[:])
	sk.recvBlock, _ = aes.NewCipher(sk.recvAES[:])
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

// aesCTR encrypts or decrypts b with AES-128 in counter mode, the IV being
// the 8-byte counter top half followed by 8 zero bytes.
func aesCTR(key []byte, ctrTop [8]byte, b []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("otr: AES key size") // callers pass fixed 16-byte keys
	}
	return ctrXOR(block, ctrTop, b)
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}
