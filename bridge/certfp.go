package bridge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// CertFP: each login can have its own TLS client certificate, made by the
// bridge. IRC services know an account by the certificate's fingerprint
// (NickServ CERT ADD), and the bridge then logs in with SASL EXTERNAL, no
// password stored. The private key is sealed like the passwords, bound to
// the login ID. Once a login has a certificate it is presented on every
// TLS connection of that login, whatever else the login uses, so that it
// can be registered while logged in another way.

var errCertUnreadable = errors.New("the stored client certificate cannot be decrypted (was network.secret changed?); log in again")

// pendingCerts holds the certificates made during logins that have not
// been saved yet, by login ID, so that trying again shows the same
// fingerprint (which the user may have registered meanwhile). They live
// until the login is saved or the bridge restarts.
type pendingCerts struct {
	mu    sync.Mutex
	certs map[networkid.UserLoginID]string
}

func (p *pendingCerts) get(id networkid.UserLoginID) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.certs[id]
}

func (p *pendingCerts) put(id networkid.UserLoginID, sealed string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.certs == nil {
		p.certs = make(map[networkid.UserLoginID]string)
	}
	p.certs[id] = sealed
}

func (p *pendingCerts) drop(id networkid.UserLoginID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.certs, id)
}

// newClientCert makes a certificate for a login and returns it sealed.
func (ic *IRCConnector) newClientCert(loginID networkid.UserLoginID) (string, error) {
	cert, err := ircconn.NewClientCertificate()
	if err != nil {
		return "", err
	}
	pemData, err := ircconn.MarshalClientCertificate(cert)
	if err != nil {
		return "", err
	}
	return ic.certKey.SealString(string(pemData), string(loginID)), nil
}

// openClientCert opens a login's sealed certificate.
func (ic *IRCConnector) openClientCert(loginID networkid.UserLoginID, sealed string) (tls.Certificate, error) {
	pemData, err := ic.certKey.OpenString(sealed, string(loginID))
	if err != nil {
		return tls.Certificate{}, errCertUnreadable
	}
	cert, err := ircconn.ParseClientCertificate([]byte(pemData))
	if err != nil {
		return tls.Certificate{}, errCertUnreadable
	}
	return cert, nil
}

// certFingerprints returns the fingerprints of a login's sealed
// certificate.
func (ic *IRCConnector) certFingerprints(loginID networkid.UserLoginID, sealed string) (ircconn.Fingerprints, error) {
	cert, err := ic.openClientCert(loginID, sealed)
	if err != nil {
		return ircconn.Fingerprints{}, err
	}
	return ircconn.CertFingerprints(cert)
}

// fingerprintText shows both fingerprints and which networks use which.
func fingerprintText(fps ircconn.Fingerprints) string {
	return fmt.Sprintf("* SHA-256 (InspIRCd, UnrealIRCd, Ergo, most services): `%s`\n"+
		"* SHA-512 (Solanum networks such as Libera.Chat): `%s`", fps.SHA256, fps.SHA512)
}

