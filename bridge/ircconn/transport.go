package ircconn

// Transport: the TCP connection (direct or through a SOCKS5 proxy), TLS
// with an optional client certificate, and the checks of those settings.

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/proxy"
)

// checkAddress refuses an Address that carries a port ("host:6697"): Port
// is its own field, and a joined "host:6697:6697" would fail every attempt.
// A bare IPv6 address ("::1", without brackets) is accepted.
func checkAddress(addr string) error {
	if addr == "" || strings.ContainsAny(addr, " /\t\r\n\x00[]@") {
		return errors.New("ircconn: Config.Address must be a host name or IP address")
	}
	if strings.Contains(addr, ":") && net.ParseIP(addr) == nil {
		return errors.New("ircconn: Config.Address must not contain a port: give the port in Config.Port")
	}
	return nil
}

// newProxyDialer parses cfg.Proxy; it returns nil without a proxy. Errors
// never quote the URL, which may hold a password.
func newProxyDialer(cfg *Config) (proxy.ContextDialer, error) {
	if cfg.Proxy == "" {
		if cfg.ProxyOnly {
			return nil, errors.New("ircconn: Config.ProxyOnly is set but Config.Proxy is empty")
		}
		return nil, nil
	}
	if cfg.Dial != nil {
		return nil, errors.New("ircconn: Config.Proxy and Config.Dial exclude each other")
	}
	u, err := parseProxy(cfg.Proxy)
	if err != nil {
		return nil, fmt.Errorf("ircconn: Config.Proxy: %w", err)
	}
	if u.User == nil && cfg.ProxyIsolation != "" {
		u.User = url.UserPassword(isolationUser(cfg.ProxyIsolation), "isolate")
	}
	d, err := proxy.FromURL(u, &net.Dialer{KeepAlive: 30 * time.Second})
	if err != nil {
		return nil, errors.New("ircconn: Config.Proxy: unusable proxy URL")
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, errors.New("ircconn: Config.Proxy: the proxy dialer cannot be cancelled")
	}
	return cd, nil
}

// CheckProxy reports whether rawURL is a proxy Config.Proxy accepts:
// socks5://[user:password@]host:port. The error never quotes the URL, which
// may hold a password.
func CheckProxy(rawURL string) error {
	_, err := parseProxy(rawURL)
	return err
}

func parseProxy(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("not a URL (want socks5://[user:password@]host:port)")
	}
	if u.Scheme != "socks5" && u.Scheme != "socks5h" {
		return nil, errors.New("only SOCKS5 proxies are supported (want socks5://[user:password@]host:port)")
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errors.New("want socks5://[user:password@]host:port")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("invalid port")
		}
	}
	return u, nil
}

// isolationUser is the SOCKS5 user name for a stream-isolation key: Tor
// (IsolateSOCKSAuth, on by default) puts streams with different credentials
// on different circuits. The key is hashed so that the proxy never sees
// which login it stands for.
func isolationUser(key string) string {
	sum := sha256.Sum256([]byte("otrbridge socks isolation\x00" + key))
	return "otrbridge-" + hex.EncodeToString(sum[:12])
}

// checkTLSAuth checks the client certificate and SASL EXTERNAL settings.
func checkTLSAuth(cfg *Config) error {
	if cfg.ClientCertificate != nil {
		if len(cfg.ClientCertificate.Certificate) == 0 || cfg.ClientCertificate.PrivateKey == nil {
			return errors.New("ircconn: Config.ClientCertificate needs a certificate and its private key")
		}
		if cfg.PlainText {
			return errors.New("ircconn: a client certificate needs TLS (PlainText is set)")
		}
	}
	if cfg.SASLExternal {
		if cfg.ClientCertificate == nil {
			return errors.New("ircconn: SASL EXTERNAL needs Config.ClientCertificate")
		}
		if cfg.SASLAccount != "" {
			return errors.New("ircconn: SASL EXTERNAL and SASL PLAIN (SASLAccount) exclude each other")
		}
	}
	return nil
}

func (c *Conn) dial(ctx context.Context) (nc net.Conn, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	if c.cfg.Dial != nil {
		defer func() {
			if r := recover(); r != nil {
				c.logPanic(r, "call", "Config.Dial", "recovered from a panic in caller code; carrying on")
				nc, err = nil, errDialPanic
			}
		}()
		return c.cfg.Dial(ctx)
	}
	addr := net.JoinHostPort(c.cfg.Address, strconv.Itoa(c.cfg.Port))
	var raw net.Conn
	if c.proxy != nil {
		// The host name goes to the proxy unresolved; there is no
		// direct fallback when the proxy fails.
		if raw, err = c.proxy.DialContext(ctx, "tcp", addr); err != nil {
			return nil, fmt.Errorf("through the proxy: %w", err)
		}
	} else {
		nd := &net.Dialer{KeepAlive: 30 * time.Second}
		if raw, err = nd.DialContext(ctx, "tcp", addr); err != nil {
			return nil, err
		}
	}
	if c.cfg.PlainText {
		return raw, nil
	}
	tc := tls.Client(raw, c.tlsConfig())
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return tc, nil
}

func (c *Conn) tlsConfig() *tls.Config {
	tc := &tls.Config{
		ServerName:         c.cfg.Address,
		InsecureSkipVerify: c.cfg.InsecureSkipVerify,
		MinVersion:         tls.VersionTLS12,
	}
	if cert := c.cfg.ClientCertificate; cert != nil {
		// Always offered when asked, whatever CA names the server lists:
		// CertFP certificates are self-signed and identified by their
		// fingerprint alone.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return tc
}
