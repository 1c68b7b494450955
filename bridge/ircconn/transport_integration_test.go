package ircconn

import (
	"crypto/tls"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// tlsConn connects to srv's TLS port with a client certificate.
func tlsConn(t *testing.T, srv *teststack.IRCServer, nick string, cert *tls.Certificate, mod func(*Config)) (*Conn, *recorder) {
	t.Helper()
	return realConn(t, srv, nick, func(cfg *Config) {
		cfg.PlainText = false
		cfg.Port = srv.TLSPort
		cfg.InsecureSkipVerify = true
		cfg.ClientCertificate = cert
		cfg.ReconnectMin, cfg.ReconnectMax = time.Minute, time.Minute
		if mod != nil {
			mod(cfg)
		}
	})
}

func newCert(t *testing.T) (*tls.Certificate, Fingerprints) {
	t.Helper()
	cert, err := NewClientCertificate()
	if err != nil {
		t.Fatal(err)
	}
	fps, err := CertFingerprints(cert)
	if err != nil {
		t.Fatal(err)
	}
	return &cert, fps
}

// SASL EXTERNAL against InspIRCd with a linked services stand-in: InspIRCd
// computes the fingerprint of the certificate we present and relays it; the
// fingerprint CertFingerprints gives is the one the account was registered
// with, so the login succeeds and the server shows us logged in.
func TestInspIRCdSASLExternal(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{TLS: true, Services: true})
	cert, fps := newCert(t)
	svc := teststack.StartServices(t, srv, teststack.ServicesOptions{Accounts: map[string]teststack.ServiceAccount{
		"alice": {CertFP: fps.SHA256},
	}})
	c, rec := tlsConn(t, srv, "certuser", cert, func(cfg *Config) { cfg.SASLExternal = true })
	rec.waitState(t, 15*time.Second, Connected)
	a := svc.Attempts()
	if len(a) != 1 || a[0].Mechanism != "EXTERNAL" || !a[0].OK || a[0].Account != "alice" {
		t.Fatalf("services saw %+v, want one successful EXTERNAL login to alice", a)
	}
	if a[0].CertFP != fps.SHA256 {
		t.Errorf("InspIRCd computed fingerprint %s, CertFingerprints gave %s", a[0].CertFP, fps.SHA256)
	}
	info, err := c.Whois(ctx10(t), "certuser")
	if err != nil {
		t.Fatal(err)
	}
	if info.Account != "alice" || !info.Secure {
		t.Errorf("WHOIS: account %q secure %v, want alice over TLS", info.Account, info.Secure)
	}
	if !whoisHas(info, "276", fps.SHA256) {
		t.Errorf("WHOIS does not show the fingerprint %s: %q", fps.SHA256, info.Other)
	}
}

func whoisHas(info WhoisInfo, code, text string) bool {
	for _, o := range info.Other {
		if strings.HasPrefix(o, code+" ") && strings.Contains(o, text) {
			return true
		}
	}
	return false
}

// A certificate the account does not know: bad credentials, no retry, and
// never a login by other means.
func TestInspIRCdSASLExternalUnknownCertificate(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{TLS: true, Services: true})
	_, registered := newCert(t)
	svc := teststack.StartServices(t, srv, teststack.ServicesOptions{Accounts: map[string]teststack.ServiceAccount{
		"alice": {CertFP: registered.SHA256},
	}})
	other, _ := newCert(t)
	_, rec := tlsConn(t, srv, "intruder", other, func(cfg *Config) { cfg.SASLExternal = true })
	sc := rec.waitState(t, 15*time.Second, BadCredentials)
	if sc.Err == nil || !strings.Contains(sc.Err.Error(), "CERT ADD") {
		t.Errorf("error %v: want the advice to register the fingerprint", sc.Err)
	}
	if a := svc.Attempts(); len(a) != 1 || a[0].OK {
		t.Errorf("services saw %+v, want one failed attempt", a)
	}
}

// A server that offers SASL but not EXTERNAL, and one without SASL at all:
// the connection stops in state Fatal before any AUTHENTICATE, and no other
// mechanism is tried.
func TestInspIRCdSASLExternalNotOffered(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{TLS: true, Services: true})
	cert, fps := newCert(t)
	svc := teststack.StartServices(t, srv, teststack.ServicesOptions{
		Mechanisms: []string{"PLAIN"},
		Accounts:   map[string]teststack.ServiceAccount{"alice": {CertFP: fps.SHA256, Password: "pw"}},
	})
	_, rec := tlsConn(t, srv, "certuser", cert, func(cfg *Config) { cfg.SASLExternal = true })
	sc := rec.waitState(t, 15*time.Second, Fatal)
	if sc.Err == nil || !strings.Contains(sc.Err.Error(), "does not offer SASL EXTERNAL") {
		t.Errorf("error %v", sc.Err)
	}
	if a := svc.Attempts(); len(a) != 0 {
		t.Errorf("services saw %+v, want no attempt", a)
	}

	svc.Close() // InspIRCd withdraws the sasl capability
	_, rec2 := tlsConn(t, srv, "certuser2", cert, func(cfg *Config) { cfg.SASLExternal = true })
	sc = rec2.waitState(t, 15*time.Second, Fatal)
	if sc.Err == nil || !strings.Contains(sc.Err.Error(), "does not offer SASL EXTERNAL") {
		t.Errorf("without services: %v", sc.Err)
	}
}

