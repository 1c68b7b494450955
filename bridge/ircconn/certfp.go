package ircconn

// Client certificates for CertFP: generation, storage form and fingerprints.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// NewClientCertificate generates a key pair and a self-signed certificate
// for TLS client authentication (CertFP), valid for ten years.
//
// The key is ECDSA P-256: every TLS library IRC servers use (OpenSSL in
// Solanum and UnrealIRCd, GnuTLS and OpenSSL in InspIRCd) accepts it for
// client authentication, while Ed25519 client certificates are refused by
// older builds. Networks identify the certificate only by its fingerprint,
// so the subject is a neutral constant that reveals nothing about the user
// or the bridge.
func NewClientCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ircconn: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ircconn: serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "IRC client"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ircconn: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ircconn: parse certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// MarshalClientCertificate encodes cert as PEM: the certificate, then the
// private key (PKCS #8). The result contains the private key: seal it
// before storing it.
func MarshalClientCertificate(cert tls.Certificate) ([]byte, error) {
	if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return nil, errors.New("ircconn: certificate or private key missing")
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("ircconn: encode private key: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})...), nil
}

// ParseClientCertificate decodes what MarshalClientCertificate wrote (or
// any PEM certificate and matching private key, such as a certificate an
// IRC client made with openssl).
func ParseClientCertificate(pemData []byte) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(pemData, pemData)
	if err != nil {
		// The error of X509KeyPair never quotes key material.
		return tls.Certificate{}, fmt.Errorf("ircconn: client certificate: %w", err)
	}
	return cert, nil
}

// Fingerprints are the fingerprints of a client certificate as IRC networks
// compute them: lower-case hex of a hash of the certificate (DER).
type Fingerprints struct {
	// SHA256 is what InspIRCd (with hash="sha256"), UnrealIRCd, Ergo and
	// most services compare, and what `/msg NickServ CERT ADD <fp>` takes
	// there.
	SHA256 string
	// SHA512 is what Solanum networks such as Libera.Chat compare.
	SHA512 string
}

// CertFingerprints returns the fingerprints of cert's leaf certificate.
// Which one a network uses depends on its server software; the surest way
// to register the certificate is to connect with it and send
// `/msg NickServ CERT ADD` without an argument, which adds whatever the
// network computed (WHOIS on oneself shows it too, numeric 276).
func CertFingerprints(cert tls.Certificate) (Fingerprints, error) {
	if len(cert.Certificate) == 0 {
		return Fingerprints{}, errors.New("ircconn: no certificate")
	}
	der := cert.Certificate[0]
	s256 := sha256.Sum256(der)
	s512 := sha512.Sum512(der)
	return Fingerprints{SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:])}, nil
}
