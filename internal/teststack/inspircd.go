package teststack

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

// IRCOptions configures a private InspIRCd.
type IRCOptions struct {
	// FloodLimits turns on InspIRCd's excess-flood kill: a client may send a
	// burst of FloodBurst lines, then FloodRate lines per second; beyond that
	// it is disconnected ("Excess Flood"). Off, the limits are so high that
	// no test reaches them.
	FloodLimits bool
	FloodBurst  int     // default 10
	FloodRate   float64 // lines per second, default 1
	// TLS adds a second listener with a self-signed certificate (TLSPort).
	TLS bool
	// Services opens a server-link port (ServicesPort) for the services
	// stand-in of StartServices and loads what SASL and CertFP need: sasl
	// (offered once the stand-in has linked), sslinfo, and TLS client
	// certificates requested with SHA-256 fingerprints.
	Services bool
	// Password is the server password (PASS) every client must send.
	Password string
	// NoMsgid leaves out IRCv3 msgid: messages carry no server-given ID,
	// as on networks without it, so a line seen by several connections is
	// recognised only by its content.
	NoMsgid bool
	// Detach leaves the server running when the calling process exits (for
	// scripts/stack.sh); tests leave it false.
	Detach bool
}

// IRCServer is a running InspIRCd.
type IRCServer struct {
	Host    string // always 127.0.0.1
	Port    int    // plaintext client port
	TLSPort int    // 0 unless IRCOptions.TLS
	Name    string // server name, the prefix of server numerics
	Network string // NETWORK= in ISUPPORT
	Dir     string // config, logs, pid file
	LogPath string // InspIRCd's own log
	// OperName/OperPassword let a test client become an IRC operator (OPER),
	// e.g. to KILL the bridge's connection.
	OperName, OperPassword string

	// ServicesPort, ServicesName and LinkPassword are where and as whom the
	// services stand-in links (IRCOptions.Services).
	ServicesPort int
	ServicesName string
	LinkPassword string

	opts IRCOptions
	bin  string
	mu   sync.Mutex
	proc *process
}

const inspircdBin = "/usr/sbin/inspircd"
const inspircdModules = "/usr/lib/inspircd/modules"