// SASL PLAIN through InspIRCd's real SASL relay.
func TestInspIRCdSASLPlain(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{Services: true})
	svc := teststack.StartServices(t, srv, teststack.ServicesOptions{Accounts: map[string]teststack.ServiceAccount{
		"bob": {Password: "sasl-secret"},
	}})
	c, rec := realConn(t, srv, "bobnick", func(cfg *Config) { cfg.SASLAccount, cfg.SASLPassword = "bob", "sasl-secret" })
	rec.waitState(t, 15*time.Second, Connected)
	if a := svc.Attempts(); len(a) != 1 || a[0].Mechanism != "PLAIN" || a[0].Account != "bob" {
		t.Fatalf("services saw %+v", a)
	}
	if info, err := c.Whois(ctx10(t), "bobnick"); err != nil || info.Account != "bob" {
		t.Errorf("WHOIS account %q (%v)", info.Account, err)
	}
	_, rec2 := realConn(t, srv, "mallory", func(cfg *Config) { cfg.SASLAccount, cfg.SASLPassword = "bob", "wrong" })
	rec2.waitState(t, 15*time.Second, BadCredentials)
}

// The server password (PASS) of a bouncer or private server: the right one
// registers, a wrong one is a bad-credentials stop, not a retry loop.
func TestInspIRCdServerPassword(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{Password: "bouncer-pass"})
	_, rec := realConn(t, srv, "passuser", func(cfg *Config) { cfg.ServerPassword = "bouncer-pass" })
	rec.waitState(t, 15*time.Second, Connected)
	_, rec2 := realConn(t, srv, "nopass", func(cfg *Config) { cfg.ServerPassword = "wrong-pass" })
	sc := rec2.waitState(t, 15*time.Second, BadCredentials)
	if sc.Err == nil || !strings.Contains(sc.Err.Error(), "server password") || strings.Contains(sc.Err.Error(), "wrong-pass") {
		t.Errorf("error %v: want a hint at the server password, without it", sc.Err)
	}
}

// Through a SOCKS5 proxy (microsocks) to InspIRCd: the IRC port sees only
// the proxy (it connects from 127.0.0.2, we would come from 127.0.0.1), the
// proxy receives the host name unresolved, and when the proxy goes away the
// connection fails instead of going direct.
func TestInspIRCdThroughSOCKS5(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	ircPort := teststack.WatchTCP(t, srv.Addr())
	px := teststack.SOCKS5(t, teststack.SOCKS5Options{})
	c, rec := realConn(t, srv, "toruser", func(cfg *Config) {
		cfg.Address = "localhost"
		cfg.Port = ircPort.Port
		cfg.Proxy = px.URL()
		cfg.ProxyOnly = true
	})
	rec.waitState(t, 15*time.Second, Connected)
	peer := teststack.DialIRC(t, srv.Addr(), "peer", teststack.IRCClientOptions{})
	if _, err := c.Send(ctx10(t), "peer", Privmsg, []string{"through the proxy"}); err != nil {
		t.Fatal(err)
	}
	if l, err := peer.WaitPrivmsg(5*time.Second, "toruser", false); err != nil || l.Text() != "through the proxy" {
		t.Fatalf("peer got %q (%v)", l.Text(), err)
	}
	if got := ircPort.Peers(); len(got) != 1 || got[0] != px.BindAddr {
		t.Fatalf("the IRC port was reached from %v, want only the proxy (%s)", got, px.BindAddr)
	}
	if got, want := px.Targets(), "localhost:"+strconv.Itoa(ircPort.Port); len(got) != 1 || got[0] != want {
		t.Errorf("the proxy was asked for %v, want the unresolved %s", got, want)
	}

	px.Stop() // our connection ran through it: it drops
	rec.waitState(t, 15*time.Second, TransientDisconnect)
	for range 3 {
		sc := rec.waitState(t, 15*time.Second, TransientDisconnect)
		if sc.Err == nil || !strings.Contains(sc.Err.Error(), "proxy") {
			t.Errorf("attempt without the proxy: %v", sc.Err)
		}
	}
	if got := ircPort.Peers(); len(got) != 1 {
		t.Fatalf("the IRC port was reached from %v after the proxy stopped: a direct connection", got)
	}
}

// Each login gets its own SOCKS credentials (Tor: its own circuit). The
// proxy accepts exactly the credentials derived for one login: that login
// connects, another is refused, and so is a connection without them.
func TestInspIRCdSOCKS5Isolation(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	px := teststack.SOCKS5(t, teststack.SOCKS5Options{User: isolationUser("login-a"), Password: "isolate"})
	viaProxy := func(key string) func(*Config) {
		return func(cfg *Config) {
			cfg.Proxy = px.URL()
			cfg.ProxyIsolation = key
			cfg.ReconnectMin, cfg.ReconnectMax = time.Minute, time.Minute
		}
	}
	_, recA := realConn(t, srv, "usera", viaProxy("login-a"))
	recA.waitState(t, 15*time.Second, Connected)
	for _, key := range []string{"login-b", ""} {
		_, rec := realConn(t, srv, "userb", viaProxy(key))
		sc := rec.waitState(t, 15*time.Second, TransientDisconnect)
		if sc.Err == nil || !strings.Contains(sc.Err.Error(), "proxy") {
			t.Errorf("key %q: %v, want refused by the proxy", key, sc.Err)
		}
	}
	// Credentials in the URL are used as given (shared by every login).
	_, rec := realConn(t, srv, "userc", func(cfg *Config) {
		viaProxy("login-c")(cfg)
		cfg.Proxy = "socks5://" + isolationUser("login-a") + ":isolate@" + px.Addr()
	})
	rec.waitState(t, 15*time.Second, Connected)
}
