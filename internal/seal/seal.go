// Package seal encrypts small secrets at rest (IRC passwords, OTR private
// keys) under a key derived from the bridge's configured secret.
//
// A sealed value is: version byte (1) || 24-byte random nonce || XChaCha20-
// Poly1305 ciphertext and tag. The AEAD key is HKDF-SHA256 of the configured
// secret with a purpose label as info, so a value sealed for one purpose can
// never be opened as another. The associated data binds a value to its place
// (for example the user and network it belongs to), so that swapping rows in
// the database makes Open fail instead of handing one user another's key.
// XChaCha20's 192-bit nonces are safe to draw at random for any number of
// values.
package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// MinSecretLength is the shortest configured secret NewKey accepts. The
// secret is meant to be random (e.g. 32 bytes of base64 from the example
// config), not a password.
const MinSecretLength = 16

const version1 = 1

// salt separates this scheme's keys from any other use of the same secret.
const salt = "otrbridge/internal/seal v1"

var (
	// ErrOpen reports a value that is corrupted, was tampered with, or was
	// sealed under another secret, purpose or associated data. The cases
	// are deliberately indistinguishable.
	ErrOpen = errors.New("seal: cannot open value: corrupted, or sealed with another secret, purpose or context")
	// ErrFormat reports a value too short or of an unknown format version.
	ErrFormat = errors.New("seal: not a sealed value of a known format")
)

// Key seals and opens values for one purpose. It is safe for concurrent use.
type Key struct {
	aead cipher.AEAD
}

// NewKey derives the key for purpose from the configured secret.
func NewKey(secret string, purpose string) (*Key, error) {
	if len(secret) == 0 {
		return nil, errors.New("seal: the encryption secret is empty")
	}
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("seal: the encryption secret is too short: need at least %d bytes", MinSecretLength)
	}
	if purpose == "" {
		return nil, errors.New("seal: empty purpose label")
	}
	k, err := hkdf.Key(sha256.New, []byte(secret), []byte(salt), purpose, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("seal: deriving key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Key{aead: aead}, nil
}

// Seal encrypts plaintext, bound to associatedData, with a fresh random
// nonce.
func (k *Key) Seal(plaintext, associatedData []byte) []byte {
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, 1+chacha20poly1305.NonceSizeX+len(plaintext)+k.aead.Overhead())
	out[0] = version1
	nonce := out[1:]
	// crypto/rand.Read never fails: it crashes the program instead.
	rand.Read(nonce)
	return k.aead.Seal(out, nonce, plaintext, associatedData)
}

// Open decrypts a value made by Seal with the same secret, purpose and
// associated data.
func (k *Key) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < 1+chacha20poly1305.NonceSizeX+k.aead.Overhead() || sealed[0] != version1 {
		return nil, ErrFormat
	}
	nonce := sealed[1 : 1+chacha20poly1305.NonceSizeX]
	pt, err := k.aead.Open(nil, nonce, sealed[1+chacha20poly1305.NonceSizeX:], associatedData)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// SealString is Seal for text, in standard base64 so it can live in JSON
// metadata or a TEXT column.
func (k *Key) SealString(plaintext string, ad string) string {
	return base64.StdEncoding.EncodeToString(k.Seal([]byte(plaintext), []byte(ad)))
}

// OpenString reverses SealString.
func (k *Key) OpenString(sealed string, ad string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", ErrFormat
	}
	pt, err := k.Open(raw, []byte(ad))
	if err != nil {
		return "", err
	}
	return string(pt), nil
}
