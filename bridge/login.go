package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

const (
	loginFlowID = "irc"

	authNone     = "none"
	authSASL     = "sasl"
	authNickServ = "nickserv"
	authCertFP   = "certfp"

	// How a certfp login uses its certificate.
	certFPExternal = "external" // SASL EXTERNAL while connecting
	certFPPresent  = "present"  // only present it; services log in by it

	stepNetwork  = "org.otrbridge.irc.network"
	stepAuth     = "org.otrbridge.irc.auth"
	stepPassword = "org.otrbridge.irc.password"
	stepCertFP   = "org.otrbridge.irc.certfp"
	stepComplete = "org.otrbridge.irc.complete"
)

// loginWait is how long the login waits for the first connection result.
const loginWait = 45 * time.Second

func (ic *IRCConnector) GetLoginFlows() []bridgev2.LoginFlow {
	return []bridgev2.LoginFlow{{
		Name:        "IRC nick",
		Description: "Connect to one of the configured IRC networks with a nick, optionally with SASL, NickServ or a client certificate (CertFP)",
		ID:          loginFlowID,
	}}
}

func (ic *IRCConnector) CreateLogin(ctx context.Context, user *bridgev2.User, flowID string) (bridgev2.LoginProcess, error) {
	if flowID != loginFlowID {
		return nil, fmt.Errorf("unknown login flow %q", flowID)
	}
	return &ircLogin{ic: ic, user: user}, nil
}

// ircLogin asks for network and nick, then the user's server password
// where the network asks for one, how to authenticate, then the password
// or the certificate; it connects once to check the result.
type ircLogin struct {
	ic       *IRCConnector
	user     *bridgev2.User
	override *bridgev2.UserLogin

	network, nick, auth, account string
	serverPassword               string
	// clientCert is the sealed certificate of a certfp login: the one the
	// login being replaced had, or a new one.
	clientCert string
}

var (
	_ bridgev2.LoginProcessUserInput    = (*ircLogin)(nil)
	_ bridgev2.LoginProcessWithOverride = (*ircLogin)(nil)
)

func (l *ircLogin) Start(ctx context.Context) (*bridgev2.LoginStep, error) {
	networks := make([]string, 0, len(l.ic.Config.Networks))
	for key := range l.ic.Config.Networks {
		networks = append(networks, key)
	}
	slices.Sort(networks)
	var desc []string
	for _, key := range networks {
		n := l.ic.Config.Networks[key]
		desc = append(desc, fmt.Sprintf("`%s` (%s)", key, n.DisplayName(key)))
	}
	return &bridgev2.LoginStep{
		Type:         bridgev2.LoginStepTypeUserInput,
		StepID:       stepNetwork,
		Instructions: "Networks you can connect to: " + strings.Join(desc, ", ") + ".",
		UserInputParams: &bridgev2.LoginUserInputParams{Fields: []bridgev2.LoginInputDataField{{
			Type:    bridgev2.LoginInputFieldTypeSelect,
			ID:      "network",
			Name:    "IRC network",
			Options: networks,
			Validate: func(s string) (string, error) {
				s = strings.ToLower(strings.TrimSpace(s))
				if l.ic.Config.Networks[s] == nil {
					return "", fmt.Errorf("%q is not one of the configured networks (%s)", s, strings.Join(networks, ", "))
				}
				if l.alreadyLoggedIn(s) {
					return "", errAlreadyLoggedIn
				}
				return s, nil
			},
		}, {
			Type: bridgev2.LoginInputFieldTypeUsername,
			ID:   "nick",
			Name: "nick",
			Validate: func(s string) (string, error) {
				s = strings.TrimSpace(s)
				return s, validateNick(s)
			},
		}}},
	}, nil
}

func (l *ircLogin) StartWithOverride(ctx context.Context, override *bridgev2.UserLogin) (*bridgev2.LoginStep, error) {
	l.override = override
	return l.Start(ctx)
}

func (l *ircLogin) Cancel() {}

func (l *ircLogin) SubmitUserInput(ctx context.Context, input map[string]string) (*bridgev2.LoginStep, error) {
	switch {
	case l.network == "":
		return l.submitNetwork(ctx, input)
	case l.auth == "":
		return l.submitAuth(ctx, input)
	case l.auth == authCertFP:
		return l.finish(ctx, "", input["certfp"] == certFPExternal)
	default:
		l.account = input["account"]
		return l.finish(ctx, input["password"], false)
	}
}

// errAlreadyLoggedIn: one login per (user, network).
var errAlreadyLoggedIn = errors.New("you are already logged in to this network; use `logout` first, or `relogin` to change nick or password")

// alreadyLoggedIn reports whether the user has another login on network
// (relogin of that same login is allowed).
func (l *ircLogin) alreadyLoggedIn(network string) bool {
	loginID := makeLoginID(network, l.user.MXID)
	existing := l.ic.Bridge.GetCachedUserLoginByID(loginID)
	return existing != nil && (l.override == nil || l.override.ID != loginID)
}