// InspIRCd starts a private InspIRCd for the test and stops it at cleanup.
// A missing InspIRCd skips the test (or fails it under RequirePeers).
func InspIRCd(t testing.TB, o IRCOptions) *IRCServer {
	t.Helper()
	if _, err := os.Stat(inspircdBin); err != nil {
		Missing(t, "InspIRCd (%s; apt-get install inspircd)", inspircdBin)
	}
	s, err := StartInspIRCd(t.TempDir(), o)
	if err != nil {
		t.Fatalf("start InspIRCd: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartInspIRCd writes a config into dir and starts InspIRCd on a free
// loopback port; it returns once the server accepts a client registration.
func StartInspIRCd(dir string, o IRCOptions) (*IRCServer, error) {
	if _, err := os.Stat(inspircdBin); err != nil {
		return nil, fmt.Errorf("inspircd not installed: %w", err)
	}
	if o.FloodBurst <= 0 {
		o.FloodBurst = 10
	}
	if o.FloodRate <= 0 {
		o.FloodRate = 1
	}
	s := &IRCServer{
		Host:         "127.0.0.1",
		Name:         "irc.otrbridge.test",
		Network:      "OtrTest",
		Dir:          dir,
		LogPath:      filepath.Join(dir, "inspircd.log"),
		OperName:     "admin",
		OperPassword: "oper-" + randomToken(8),
		opts:         o,
		bin:          inspircdBin,
	}
	if o.Services {
		s.ServicesName = "services.otrbridge.test"
		s.LinkPassword = "link-" + randomToken(12)
	}
	if o.TLS {
		if err := writeSelfSigned(dir); err != nil {
			return nil, err
		}
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if s.Port, err = freePort(); err != nil {
			return nil, err
		}
		if o.TLS {
			if s.TLSPort, err = freePort(); err != nil {
				return nil, err
			}
		}
		if o.Services {
			if s.ServicesPort, err = freePort(); err != nil {
				return nil, err
			}
		}
		if err = s.writeConfig(); err != nil {
			return nil, err
		}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// Addr is host:port of the plaintext listener.
func (s *IRCServer) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// TLSAddr is host:port of the TLS listener ("" without IRCOptions.TLS).
func (s *IRCServer) TLSAddr() string {
	if s.TLSPort == 0 {
		return ""
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(s.TLSPort))
}

// Pid is the server's process id (0 when stopped).
func (s *IRCServer) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.Exited() {
		return 0
	}
	return s.proc.Pid()
}

// Stop ends the server; every connected client sees its connection close.
func (s *IRCServer) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// Restart stops the server and starts it again on the same port(s).
func (s *IRCServer) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	// The port was just released; retry a little in case of a slow release.
	var err error
	for i := 0; i < 20; i++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("restart InspIRCd: %v", err)
}

// Start starts a stopped server again on the same port(s).
func (s *IRCServer) Start() error { return s.start() }

func (s *IRCServer) start() error {
	conf := filepath.Join(s.Dir, "inspircd.conf")
	p, err := startProcess("inspircd", filepath.Join(s.Dir, "inspircd.out"), s.Dir, nil, s.opts.Detach,
		s.bin, "--runasroot", "--nofork", "--config", conf)
	if err != nil {
		return err
	}
	if err := waitFor(p, 20*time.Second, s.probe); err != nil {
		p.Stop()
		return fmt.Errorf("%w\n--- inspircd output:\n%s", err, tail(filepath.Join(s.Dir, "inspircd.out"), 2000))
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// probe registers a throwaway client and waits for the welcome numeric.
func (s *IRCServer) probe() error {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	nick := "probe" + randomToken(4)
	if s.opts.Password != "" {
		fmt.Fprintf(c, "PASS %s\r\n", s.opts.Password)
	}
	if _, err := fmt.Fprintf(c, "NICK %s\r\nUSER probe 0 * :probe\r\n", nick); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "PING" {
			fmt.Fprintf(c, "PONG %s\r\n", f[1])
		}
		if len(f) >= 2 && f[1] == "001" {
			fmt.Fprintf(c, "QUIT :probe\r\n")
			return nil
		}
	}
}

func (s *IRCServer) writeConfig() error {
	commandRate := 1_000_000_000 // millicommands per second: no limit in practice
	threshold := 1_000_000
	if s.opts.FloodLimits {
		commandRate = int(s.opts.FloodRate * 1000)
		threshold = s.opts.FloodBurst
	}
	data := map[string]any{
		"Name": s.Name, "Network": s.Network, "Port": s.Port, "TLSPort": s.TLSPort,
		"Dir": s.Dir, "Modules": inspircdModules, "CommandRate": commandRate, "Threshold": threshold,
		"OperName": s.OperName, "OperPassword": s.OperPassword,
		"ServicesPort": s.ServicesPort, "ServicesName": s.ServicesName, "LinkPassword": s.LinkPassword,
		"Password": s.opts.Password, "Msgid": !s.opts.NoMsgid,
	}
	f, err := os.Create(filepath.Join(s.Dir, "inspircd.conf"))
	if err != nil {
		return fmt.Errorf("write inspircd config: %w", err)
	}
	defer f.Close()
	if err := inspircdConf.Execute(f, data); err != nil {
		return fmt.Errorf("write inspircd config: %w", err)
	}
	return f.Close()
}

// The IRCv3 capabilities the bridge negotiates: message-tags (ctctags),
// server-time, echo-message, labeled-response (needs batch), account-tag,
// msgid (unless IRCOptions.NoMsgid), cap-notify; for channel and presence state (from the ircv3,
// invitenotify, chghost, monitor, namesx, uhnames and setname modules)
// extended-join, account-notify, away-notify, chghost, invite-notify,
// multi-prefix, userhost-in-names, setname, extended-monitor, and MONITOR
// and WHOX in ISUPPORT. The chghost module gives opers CHGHOST; halfop
// (customprefix), ban and invite exceptions make PREFIX and CHANMODES
// realistic. SASL is offered only with IRCOptions.Services, once
// the services stand-in (services.go) has linked: InspIRCd relays SASL to
// a services server and has none of its own. sanick and sajoin let a
// test's oper rename a user and put users into a channel, as the opers of
// real networks can.
var inspircdConf = template.Must(template.New("inspircd.conf").Parse(`# Generated by internal/teststack; private test server.
<server name="{{.Name}}" description="otrbridge test server" network="{{.Network}}">
<admin name="test" nick="test" email="test@localhost">
<bind address="127.0.0.1" port="{{.Port}}" type="clients">
{{if .TLSPort}}<bind address="127.0.0.1" port="{{.TLSPort}}" type="clients" sslprofile="test">
<module name="ssl_gnutls">
<sslprofile name="test" provider="gnutls" certfile="{{.Dir}}/cert.pem" keyfile="{{.Dir}}/key.pem" requestclientcert="{{if .ServicesPort}}yes{{else}}no{{end}}" hash="sha256">
{{end}}<connect name="main" allow="*" timeout="60" pingfreq="120" hardsendq="4M" softsendq="1M" recvq="1M"{{if .Password}} password="{{.Password}}"{{end}}
	threshold="{{.Threshold}}" commandrate="{{.CommandRate}}" fakelag="no"
	localmax="5000" globalmax="5000" maxconnwarn="no" limit="10000" resolvehostnames="no" useident="no" maxchans="100">
<cidr ipv4clone="32" ipv6clone="128">
<class name="Everything" commands="*" privs="*" usermodes="*" chanmodes="*" snomasks="*">
<type name="NetAdmin" classes="Everything">
<oper name="{{.OperName}}" password="{{.OperPassword}}" host="*@*" type="NetAdmin">
<pid file="{{.Dir}}/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{{.Dir}}/inspircd.log">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes" hostintopic="yes" pingwarning="15" splitwhois="no">
<security hideserver="" userstats="Pu" customversion="" flatlinks="no" hidesplits="no" hideulines="no" hidebans="no" maxtargets="20">
<performance quietbursts="yes" softlimit="10000" somaxconn="1024" netbuffersize="10240" clonesonconnect="no">
<dns timeout="1">
<whowas groupsize="10" maxgroups="1000" maxkeep="1h">
<path moduledir="{{.Modules}}">
<module name="cap">
<module name="ircv3">
<module name="ircv3_batch">
<module name="ircv3_capnotify">
<module name="ircv3_ctctags">
<module name="ircv3_echomessage">
<module name="ircv3_labeledresponse">
{{if .Msgid}}<module name="ircv3_msgid">
{{end}}<module name="ircv3_servertime">
<module name="services_account">
<module name="ircv3_accounttag">
<module name="ircv3_invitenotify">
<module name="ircv3_chghost">
<module name="monitor">
<module name="namesx">
<module name="uhnames">
<module name="callerid">
<module name="setname">
<module name="chghost">
<module name="banexception">
<module name="inviteexception">
<module name="customprefix">
<customprefix name="halfop" letter="h" prefix="%" rank="20000" ranktoset="30000">
<module name="sanick">
<module name="sajoin">
{{if .ServicesPort}}<module name="spanningtree">
<bind address="127.0.0.1" port="{{.ServicesPort}}" type="servers">
<link name="{{.ServicesName}}" ipaddr="127.0.0.1" port="{{.ServicesPort}}" allowmask="127.0.0.0/8" sendpass="{{.LinkPassword}}" recvpass="{{.LinkPassword}}">
<uline server="{{.ServicesName}}" silent="yes">
<module name="sasl">
<sasl target="{{.ServicesName}}" requiressl="no">
<module name="sslinfo">
<sslinfo operonly="no">
{{end}}`))

// writeSelfSigned writes cert.pem and key.pem for 127.0.0.1/localhost.
func writeSelfSigned(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "irc.otrbridge.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "irc.otrbridge.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tls cert: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tls key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

func randomToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
