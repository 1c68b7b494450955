package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// Networks of TestLoginTransports.
const (
	netCert    = "certnet"
	netTor     = "tornet"
	netBouncer = "bouncer"
)

// TestLoginTransports logs in the way privacy-minded users ask for, against
// the real servers: CertFP with SASL EXTERNAL (InspIRCd computes the
// fingerprint of the certificate the bridge made and a linked services
// stand-in checks it), a network reached only through a SOCKS5 proxy
// (microsocks; the IRC port records who connects), and a per-user server
// password (an InspIRCd that demands one, as a bouncer does). Afterwards no
// password or key is in the bridge's logs or database.
func TestLoginTransports(t *testing.T) {
	needPeers(t)
	irc := teststack.InspIRCd(t, teststack.IRCOptions{TLS: true, Services: true})
	svc := teststack.StartServices(t, irc, teststack.ServicesOptions{})
	ircPort := teststack.WatchTCP(t, irc.Addr())
	px := teststack.SOCKS5(t, teststack.SOCKS5Options{})
	bouncerPassword := "bouncer-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	bouncer := teststack.InspIRCd(t, teststack.IRCOptions{Password: bouncerPassword})

	e := &env{dbKind: "sqlite", irc: irc}
	e.hs = teststack.Dendrite(t, teststack.HSOptions{})
	e.bridge = teststack.StartBridge(t, teststack.BridgeOptions{
		Binary: bridgeBinary(t),
		HS:     e.hs,
		Networks: []teststack.BridgeNetwork{
			{Key: netCert, Name: "CertFP IRC", IRC: irc, TLS: true},
			// A host name only the proxy resolves, and the watched port.
			{Key: netTor, Name: "Tor IRC", IRC: irc, Address: "localhost", Port: ircPort.Port, Proxy: px.URL(), ProxyOnly: true},
			{Key: netBouncer, Name: "Bouncer", IRC: bouncer, AskServerPassword: true},
		},
	})
	e.remember(bouncerPassword)
	// The certificates' private keys (PEM) never reach the logs or the
	// database in the clear.
	e.remember("PRIVATE KEY-----")

	t.Run("CertFP", func(t *testing.T) { transportCertFP(t, e, svc) })
	t.Run("SOCKS5Only", func(t *testing.T) { transportSOCKS5(t, e, ircPort, px) })
	t.Run("ServerPassword", func(t *testing.T) { transportServerPassword(t, e, bouncerPassword) })
	t.Run("IdentifiedRename", func(t *testing.T) { transportIdentifiedRename(t, e, svc) })
	t.Run("LogPrivacy", func(t *testing.T) { e.checkLogs(t) })
	t.Run("DatabasePrivacy", func(t *testing.T) { e.checkDatabase(t) })
}

var sha256Fingerprint = regexp.MustCompile("SHA-256[^`]*`([0-9a-f]{64})`")

// certFPLogin starts `login` with certfp on netCert and returns the SHA-256
// fingerprint the bridge shows; the next answer is external or present.
func certFPLogin(t *testing.T, u *user, nick string) string {
	t.Helper()
	id := u.say(t, "login irc "+netCert+" "+nick)
	u.replyTo(t, id, "enter your authentication", wait)
	id = u.say(t, "certfp")
	ev := u.replyTo(t, id, "SHA-256", wait)
	m := sha256Fingerprint.FindStringSubmatch(ev.Body())
	if m == nil {
		t.Fatalf("no SHA-256 fingerprint in %q", ev.Body())
	}
	u.replyTo(t, id, "enter your certificate use", wait)
	return m[1]
}

