package ircconn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

func TestTransportConfigValidation(t *testing.T) {
	h := func(Event) {}
	cert, err := NewClientCertificate()
	if err != nil {
		t.Fatal(err)
	}
	dial := newFakeNet(t).dial
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"address with port":     {Config{Address: "irc.example.org:6697"}, "must not contain a port"},
		"address as URL":        {Config{Address: "ircs://irc.example.org"}, "host name or IP address"},
		"proxy not socks":       {Config{Address: "x", Proxy: "http://127.0.0.1:8080"}, "only SOCKS5"},
		"proxy without host":    {Config{Address: "x", Proxy: "socks5://:9050"}, "socks5://"},
		"proxy bad port":        {Config{Address: "x", Proxy: "socks5://127.0.0.1:99999"}, "invalid port"},
		"proxy-only no proxy":   {Config{Address: "x", ProxyOnly: true}, "ProxyOnly"},
		"proxy and dial":        {Config{Proxy: "socks5://127.0.0.1:9050", Dial: dial}, "exclude"},
		"external without cert": {Config{Address: "x", SASLExternal: true}, "needs Config.ClientCertificate"},
		"cert without TLS":      {Config{Address: "x", PlainText: true, ClientCertificate: &cert}, "needs TLS"},
		"external and plain": {Config{Address: "x", ClientCertificate: &cert, SASLExternal: true, SASLAccount: "a", SASLPassword: "p"},
			"exclude"},
		"proxy URL unparsable, secret kept out": {Config{Address: "x", Proxy: "socks5://user:pw-secret%zz@127.0.0.1:9050"}, "not a URL"},
	} {
		tc.cfg.Nick, tc.cfg.Handler = "n", h
		c, err := New(tc.cfg)
		if err == nil {
			c.Close()
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to say %q", name, err, tc.want)
		}
		if strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("%s: the error quotes the proxy password: %v", name, err)
		}
	}
	for _, ok := range []Config{
		{Address: "::1"},
		{Address: "irc.example.org", Proxy: "socks5://127.0.0.1:9050", ProxyOnly: true},
		{Address: "irc.example.onion", Proxy: "socks5h://user:pass@localhost:9050", ProxyIsolation: "login"},
		{Address: "x", ClientCertificate: &cert, SASLExternal: true},
		{Address: "x", ClientCertificate: &cert}, // presented only (CertFP by services on connect)
	} {
		ok.Nick, ok.Handler = "n", h
		c, err := New(ok)
		if err != nil {
			t.Errorf("%+v: %v", ok, err)
			continue
		}
		c.Close()
	}
}

// Isolation credentials differ per key and do not reveal it.
func TestIsolationUser(t *testing.T) {
	a, b := isolationUser("!login-a:example.org"), isolationUser("!login-b:example.org")
	if a == b || a != isolationUser("!login-a:example.org") {
		t.Fatalf("isolation users %q %q: want distinct and stable", a, b)
	}
	if strings.Contains(a, "login") || len(a) > 255 {
		t.Errorf("isolation user %q reveals the key or is too long for RFC 1929", a)
	}
}

func TestSASLExternalExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		cert, err := NewClientCertificate()
		if err != nil {
			t.Fatal(err)
		}
		_, rec := pipeConn(t, fn, func(c *Config) { c.ClientCertificate, c.SASLExternal = &cert, true })
		fc := fn.next(t)
		fc.expect(t, "CAP")
		fc.expect(t, "NICK")
		fc.expect(t, "USER")
		fc.send(":srv.test CAP * LS :sasl=PLAIN,EXTERNAL message-tags")
		if req := fc.expect(t, "CAP"); req.Params[1] != "message-tags sasl" {
			t.Fatalf("REQ %q", req.Params[1])
		}
		fc.send(":srv.test CAP * ACK :message-tags sasl")
		if m := fc.expect(t, "AUTHENTICATE"); m.Params[0] != "EXTERNAL" {
			t.Fatalf("AUTHENTICATE %v", m.Params)
		}
		fc.send("AUTHENTICATE +")
		if m := fc.expect(t, "AUTHENTICATE"); m.Params[0] != "+" {
			t.Fatalf("EXTERNAL response %v, want + (no authorisation identity)", m.Params)
		}
		fc.send(":srv.test 900 me me!u@h acct :You are now logged in as acct", ":srv.test 903 me :SASL successful")
		fc.expect(t, "CAP") // END
		fc.welcome(t, "me")
		rec.waitState(t, time.Second, Connected)
	})
}