// certFPStep shows the certificate of a certfp login (the one the login
// already has, or a new one) and asks how to use it.
func (l *ircLogin) certFPStep() (*bridgev2.LoginStep, error) {
	loginID := makeLoginID(l.network, l.user.MXID)
	sealed := l.ic.pendingCerts.get(loginID)
	if l.override != nil && l.override.ID == loginID {
		if old, ok := l.override.Metadata.(*LoginMetadata); ok && old.ClientCert != "" {
			sealed = old.ClientCert
		}
	}
	if sealed == "" {
		var err error
		if sealed, err = l.ic.newClientCert(loginID); err != nil {
			return nil, fmt.Errorf("making a client certificate: %w", err)
		}
		l.ic.pendingCerts.put(loginID, sealed)
	}
	fps, err := l.ic.certFingerprints(loginID, sealed)
	if err != nil {
		return nil, err
	}
	l.clientCert = sealed
	return &bridgev2.LoginStep{
		Type:   bridgev2.LoginStepTypeUserInput,
		StepID: stepCertFP,
		Instructions: "Your client certificate for " + l.ic.Config.Networks[l.network].DisplayName(l.network) + ":\n\n" + fingerprintText(fps) + "\n\n" +
			"Your account must know it before you can log in with it: from a client that is logged in to your account, send " +
			"`/msg NickServ CERT ADD <fingerprint>` with the fingerprint your network uses. (Or log in with `sasl` or " +
			"`nickserv` first and use the `certificate` command: the bridge then presents this certificate and NickServ's " +
			"`CERT ADD` without a fingerprint adds it.)\n\n" +
			"Then answer `external` to log in with it (SASL EXTERNAL), or `present` to only present it (networks " +
			"whose services log you in by the certificate after connecting, such as OFTC).",
		UserInputParams: &bridgev2.LoginUserInputParams{Fields: []bridgev2.LoginInputDataField{{
			Type:    bridgev2.LoginInputFieldTypeSelect,
			ID:      "certfp",
			Name:    "certificate use",
			Options: []string{certFPExternal, certFPPresent},
			Validate: func(s string) (string, error) {
				s = strings.ToLower(strings.TrimSpace(s))
				if s != certFPExternal && s != certFPPresent {
					return "", fmt.Errorf("answer %s or %s", certFPExternal, certFPPresent)
				}
				return s, nil
			},
		}}},
	}, nil
}

// serverPasswordAD binds a login's own server password to the login and
// to its place, apart from the account password sealed with the same key.
func serverPasswordAD(loginID networkid.UserLoginID) string {
	return string(loginID) + "\x00server_password"
}

// certificateCommand is not called "certfp": that is an answer in the
// login flow, and a command of the same name would take the answer.
var certificateCommand = &commands.FullHandler{
	Func: fnCertificate, Name: "certificate",
	Help: commands.HelpMeta{Section: HelpSectionIRC, Args: "[_network_]",
		Description: "Show your client certificate's fingerprints for `/msg NickServ CERT ADD` (makes the certificate if you have none)."},
	RequiresLogin: true, RequiresLoginPermission: true,
}

// fnCertificate shows the fingerprints of the login's certificate, making one
// first if the login has none (it is presented from the next connection).
func fnCertificate(ce *commands.Event) {
	if !inControlRoom(ce) {
		return
	}
	c, args := commandClient(ce, 0)
	if c == nil || !noExtraArgs(ce, args, 0, "certificate [network]") {
		return
	}
	if !c.netCfg.UseTLS() {
		ce.Reply("%s is configured without TLS: client certificates need TLS.", c.networkName())
		return
	}
	made := false
	if c.meta.ClientCert == "" {
		sealed, err := c.ic.newClientCert(c.login.ID)
		if err != nil {
			ce.Reply("Could not make a certificate: %v", err)
			return
		}
		c.meta.ClientCert = sealed
		if err := c.login.Save(ce.Ctx); err != nil {
			c.meta.ClientCert = ""
			ce.Reply("Could not save the certificate: %v", err)
			return
		}
		made = true
	}
	fps, err := c.ic.certFingerprints(c.login.ID, c.meta.ClientCert)
	if err != nil {
		ce.Reply("%v", err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Your client certificate for %s:\n\n%s\n\n", c.networkName(), fingerprintText(fps))
	if made {
		b.WriteString("It is new: the bridge presents it from your next connection (`reconnect` now). ")
	}
	b.WriteString("To register it with your account, open a chat with NickServ (`pm NickServ`) while connected with it and logged in, " +
		"and send `CERT ADD` (or `CERT ADD <fingerprint>`, the one your network uses).")
	if c.meta.Auth != authCertFP {
		fmt.Fprintf(&b, " Then `relogin %s` and choose `certfp` and `external` to log in with the certificate instead of a password.", c.login.ID)
	}
	ce.Reply("%s", b.String())
}