// transportCertFP: the bridge makes a certificate and shows it; SASL
// EXTERNAL fails while the account does not know it, trying again shows
// the same certificate, and after NickServ's CERT ADD (the stand-in's
// SetAccount) the login succeeds with the fingerprint InspIRCd computed.
func transportCertFP(t *testing.T, e *env, svc *teststack.Services) {
	u := e.newUser(t, "")
	nick := e.unique("cert")
	fp := certFPLogin(t, u, nick)
	id := u.say(t, "external")
	u.replyTo(t, id, "rejected the login", longWait)

	if again := certFPLogin(t, u, nick); again != fp {
		t.Fatalf("trying again showed another certificate: %s, then %s", fp, again)
	}
	account := "acct" + nick
	svc.SetAccount(account, teststack.ServiceAccount{CertFP: fp})
	id = u.say(t, "external")
	u.replyTo(t, id, "Connected to", longWait)
	u.nick, u.network = nick, netCert

	var last teststack.SASLAttempt
	for _, a := range svc.Attempts() {
		last = a
	}
	if last.Mechanism != "EXTERNAL" || !last.OK || last.Account != account || last.CertFP != fp {
		t.Errorf("services saw %+v, want a successful EXTERNAL login to %s with %s", last, account, fp)
	}
	// `certificate` shows the same certificate, for CERT ADD elsewhere.
	if rep := u.command(t, "certificate"); !strings.Contains(rep.Body(), fp) {
		t.Errorf("certificate shows %q, want %s", rep.Body(), fp)
	}
	// A restart opens the sealed certificate again and logs in with it.
	before := len(svc.Attempts())
	e.bridge.Restart(t)
	deadline := time.Now().Add(longWait)
	for {
		a := svc.Attempts()
		if len(a) > before && a[len(a)-1].OK && a[len(a)-1].CertFP == fp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no EXTERNAL login with %s after the restart: %+v", fp, a[before:])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// transportIdentifiedRename: the rename suggestions of testIdentHostGuess
// say what the network's services report (InspIRCd with linked services:
// the account-tag on a peer's messages, WHOX's account field), and stay
// suggestions. frank is logged in to his account with SASL; mallory, with
// frank's user name and host, is not: the suggestion after frank's quit
// says so. frank, back on his account, renames where the bridge cannot see
// it: the suggestion says both nicks are on the same account, and the chat
// still moves only on `follow`.
func transportIdentifiedRename(t *testing.T, e *env, svc *teststack.Services) {
	u := e.newUser(t, "")
	u.login(t, netCert, e.unique("mx"))
	ident := e.unique("frank")
	account, password := ident+"-acct", "pw-"+ident
	e.remember(password)
	svc.SetAccount(account, teststack.ServiceAccount{Password: password})
	frankOpts := teststack.IRCClientOptions{User: ident, SASL: &teststack.SASLPlain{Account: account, Password: password}}
	addr := e.irc.Addr()
	frankNick := ident
	frank := teststack.DialIRC(t, addr, frankNick, frankOpts)
	room := u.portalFromIRC(t, frank, e.text("hello from identified frank"))
	mallory := teststack.DialIRC(t, addr, e.unique("mallory"), teststack.IRCClientOptions{User: ident})

	frank.Quit("bye")
	s := u.notice(t, room, "might now be "+mallory.Nick(), wait)
	if want := fmt.Sprintf("%s was identified to services as %q; %s is not identified.", frankNick, account, mallory.Nick()); !strings.Contains(s.Body(), want) {
		t.Errorf("the suggestion of an unidentified user does not say so: %q, want %q in it", s.Body(), want)
	}
	mallory.Quit("done")

	frank = teststack.DialIRC(t, addr, frankNick, frankOpts)
	back := e.text("identified frank is back")
	frank.Privmsg(u.nick, back)
	if _, err := u.mx.WaitMessage(wait, room, e.ghost(u.network, frankNick), func(ev teststack.MatrixEvent) bool { return ev.Body() == back }); err != nil {
		t.Fatalf("frank's message after his return is not in his chat: %v", err)
	}
	renamed := e.unique("frankly")
	if err := frank.SetNick(renamed); err != nil {
		t.Fatal(err)
	}
	s = u.notice(t, room, "might now be "+renamed, wait)
	if want := fmt.Sprintf("Both are identified to the network's services as %q.", account); !strings.Contains(s.Body(), want) {
		t.Errorf("the suggestion of the same account does not say so: %q, want %q in it", s.Body(), want)
	}
	if !strings.Contains(s.Body(), "guess") {
		t.Errorf("the suggestion does not say it is a guess: %s", s.Body())
	}
	out := e.text("to frank before follow")
	id := u.sendPortal(t, room, out)
	if st := u.messageStatus(t, room, id, wait); st.Str("status") == "SUCCESS" {
		t.Errorf("the message to frank's old nick reported SUCCESS")
	}
	for _, l := range frank.Lines() {
		if strings.Contains(l.Raw, out) {
			t.Errorf("the renamed frank got the message before follow: %.80q", l.Raw)
		}
	}
	follow := u.portalCommand(t, room, "follow "+renamed, "now goes to "+renamed)
	if want := fmt.Sprintf("%s was identified to the network's services as %q.", frankNick, account); !strings.Contains(follow.Body(), want) {
		t.Errorf("the notice after follow: %q, want %q in it", follow.Body(), want)
	}
}

// transportSOCKS5: a network marked proxy_only is reached through the proxy
// alone: the IRC port sees only the proxy's address, and the proxy was
// given the host name to resolve.
func transportSOCKS5(t *testing.T, e *env, ircPort *teststack.TCPWatch, px *teststack.SOCKS5Proxy) {
	u := e.newUser(t, "")
	u.login(t, netTor, e.unique("tor"))
	peers := ircPort.Peers()
	if len(peers) == 0 {
		t.Fatal("the watched IRC port saw no connection")
	}
	for _, p := range peers {
		if p != px.BindAddr {
			t.Errorf("the IRC port was reached from %s, not only through the proxy (%s): %v", p, px.BindAddr, peers)
		}
	}
	want := "localhost:" + strconv.Itoa(ircPort.Port)
	for _, target := range px.Targets() {
		if target != want {
			t.Errorf("the proxy was asked for %s, want the unresolved %s", target, want)
		}
	}
}

// transportServerPassword: a network that asks each user for a server
// password: the login asks for it first, the message is redacted, and the
// server accepts the connection.
func transportServerPassword(t *testing.T, e *env, password string) {
	u := e.newUser(t, "")
	id := u.say(t, "login irc "+netBouncer+" "+e.unique("bnc"))
	u.replyTo(t, id, "enter your server password", wait)
	pwID := u.say(t, password)
	u.replyTo(t, pwID, "enter your authentication", wait)
	id = u.say(t, "none")
	u.replyTo(t, id, "Connected to", longWait)
	if _, err := u.mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		return ev.Type == "m.room.redaction" && ev.RoomID == u.control && ev.Str("redacts") == pwID
	}); err != nil {
		t.Errorf("the server password message was not redacted: %v", err)
	}
}