// With SASL EXTERNAL configured, a server offering only PLAIN stops the
// connection before any AUTHENTICATE: never a login the user did not choose.
func TestSASLExternalNotOfferedIsFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		cert, _ := NewClientCertificate()
		_, rec := pipeConn(t, fn, func(c *Config) { c.ClientCertificate, c.SASLExternal = &cert, true })
		fc := fn.next(t)
		fc.expect(t, "CAP")
		fc.expect(t, "NICK")
		fc.expect(t, "USER")
		fc.send(":srv.test CAP * LS :sasl=PLAIN message-tags")
		sc := rec.waitState(t, time.Second, Fatal)
		if sc.Err == nil || !strings.Contains(sc.Err.Error(), "SASL EXTERNAL") {
			t.Errorf("error %v", sc.Err)
		}
		fc.closed(t)
	})
}

// The generated certificate is what IRC networks accept for CertFP, it
// survives storage, and its fingerprints are the ones openssl prints (the
// command networks' guides give for `NickServ CERT ADD`).
func TestClientCertificate(t *testing.T) {
	cert, err := NewClientCertificate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("extended key usage %v, want client auth", leaf.ExtKeyUsage)
	}
	if time.Until(leaf.NotAfter) < 9*365*24*time.Hour || leaf.NotBefore.After(time.Now()) {
		t.Errorf("validity %v - %v", leaf.NotBefore, leaf.NotAfter)
	}
	pemData, err := MarshalClientCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseClientCertificate(pemData)
	if err != nil {
		t.Fatal(err)
	}
	fps, err := CertFingerprints(cert)
	if err != nil {
		t.Fatal(err)
	}
	if fps2, _ := CertFingerprints(back); fps2 != fps || len(fps.SHA256) != 64 || len(fps.SHA512) != 128 {
		t.Fatalf("fingerprints %+v after storage %+v", fps, fps2)
	}
	if _, err := ParseClientCertificate([]byte("garbage")); err == nil {
		t.Error("garbage parsed as a certificate")
	}
	other, _ := NewClientCertificate()
	if fo, _ := CertFingerprints(other); fo == fps {
		t.Error("two certificates with one fingerprint")
	}

	openssl, err := exec.LookPath("openssl")
	if err != nil {
		teststack.Missing(t, "openssl (apt-get install openssl)")
	}
	path := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(path, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	for alg, want := range map[string]string{"-sha256": fps.SHA256, "-sha512": fps.SHA512} {
		out, err := exec.Command(openssl, "x509", "-in", path, "-noout", "-fingerprint", alg).Output()
		if err != nil {
			t.Fatalf("openssl %s: %v", alg, err)
		}
		_, fp, _ := strings.Cut(strings.TrimSpace(string(out)), "=")
		if got := strings.ToLower(strings.ReplaceAll(fp, ":", "")); got != want {
			t.Errorf("openssl %s fingerprint %s, CertFingerprints %s", alg, got, want)
		}
	}
}

// The proxy password never reaches the log, whatever happens to the
// connection.
func TestProxyPasswordNotLogged(t *testing.T) {
	var buf syncBuffer
	rec := newRecorder()
	c := startConn(t, Config{
		Nick: "me", Address: "irc.example.org", Port: 6667, PlainText: true,
		Proxy:        "socks5://user:proxy-secret-pw@127.0.0.1:1",
		ReconnectMin: time.Minute, ReconnectMax: time.Minute,
		Logger: zerolog.New(&buf).Level(zerolog.TraceLevel), Handler: rec.handle,
	}, nil)
	sc := rec.waitState(t, 10*time.Second, TransientDisconnect)
	c.Close()
	if buf.Len() == 0 || sc.Err == nil {
		t.Fatal("nothing logged or no error: the test would prove nothing")
	}
	for _, s := range []string{buf.String(), sc.Err.Error()} {
		if strings.Contains(s, "proxy-secret-pw") || strings.Contains(s, base64.StdEncoding.EncodeToString([]byte("proxy-secret-pw"))) {
			t.Errorf("proxy password leaked: %s", s)
		}
	}
}

// InspIRCd answers a wrong server password with "Access denied by
// configuration" (no connect class matches), not 464.
func TestAccessDeniedIsTerminal(t *testing.T) {
	const text = "Closing link: (u@127.0.0.1) [Access denied by configuration]"
	for sent, want := range map[bool]State{true: BadCredentials, false: Fatal} {
		var fe *fatalError
		if err := classifyERROR(text, sent); !errors.As(err, &fe) || fe.state != want {
			t.Errorf("password sent %v: %v, want state %v", sent, err, want)
		}
	}
}
