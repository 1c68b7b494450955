package bridge

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

func sealedConnector(t *testing.T) *IRCConnector {
	t.Helper()
	ic := &IRCConnector{Config: Config{Secret: strings.Repeat("s", 32)}}
	if err := ic.sealKeys(); err != nil {
		t.Fatal(err)
	}
	return ic
}

// A login's certificate is sealed (no PEM in the stored value), opens for
// that login only, and keeps its fingerprint.
func TestClientCertSealedPerLogin(t *testing.T) {
	ic := sealedConnector(t)
	a, b := networkid.UserLoginID("libera/@a:x"), networkid.UserLoginID("libera/@b:x")
	sealed, err := ic.newClientCert(a)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "PRIVATE KEY") || strings.Contains(sealed, "CERTIFICATE") {
		t.Fatal("the stored certificate is not sealed")
	}
	fp1, err := ic.certFingerprints(a, sealed)
	if err != nil || len(fp1.SHA256) != 64 || len(fp1.SHA512) != 128 {
		t.Fatalf("fingerprints %+v, %v", fp1, err)
	}
	fp2, _ := ic.certFingerprints(a, sealed)
	if fp1 != fp2 {
		t.Error("the fingerprint changed between two openings")
	}
	if _, err := ic.openClientCert(b, sealed); err != errCertUnreadable {
		t.Errorf("another login opened the certificate: %v", err)
	}
}

// A login's own server password cannot stand in for its account password
// or the other way round (rows swapped in the database fail to open).
func TestServerPasswordSealedApart(t *testing.T) {
	ic := sealedConnector(t)
	id := networkid.UserLoginID("bnc/@a:x")
	server := ic.passwordKey.SealString("user/net:pw", serverPasswordAD(id))
	if _, err := ic.passwordKey.OpenString(server, string(id)); err == nil {
		t.Error("the server password opened as the account password")
	}
	if got, err := ic.passwordKey.OpenString(server, serverPasswordAD(id)); err != nil || got != "user/net:pw" {
		t.Errorf("server password: %q, %v", got, err)
	}
}
