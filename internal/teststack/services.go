package teststack

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
)

// Services is a stand-in for a services package (Atheme, Anope) on the
// private InspIRCd (IRCOptions.Services): it links as a server over
// InspIRCd's own server protocol (1205) and answers the SASL requests
// InspIRCd relays to it, for the accounts it was given. Everything on the
// IRC side is InspIRCd's: the sasl capability appears because a services
// server linked, AUTHENTICATE is relayed by m_sasl, and the certificate
// fingerprint of SASL EXTERNAL is the one InspIRCd computed from the
// client's TLS certificate. Logging in sets the account (900, WHOIS 330,
// account-tag).
type Services struct {
	sid, ircSID string
	accounts    map[string]ServiceAccount
	mechs       []string

	wmu  sync.Mutex
	conn net.Conn

	mu       sync.Mutex
	sessions map[string]*saslSession // by user UID
	attempts []SASLAttempt
	pong     chan struct{}
}

// ServiceAccount is one services account: SASL PLAIN checks Password,
// SASL EXTERNAL compares CertFP (lower-case hex SHA-256 of the client
// certificate, as InspIRCd computes it with hash="sha256").
type ServiceAccount struct {
	Password string
	CertFP   string
}

// ServicesOptions configures StartServices.
type ServicesOptions struct {
	// Accounts by name.
	Accounts map[string]ServiceAccount
	// Mechanisms offered (the sasl capability's value); default EXTERNAL
	// and PLAIN.
	Mechanisms []string
}

// SASLAttempt is one finished SASL exchange.
type SASLAttempt struct {
	Mechanism string
	// CertFP is the fingerprint InspIRCd sent with the request ("" without
	// a client certificate).
	CertFP  string
	Account string // the account logged in to, "" on failure
	OK      bool
}

type saslSession struct {
	mech, certFP string
}

const servicesSID = "0SV"

// StartServices links the stand-in to s (started with IRCOptions.Services)
// and returns once InspIRCd offers SASL with its mechanisms.
func StartServices(t testing.TB, s *IRCServer, o ServicesOptions) *Services {
	t.Helper()
	sv, err := ConnectServices(s, o)
	if err != nil {
		t.Fatalf("services stand-in: %v", err)
	}
	t.Cleanup(sv.Close)
	return sv
}

// ConnectServices is StartServices without a testing.TB.
func ConnectServices(s *IRCServer, o ServicesOptions) (*Services, error) {
	if s.ServicesPort == 0 {
		return nil, errors.New("the server was started without IRCOptions.Services")
	}
	if len(o.Mechanisms) == 0 {
		o.Mechanisms = []string{"EXTERNAL", "PLAIN"}
	}
	sv := &Services{
		sid: servicesSID, accounts: maps.Clone(o.Accounts), mechs: o.Mechanisms,
		sessions: map[string]*saslSession{}, pong: make(chan struct{}, 1),
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.ServicesPort)), 5*time.Second)
	if err != nil {
		return nil, err
	}
	sv.conn = c
	r := bufio.NewReader(c)
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	sv.write("CAPAB START 1205")
	sv.write("CAPAB END")
	sv.write("SERVER " + s.ServicesName + " " + s.LinkPassword + " 0 " + sv.sid + " :otrbridge test services")
	// InspIRCd answers with its CAPAB lines, then its SERVER line once it
	// accepted ours; then it waits for our BURST.
	for sv.ircSID == "" {
		m, err := readMsg(r)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("link: %w", err)
		}
		switch m.Command {
		case "ERROR":
			c.Close()
			return nil, fmt.Errorf("link refused: %s", strings.Join(m.Params, " "))
		case "SERVER":
			if len(m.Params) < 4 {
				c.Close()
				return nil, errors.New("link: short SERVER line")
			}
			sv.ircSID = m.Params[3]
		}
	}
	sv.write("BURST " + strconv.FormatInt(time.Now().Unix(), 10))
	sv.write(":" + sv.sid + " METADATA * saslmechlist :" + strings.Join(o.Mechanisms, ","))
	sv.write(":" + sv.sid + " ENDBURST")
	// Lines are handled in order: the answer to this PING means the link,
	// and with it the sasl capability and its mechanisms, are in place.
	sv.write(":" + sv.sid + " PING " + sv.ircSID)
	_ = c.SetDeadline(time.Time{})
	go sv.serve(r)
	select {
	case <-sv.pong:
		return sv, nil
	case <-time.After(15 * time.Second):
		c.Close()
		return nil, errors.New("link: InspIRCd did not answer our PING")
	}
}

