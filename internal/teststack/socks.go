package teststack

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

const microsocksBin = "/usr/bin/microsocks"

// SOCKS5Options configures a private SOCKS5 proxy.
type SOCKS5Options struct {
	// User and Password, when set, are the only credentials the proxy
	// accepts (RFC 1929); without them it accepts anyone.
	User, Password string
	// BindAddr is the loopback address the proxy's outgoing connections
	// come from (default 127.0.0.2), so that a server can tell a
	// connection through the proxy from a direct one (127.0.0.1).
	BindAddr string
}

// SOCKS5Proxy is a running microsocks (Debian's microsocks package), a
// SOCKS5 server that resolves host names itself.
type SOCKS5Proxy struct {
	Host     string // 127.0.0.1
	Port     int
	BindAddr string
	logPath  string
	proc     *process
}

// SOCKS5 starts a SOCKS5 proxy on a free loopback port for the test and
// stops it at cleanup. A missing microsocks skips the test (or fails it
// under RequirePeers).
func SOCKS5(t testing.TB, o SOCKS5Options) *SOCKS5Proxy {
	t.Helper()
	if _, err := os.Stat(microsocksBin); err != nil {
		Missing(t, "microsocks (%s; apt-get install microsocks)", microsocksBin)
	}
	if o.BindAddr == "" {
		o.BindAddr = "127.0.0.2"
	}
	dir := t.TempDir()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		p := &SOCKS5Proxy{Host: "127.0.0.1", BindAddr: o.BindAddr, logPath: filepath.Join(dir, "microsocks.log")}
		if p.Port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		args := []string{"-i", p.Host, "-p", strconv.Itoa(p.Port), "-b", o.BindAddr}
		if o.User != "" {
			args = append(args, "-u", o.User, "-P", o.Password)
		}
		if p.proc, err = startProcess("microsocks", p.logPath, dir, nil, false, microsocksBin, args...); err != nil {
			t.Fatal(err)
		}
		if err = waitFor(p.proc, 10*time.Second, p.probe); err == nil {
			t.Cleanup(p.Stop)
			return p
		}
		p.proc.Stop()
	}
	t.Fatalf("start microsocks: %v", err)
	return nil
}

// probe checks that the proxy answers a SOCKS5 greeting.
func (p *SOCKS5Proxy) probe() error {
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		return err
	}
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if b[0] != 5 {
		return fmt.Errorf("not a SOCKS5 answer: %x", b)
	}
	return nil
}

// Addr is host:port of the proxy.
func (p *SOCKS5Proxy) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// URL is the proxy as socks5://host:port.
func (p *SOCKS5Proxy) URL() string { return "socks5://" + p.Addr() }

// Stop ends the proxy: new connections through it are refused.
func (p *SOCKS5Proxy) Stop() { p.proc.Stop() }

var microsocksConnected = regexp.MustCompile(`connected to (\S+)`)

// Targets returns the destinations the proxy connected to, as the client
// named them ("localhost:6667": a host name means the client left DNS to
// the proxy).
func (p *SOCKS5Proxy) Targets() []string {
	b, _ := os.ReadFile(p.logPath)
	var out []string
	for _, m := range microsocksConnected.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}