func (l *ircLogin) submitNetwork(ctx context.Context, input map[string]string) (*bridgev2.LoginStep, error) {
	network, nick := input["network"], input["nick"]
	if l.ic.Config.Networks[network] == nil {
		return nil, fmt.Errorf("network %q is not configured", network)
	}
	if err := validateNick(nick); err != nil {
		return nil, err
	}
	if l.alreadyLoggedIn(network) {
		return nil, errAlreadyLoggedIn
	}
	l.network, l.nick = network, nick
	options := []string{authNone, authSASL, authNickServ}
	instructions := "How should the bridge identify you? `none` (no password), `sasl` (SASL PLAIN with an account and password), `nickserv` (IDENTIFY to NickServ after connecting)"
	if l.ic.Config.Networks[network].UseTLS() {
		options = append(options, authCertFP)
		instructions += " or `certfp` (a client certificate the bridge makes for you, no password)"
	}
	var fields []bridgev2.LoginInputDataField
	if l.ic.Config.Networks[network].AskServerPassword {
		fields = append(fields, bridgev2.LoginInputDataField{
			Type:        bridgev2.LoginInputFieldTypePassword,
			ID:          "server_password",
			Name:        "server password",
			Description: "This network asks each user for their own server password (for a bouncer, e.g. `user/network:password`).",
			Validate:    validatePassword,
		})
		instructions = "First your server password, then: " + instructions
		if warning := l.redactionWarning(ctx); warning != "" {
			instructions = warning + "\n\n" + instructions
		}
	}
	fields = append(fields, bridgev2.LoginInputDataField{
		Type:    bridgev2.LoginInputFieldTypeSelect,
		ID:      "auth",
		Name:    "authentication",
		Options: options,
		Validate: func(s string) (string, error) {
			s = strings.ToLower(strings.TrimSpace(s))
			if !slices.Contains(options, s) {
				return "", fmt.Errorf("answer %s", strings.Join(options, ", "))
			}
			return s, nil
		},
	})
	return &bridgev2.LoginStep{
		Type:            bridgev2.LoginStepTypeUserInput,
		StepID:          stepAuth,
		Instructions:    instructions + ".",
		UserInputParams: &bridgev2.LoginUserInputParams{Fields: fields},
	}, nil
}

// validatePassword accepts a password that fits on one IRC line.
func validatePassword(s string) (string, error) {
	if s == "" || strings.ContainsAny(s, "\r\n\x00") {
		return "", fmt.Errorf("the password must not be empty or contain line breaks")
	}
	return s, nil
}

func (l *ircLogin) submitAuth(ctx context.Context, input map[string]string) (*bridgev2.LoginStep, error) {
	l.auth = input["auth"]
	l.serverPassword = input["server_password"]
	switch l.auth {
	case authNone:
		return l.finish(ctx, "", false)
	case authCertFP:
		return l.certFPStep()
	}
	fields := []bridgev2.LoginInputDataField{}
	if l.auth == authSASL {
		fields = append(fields, bridgev2.LoginInputDataField{
			Type:        bridgev2.LoginInputFieldTypeUsername,
			ID:          "account",
			Name:        "SASL account name",
			Description: "Without one (`skip`), your nick is used.",
			Optional:    true,
			Validate: func(s string) (string, error) {
				s = strings.TrimSpace(s)
				if strings.ContainsAny(s, " \r\n\x00") {
					return "", fmt.Errorf("the account name must not contain spaces or line breaks")
				}
				return s, nil
			},
		})
	}
	fields = append(fields, bridgev2.LoginInputDataField{
		Type:     bridgev2.LoginInputFieldTypePassword,
		ID:       "password",
		Name:     "password",
		Validate: validatePassword,
	})
	instructions := "Your password message will be removed from this room as soon as the bridge has read it."
	if warning := l.redactionWarning(ctx); warning != "" {
		instructions = warning
	}
	return &bridgev2.LoginStep{
		Type:            bridgev2.LoginStepTypeUserInput,
		StepID:          stepPassword,
		Instructions:    instructions,
		UserInputParams: &bridgev2.LoginUserInputParams{Fields: fields},
	}, nil
}

// redactionWarning explains, before the password is typed, that the bot
// cannot remove it from the control room when it lacks the power to redact
// (a room the user created gives the bot power level 0). It is empty when
// the bot can redact.
func (l *ircLogin) redactionWarning(ctx context.Context) string {
	room := l.user.ManagementRoom
	if room == "" {
		return ""
	}
	can, err := l.botCanRedact(ctx, room)
	if err == nil && can {
		return ""
	}
	bot := l.ic.Bridge.Bot.GetMXID()
	return fmt.Sprintf("⚠️ I cannot remove your password message from this room: my power level here is too low to redact "+
		"other people's messages (this happens in rooms you created). To let me do it, give %s the Moderator role "+
		"(power level 50) in the room settings, or send `cancel` now and start `login` in a direct chat that I created. "+
		"If you send the password anyway, delete the message yourself afterwards.", bot)
}

