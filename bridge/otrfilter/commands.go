package otrfilter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/bridge"
	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// CommandInfo describes one OTR command for the bridge's command layer.
type CommandInfo struct {
	Name    string
	Aliases []string
	// Args in a DM portal; in the control room peer commands take the
	// peer's nick first (PeerFirst).
	Args        string
	Description string
	// PeerFirst: in the control room the first argument is a nick.
	PeerFirst bool
	// Secret: the command carries an SMP secret; redact the Matrix event
	// that carried it as soon as it is read (or say that you cannot).
	Secret bool
}

// Commands lists the OTR commands (irssi's /otr names, with bitlbee and
// weechat aliases).
var Commands = []CommandInfo{
	{Name: "init", Aliases: []string{"start"}, Description: "Start a private (OTR) conversation.", PeerFirst: true},
	{Name: "finish", Aliases: []string{"end"}, Args: "[*]", Description: "End the private conversation (`*`: all of them) and continue unencrypted.", PeerFirst: true},
	{Name: "refresh", Description: "Renew the keys of the private conversation.", PeerFirst: true},
	{Name: "info", Aliases: []string{"otr-status"}, Description: "Show the state, both fingerprints, the session ID and the policy.", PeerFirst: true},
	{Name: "contexts", Description: "List every peer and peer instance with their OTR state."},
	{Name: "fingerprint", Description: "Show your own OTR fingerprint."},
	{Name: "trust", Args: "[fingerprint]", Description: "Mark the peer's fingerprint (the current one, or the one given) as verified by you.", PeerFirst: true},
	{Name: "distrust", Args: "[fingerprint]", Description: "Withdraw trust in the peer's fingerprint.", PeerFirst: true},
	{Name: "forget", Args: "[fingerprint]", Description: "Delete a fingerprint of the peer from the trust store (not the one in use).", PeerFirst: true},
	{Name: "auth", Aliases: []string{"smp"}, Args: "<secret>", Description: "Verify the peer with a secret you both know (SMP), or answer their request.", PeerFirst: true, Secret: true},
	{Name: "authq", Aliases: []string{"smpq"}, Args: "<question> <secret>", Description: "Verify the peer with a question and its answer (the question ends with `?` or is one word).", PeerFirst: true, Secret: true},
	{Name: "authabort", Description: "Abort a verification in progress.", PeerFirst: true},
	{Name: "policy", Args: "[default] [never|manual|opportunistic|always|reset]", Description: "Show or set the OTR policy for this peer, or your default with `default`.", PeerFirst: true},
	{Name: "genkey", Args: "[confirm]", Description: "Replace your OTR key (your fingerprint changes; peers must verify you again)."},
	{Name: "import-key", Description: "Import your key and fingerprints from libotr (irssi, Pidgin, HexChat): send the files otr.private_key and otr.fingerprints here."},
	{Name: "export-fingerprints", Description: "Show the trust store in libotr's fingerprints file format."},
}

// ErrUnknownCommand is returned for a name that is not an OTR command.
var ErrUnknownCommand = errors.New("unknown OTR command; try `help`")

func lookupCommand(name string) (CommandInfo, bool) {
	name = strings.ToLower(name)
	for _, c := range Commands {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c, true
		}
	}
	return CommandInfo{}, false
}

// IsSecretCommand reports whether the command carries an SMP secret.
func IsSecretCommand(name string) bool {
	c, ok := lookupCommand(name)
	return ok && c.Secret
}