func readMsg(r *bufio.Reader) (ircmsg.Message, error) {
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return ircmsg.Message{}, err
		}
		m, err := ircmsg.ParseLine(strings.TrimRight(l, "\r\n"))
		if err == nil {
			return m, nil
		}
	}
}

func (sv *Services) write(line string) {
	sv.wmu.Lock()
	defer sv.wmu.Unlock()
	_ = sv.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = sv.conn.Write([]byte(line + "\r\n"))
}

// Close ends the link (InspIRCd then stops offering SASL).
func (sv *Services) Close() { sv.conn.Close() }

// Attempts returns the SASL exchanges finished so far.
func (sv *Services) Attempts() []SASLAttempt {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return append([]SASLAttempt(nil), sv.attempts...)
}

func (sv *Services) serve(r *bufio.Reader) {
	for {
		m, err := readMsg(r)
		if err != nil {
			return
		}
		switch m.Command {
		case "PING":
			if len(m.Params) > 0 && m.Params[0] == sv.sid {
				sv.write(":" + sv.sid + " PONG " + m.Source)
			}
		case "PONG":
			select {
			case sv.pong <- struct{}{}:
			default:
			}
		case "ENCAP":
			// ENCAP <target> SASL <uid> <agent> <mode> <data...>
			if len(m.Params) >= 5 && m.Params[1] == "SASL" {
				sv.sasl(m.Params[2], m.Params[4], m.Params[5:])
			}
		}
	}
}

// sasl handles one relayed SASL message for the user uid.
func (sv *Services) sasl(uid, mode string, data []string) {
	sv.mu.Lock()
	sess := sv.sessions[uid]
	sv.mu.Unlock()
	reply := func(mode, data string) {
		sv.write(":" + sv.sid + " ENCAP " + sv.ircSID + " SASL " + sv.sid + " " + uid + " " + mode + " " + data)
	}
	switch mode {
	case "S": // start: mechanism [fingerprint]
		if len(data) == 0 {
			return
		}
		sess = &saslSession{mech: strings.ToUpper(data[0])}
		if len(data) > 1 {
			sess.certFP = strings.ToLower(data[1])
		}
		if !containsString(sv.mechs, sess.mech) {
			sv.finish(uid, sess, "")
			reply("M", strings.Join(sv.mechs, ","))
			reply("D", "F")
			return
		}
		sv.mu.Lock()
		sv.sessions[uid] = sess
		sv.mu.Unlock()
		reply("C", "+")
	case "C": // client data
		if sess == nil || len(data) == 0 {
			return
		}
		account := sv.check(sess, data[0])
		sv.finish(uid, sess, account)
		if account == "" {
			reply("D", "F")
			return
		}
		sv.write(":" + sv.sid + " METADATA " + uid + " accountname :" + account)
		reply("D", "S")
	case "D": // the client aborted
		sv.mu.Lock()
		delete(sv.sessions, uid)
		sv.mu.Unlock()
	}
}

// SetAccount adds or replaces an account, as NickServ's REGISTER and
// CERT ADD do: later SASL attempts see it.
func (sv *Services) SetAccount(name string, a ServiceAccount) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.accounts == nil {
		sv.accounts = map[string]ServiceAccount{}
	}
	sv.accounts[name] = a
}

// check returns the account the client proved, or "".
func (sv *Services) check(sess *saslSession, data string) string {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var payload []byte
	if data != "+" {
		var err error
		if payload, err = base64.StdEncoding.DecodeString(data); err != nil {
			return ""
		}
	}
	switch sess.mech {
	case "EXTERNAL":
		if sess.certFP == "" {
			return ""
		}
		authzid := string(payload)
		for name, a := range sv.accounts {
			if a.CertFP != "" && strings.EqualFold(a.CertFP, sess.certFP) && (authzid == "" || strings.EqualFold(authzid, name)) {
				return name
			}
		}
	case "PLAIN":
		f := strings.Split(string(payload), "\x00")
		if len(f) != 3 {
			return ""
		}
		for name, a := range sv.accounts {
			if strings.EqualFold(name, f[1]) && a.Password != "" && a.Password == f[2] {
				return name
			}
		}
	}
	return ""
}

func (sv *Services) finish(uid string, sess *saslSession, account string) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	delete(sv.sessions, uid)
	sv.attempts = append(sv.attempts, SASLAttempt{Mechanism: sess.mech, CertFP: sess.certFP, Account: account, OK: account != ""})
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}