func (l *ircLogin) botCanRedact(ctx context.Context, room id.RoomID) (bool, error) {
	levels, err := l.ic.Bridge.Matrix.GetPowerLevels(ctx, room)
	if err != nil {
		return false, err
	}
	return levels.GetUserLevel(l.ic.Bridge.Bot.GetMXID()) >= levels.Redact(), nil
}

// finish saves the login and connects. external: a certfp login logs in
// with SASL EXTERNAL (else it only presents the certificate).
func (l *ircLogin) finish(ctx context.Context, password string, external bool) (*bridgev2.LoginStep, error) {
	if l.ic.passwordKey == nil {
		return nil, errors.New("the bridge is not started")
	}
	loginID := makeLoginID(l.network, l.user.MXID)
	meta := &LoginMetadata{Network: l.network, Nick: l.nick}
	if password != "" {
		meta.Auth = l.auth
		if l.auth == authSASL {
			meta.SASLAccount = l.account
		}
		meta.Password = l.ic.passwordKey.SealString(password, string(loginID))
	}
	if l.serverPassword != "" {
		meta.ServerPassword = l.ic.passwordKey.SealString(l.serverPassword, serverPasswordAD(loginID))
	}
	// A certificate stays with the login (its fingerprint may be
	// registered with the account) whatever the new way to log in is.
	meta.ClientCert = l.clientCert
	if meta.ClientCert == "" && l.override != nil && l.override.ID == loginID {
		if old, ok := l.override.Metadata.(*LoginMetadata); ok {
			meta.ClientCert = old.ClientCert
		}
	}
	if l.auth == authCertFP && external {
		meta.Auth = authCertFP
	}
	return l.complete(ctx, loginID, meta)
}

func (l *ircLogin) complete(ctx context.Context, loginID networkid.UserLoginID, meta *LoginMetadata) (*bridgev2.LoginStep, error) {
	netName := l.ic.Config.Networks[l.network].DisplayName(l.network)
	ul, err := l.user.NewLogin(ctx, &database.UserLogin{
		ID:         loginID,
		RemoteName: fmt.Sprintf("%s on %s", l.nick, netName),
		Metadata:   meta,
	}, &bridgev2.NewLoginParams{DeleteOnConflict: false})
	if err != nil {
		return nil, fmt.Errorf("saving the login: %w", err)
	}
	client := ul.Client.(*IRCClient)
	result := make(chan ircconn.StateChanged, 1)
	client.setLoginWatcher(result)
	ul.Client.Connect(ul.Log.WithContext(l.ic.Bridge.BackgroundCtx))

	instructions := fmt.Sprintf("Saved. Still connecting to %s as %s; you will get a notice here when the connection is up.", netName, l.nick)
	select {
	case st := <-result:
		switch st.State {
		case ircconn.Connected:
			instructions = fmt.Sprintf("Connected to %s as %s. Start a chat with `pm <nick>`, or wait for someone to message you.", netName, st.Nick)
		case ircconn.BadCredentials:
			ul.Delete(ctx, status.BridgeState{StateEvent: status.StateLoggedOut, Reason: "BAD_CREDENTIALS"}, bridgev2.DeleteOpts{LogoutRemote: true})
			return nil, fmt.Errorf("%s rejected the login: %s%s", netName, errText(st.Err, "bad credentials"), l.postRedactionWarning(ctx, meta))
		case ircconn.Fatal:
			ul.Delete(ctx, status.BridgeState{StateEvent: status.StateLoggedOut, Reason: "IRC_FATAL"}, bridgev2.DeleteOpts{LogoutRemote: true})
			return nil, fmt.Errorf("%s refused the connection: %s%s", netName, errText(st.Err, "refused"), l.postRedactionWarning(ctx, meta))
		case ircconn.TransientDisconnect:
			instructions = fmt.Sprintf("Saved, but connecting to %s failed for now (%s). The bridge keeps retrying.", netName, errText(st.Err, "connection failed"))
		}
	case <-time.After(loginWait):
	case <-ctx.Done():
	}
	client.setLoginWatcher(nil)
	// Kept with the login now; a login refused above keeps it pending, so
	// that trying again shows the same certificate.
	l.ic.pendingCerts.drop(loginID)
	return &bridgev2.LoginStep{
		Type:           bridgev2.LoginStepTypeComplete,
		StepID:         stepComplete,
		Instructions:   instructions + l.postRedactionWarning(ctx, meta),
		CompleteParams: &bridgev2.LoginCompleteParams{UserLoginID: ul.ID, UserLogin: ul},
	}, nil
}

// postRedactionWarning repeats, after the password was sent, that it is
// still visible when the bot could not redact it.
func (l *ircLogin) postRedactionWarning(ctx context.Context, meta *LoginMetadata) string {
	if (meta.Password == "" && meta.ServerPassword == "") || l.user.ManagementRoom == "" {
		return ""
	}
	if can, err := l.botCanRedact(ctx, l.user.ManagementRoom); err == nil && can {
		return ""
	}
	return "\n\n⚠️ Your password message is still visible in this room because I lack the power to redact it: delete it yourself."
}