// Help returns the help text of all commands, or of one.
func Help(name string) string {
	var b strings.Builder
	for _, c := range Commands {
		if name != "" && c.Name != name && !slices.Contains(c.Aliases, name) {
			continue
		}
		fmt.Fprintf(&b, "`%s", c.Name)
		if c.Args != "" {
			fmt.Fprintf(&b, " %s", c.Args)
		}
		b.WriteString("`")
		if len(c.Aliases) > 0 {
			fmt.Fprintf(&b, " (also `%s`)", strings.Join(c.Aliases, "`, `"))
		}
		fmt.Fprintf(&b, ": %s\n", c.Description)
	}
	if b.Len() == 0 {
		return ErrUnknownCommand.Error()
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Command runs an OTR command typed in the DM portal of link ("!otr init"
// → name "init"). The reply is for the user; an error is for the user too
// and never contains secrets.
func (f *Filter) Command(ctx context.Context, link bridge.PeerLink, name string, args []string) (string, error) {
	c, ok := lookupCommand(name)
	if !ok {
		return "", ErrUnknownCommand
	}
	// "policy <nick> <policy>" names another peer; one unknown word is a
	// misspelt policy.
	if c.Name == "policy" && len(args) == 2 && f.cfg.Resolve != nil && !isPolicyWord(args[0]) && args[0] != "default" {
		other, err := f.cfg.Resolve(ctx, args[0])
		if err != nil {
			return "", fmt.Errorf("no chat with %s: %w", args[0], err)
		}
		link, args = other, args[1:]
	}
	return f.run(ctx, c, link, args)
}

// ControlCommand runs an OTR command typed in the control room; commands
// about a peer take its nick first ("init bob", "finish *").
func (f *Filter) ControlCommand(ctx context.Context, name string, args []string) (string, error) {
	c, ok := lookupCommand(name)
	if !ok {
		return "", ErrUnknownCommand
	}
	if !c.PeerFirst || c.Name == "finish" && len(args) > 0 && args[0] == "*" ||
		c.Name == "policy" && (len(args) == 0 || args[0] == "default") {
		return f.run(ctx, c, nil, args)
	}
	if len(args) == 0 {
		return "", fmt.Errorf("usage: `%s <nick> %s`", c.Name, c.Args)
	}
	if f.cfg.Resolve == nil {
		return "", errors.New("this command works in the direct chat with the peer")
	}
	link, err := f.cfg.Resolve(ctx, args[0])
	if err != nil {
		return "", fmt.Errorf("no chat with %s: %w", args[0], err)
	}
	return f.run(ctx, c, link, args[1:])
}

func (f *Filter) run(ctx context.Context, c CommandInfo, link bridge.PeerLink, args []string) (string, error) {
	switch c.Name {
	case "contexts":
		return f.cmdContexts(), nil
	case "fingerprint":
		id, err := f.waitIdentity(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Your OTR fingerprint on %s: %s", f.cfg.Network, id.key.Public().Fingerprint()), nil
	case "genkey":
		return f.cmdGenkey(ctx, args)
	case "import-key":
		return "Send your libotr private key file (otr.private_key; irssi keeps it in ~/.irssi/otr/, Pidgin in ~/.purple/) into this room, " +
			"then your fingerprints file (otr.fingerprints) if you want to keep your verified peers.", nil
	case "export-fingerprints":
		b, err := f.ExportFingerprints(ctx)
		if err != nil {
			return "", err
		}
		if len(b) == 0 {
			return "No fingerprints stored yet.", nil
		}
		// Replies are rendered as Markdown: only a code block keeps the
		// file's tabs, empty trust fields and nicks with _ or * intact.
		return "Your fingerprints in libotr's format (save as otr.fingerprints):\n```\n" + string(b) + "```", nil
	case "finish":
		if len(args) > 0 && args[0] == "*" {
			return f.cmdFinishAll(ctx), nil
		}
	case "policy":
		if link == nil || len(args) > 0 && args[0] == "default" {
			if len(args) > 0 {
				args = args[1:]
			}
			return f.cmdPolicyDefault(ctx, args)
		}
	}
	if link == nil {
		return "", errors.New("this command needs a peer")
	}
	p := f.peer(link)
	switch c.Name {
	case "policy":
		return f.cmdPolicyPeer(ctx, p, link, args)
	case "info":
		return f.cmdInfo(ctx, p, link)
	case "trust", "distrust", "forget":
		return f.cmdTrust(ctx, p, link, c.Name, args)
	}
	// The rest drive the engine.
	id, err := f.waitIdentity(ctx)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		p.mu.Unlock()
		return "", fmt.Errorf("could not look up the OTR policy: %w", err)
	}
	fx := p.restartEffects(ctx)
	if p.policy == otr.PolicyNever && c.Name != "finish" {
		p.unlockInOrder(ctx, fx)
		if f.bypass(link.Nick()) {
			return "", fmt.Errorf("%s is a service (or a channel): it never gets OTR", link.Nick())
		}
		return "", fmt.Errorf("OTR is off for %s (policy never); `!otr policy manual` or `opportunistic` turns it on", link.Nick())
	}
	conv, err := p.ensureConv(ctx, id)
	if err != nil {
		p.unlockInOrder(ctx, fx)
		return "", fmt.Errorf("could not set up OTR: %w", err)
	}
	now := f.clock.Now()
	var (
		out   otr.Output
		reply string
	)
	nick := link.Nick()
	switch c.Name {
	case "init":
		out, err = conv.Start(now)
		p.akePendingUntil = now.Add(f.cfg.HoldTimeout)
		reply = fmt.Sprintf("Asked %s for a private conversation; a notice follows when it is up. Until then your messages wait.", nick)
	case "refresh":
		if conv.Info().State != otr.Encrypted {
			err = fmt.Errorf("there is no private conversation with %s to refresh; `!otr init` starts one", nick)
			break
		}
		out, err = conv.Start(now)
		reply = fmt.Sprintf("Renewing the keys of the private conversation with %s…", nick)
	case "finish":
		was := conv.Info().State
		out, err = conv.End(now)
		p.setRecovering(false)
		p.akePendingUntil = time.Time{}
		p.clearMarker(ctx)
		if was == otr.Plaintext {
			reply = fmt.Sprintf("There was no private conversation with %s; messages are sent unencrypted.", nick)
		} else {
			reply = fmt.Sprintf("Ended the private conversation with %s.", nick)
		}
	case "auth", "authq":
		out, reply, err = p.cmdAuth(now, conv, c.Name, args)
	case "authabort":
		out, err = conv.AbortSMP(now)
		reply = fmt.Sprintf("Verification with %s aborted.", nick)
	}
	if err != nil {
		p.unlockInOrder(ctx, fx)
		if errors.Is(err, otr.ErrNotPrivate) {
			return "", fmt.Errorf("there is no private conversation with %s; `!otr init` starts one", nick)
		}
		return "", err
	}
	p.enqueue(f.ctx, ircconn.Privmsg, out.Wire, nil)
	out.Wire = nil
	fx = append(fx, p.handleOutput(ctx, now, out, nil, false)...)
	p.unlockInOrder(ctx, fx)
	return reply, nil
}

// cmdAuth starts or answers SMP. Called with mu held.
func (p *peer) cmdAuth(now time.Time, conv *otr.Conversation, name string, args []string) (otr.Output, string, error) {
	nick := p.link.Nick()
	if conv.Info().State != otr.Encrypted {
		return otr.Output{}, "", otr.ErrNotPrivate
	}
	var question, secret string
	if name == "authq" {
		if len(args) < 2 {
			return otr.Output{}, "", errors.New("usage: `authq <question> <secret>` (a question of several words ends with `?`)")
		}
		i := slices.IndexFunc(args, func(a string) bool { return strings.HasSuffix(a, "?") })
		if i < 0 || i == len(args)-1 {
			i = 0
		}
		question, secret = strings.Join(args[:i+1], " "), strings.Join(args[i+1:], " ")
	} else {
		if len(args) == 0 {
			return otr.Output{}, "", errors.New("usage: `auth <secret>`")
		}
		secret = strings.Join(args, " ")
	}
	if name == "auth" && conv.Info().SMP == otr.SMPWaitingForSecret {
		out, err := conv.AnswerSMP(now, []byte(secret))
		return out, fmt.Sprintf("Answered %s's verification request…", nick), err
	}
	out, err := conv.StartSMP(now, question, []byte(secret))
	return out, fmt.Sprintf("Asked %s to verify with your secret; a notice follows with the result.", nick), err
}

func isPolicyWord(s string) bool {
	return db.Policy(strings.ToLower(s)).Valid() || strings.EqualFold(s, "reset")
}
