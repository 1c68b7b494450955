package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge/otrsession"
	"github.com/otrbridge/otrbridge/db"
)

// The `!otr` commands (irssi's /otr names, with bitlbee and weechat
// aliases), one handler each. In a DM portal a command about a peer acts
// on the portal's peer; in the control room it takes the peer's nick first
// (`init bob`). The login's otrsession.Manager does the work.

// helpSectionOTR groups the OTR commands in `help`.
var helpSectionOTR = commands.HelpSection{Name: "Off-the-record messaging (in a DM: `!otr <command>`; here: `<command> <nick>`)", Order: 26}

func otrCommands() []commands.CommandHandler {
	return []commands.CommandHandler{
		otrCommand("init", []string{"start"}, "", "Start a private (OTR) conversation.", aboutPeer,
			func(o *otrCall) (string, error) {
				peer, err := o.peerOnly()
				if err != nil {
					return "", err
				}
				if o.ce.Portal != nil {
					return "", o.c.otr.InitInPortal(o.ctx, peer)
				}
				return o.c.otr.Init(o.ctx, peer)
			}),
		otrFinish,
		otrCommand("refresh", nil, "", "Renew the keys of the private conversation.", aboutPeer,
			func(o *otrCall) (string, error) {
				peer, err := o.peerOnly()
				if err != nil {
					return "", err
				}
				if o.ce.Portal != nil {
					return "", o.c.otr.RefreshInPortal(o.ctx, peer)
				}
				return o.c.otr.Refresh(o.ctx, peer)
			}),
		otrCommand("info", []string{"otr-status"}, "", "Show the state, both fingerprints, the session ID and the policy.", aboutPeer,
			func(o *otrCall) (string, error) {
				peer, err := o.peerOnly()
				if err != nil {
					return "", err
				}
				return o.c.otr.Info(o.ctx, peer)
			}),
		otrCommand("contexts", nil, "", "List every peer and peer instance with their OTR state.", aboutLogin,
			func(o *otrCall) (string, error) {
				if err := o.noArgs(o.args); err != nil {
					return "", err
				}
				return o.c.otr.Contexts(), nil
			}),
		otrCommand("fingerprint", nil, "", "Show your own OTR fingerprint.", aboutLogin,
			func(o *otrCall) (string, error) {
				if err := o.noArgs(o.args); err != nil {
					return "", err
				}
				return o.c.otr.Fingerprint(o.ctx)
			}),
		otrCommand("trust", nil, "[fingerprint]", "Mark the peer's fingerprint (the current one, or the one given) as verified by you.", aboutPeer,
			func(o *otrCall) (string, error) {
				peer, args, err := o.peer()
				if err != nil {
					return "", err
				}
				return o.c.otr.Trust(o.ctx, peer, strings.Join(args, ""))
			}),
		otrCommand("distrust", nil, "[fingerprint]", "Withdraw trust in the peer's fingerprint.", aboutPeer,
			func(o *otrCall) (string, error) {
				peer, args, err := o.peer()
				if err != nil {
					return "", err
				}
				return o.c.otr.Distrust(o.ctx, peer, strings.Join(args, ""))
			}),
		otrCommand("forget", nil, "[fingerprint]", "Delete a fingerprint of the peer from the trust store (not the one in use).", aboutPeer,
			func(o *otrCall) (string, error) {
				peer, args, err := o.peer()
				if err != nil {
					return "", err
				}
				return o.c.otr.Forget(o.ctx, peer, strings.Join(args, ""))
			}),
		otrCommand("auth", []string{"smp"}, "<secret>", "Verify the peer with a secret you both know (SMP), or answer their request.", withSecret,
			func(o *otrCall) (string, error) {
				peer, args, err := o.peer()
				if err != nil {
					return "", err
				}
				if len(args) == 0 {
					return "", errors.New("usage: `auth <secret>`")
				}
				return o.c.otr.AnswerSMP(o.ctx, peer, strings.Join(args, " "))
			}),
		otrCommand("authq", []string{"smpq"}, "<question> <secret>", "Verify the peer with a question and its answer: `\"question\" secret` (irssi), `[question] secret` (znc-otr), or a question ending with `?` (or of one word) and the secret.", withSecret,
			func(o *otrCall) (string, error) {
				peer, args, err := o.peer()
				if err != nil {
					return "", err
				}
				question, secret, err := splitQuestion(args)
				if err != nil {
					return "", err
				}
				return o.c.otr.StartSMP(o.ctx, peer, question, secret)
			}),
		otrCommand("authabort", nil, "", "Abort a verification in progress.", aboutPeer,
			func(o *otrCall) (string, error) {
				peer, err := o.peerOnly()
				if err != nil {
					return "", err
				}
				return o.c.otr.AbortSMP(o.ctx, peer)
			}),
		otrCommand("policy", nil, "[default] [never|manual|opportunistic|always|reset]", "Show or set the OTR policy for this peer, or your default with `default`.", aboutPeer,
			runPolicy),
		otrCommand("genkey", nil, "[confirm]", "Replace your OTR key (your fingerprint changes; peers must verify you again).", aboutLogin,
			func(o *otrCall) (string, error) {
				if len(o.args) > 1 || len(o.args) == 1 && !strings.EqualFold(o.args[0], "confirm") {
					return "", o.noArgs(o.args)
				}
				if len(o.args) == 0 {
					return "This replaces your OTR key on " + o.c.meta.Network + ": your fingerprint changes, every private conversation ends, " +
						"and your peers see a new-key warning and must verify you again. Run `!otr genkey confirm` to go ahead.", nil
				}
				return o.c.otr.GenerateKey(o.ctx)
			}),
		&commands.FullHandler{
			Name: "import-key",
			Help: commands.HelpMeta{Section: helpSectionOTR,
				Description: "Import your key and fingerprints from libotr (irssi, Pidgin, HexChat): send the files otr.private_key and otr.fingerprints here."},
			RequiresLogin: true, RequiresLoginPermission: true,
			Func: startImport,
		},
		otrCommand("export-fingerprints", nil, "", "Show the trust store in libotr's fingerprints file format.", aboutLogin,
			func(o *otrCall) (string, error) {
				if err := o.noArgs(o.args); err != nil {
					return "", err
				}
				b, err := o.c.otr.ExportFingerprints(o.ctx)
				if err != nil {
					return "", err
				}
				return exportReply(b), nil
			}),
	}
}

// otrFinish also answers `!otr disconnect` in a DM portal (fnDisconnect).
var otrFinish = otrCommand("finish", []string{"end"}, "[*]", "End the private conversation (`*`: all of them) and continue unencrypted.", aboutPeer,
	func(o *otrCall) (string, error) {
		if len(o.args) == 1 && o.args[0] == "*" {
			return o.c.otr.FinishAll(o.ctx), nil
		}
		peer, err := o.peerOnly()
		if err != nil {
			return "", err
		}
		return o.c.otr.Finish(o.ctx, peer)
	})

// otrCommandKind says what an OTR command acts on.
type otrCommandKind int

const (
	// aboutLogin: the user's own OTR state on the network.
	aboutLogin otrCommandKind = iota
	// aboutPeer: one peer; in the control room its nick comes first.
	aboutPeer
	// withSecret: one peer, and the command carries an SMP secret: the
	// Matrix event is redacted as soon as it is read, and an error text
	// is never logged.
	withSecret
)

// otrCall is one OTR command being run for a login.
type otrCall struct {
	ctx  context.Context
	ce   *commands.Event
	c    *IRCClient
	args []string // without the network key
	// usage is the command's usage where it runs (control room or DM).
	usage string
	// peerID is the peer the command turned out to be about (for the log).
	peerID networkid.UserID
}

// otrCommand makes the handler of one OTR command: it picks the login,
// runs run and shows its reply or error.
func otrCommand(name string, aliases []string, args, description string, kind otrCommandKind, run func(o *otrCall) (string, error)) *commands.FullHandler {
	nick := " <nick> "
	if kind == aboutLogin {
		nick = " "
	}
	usage := fmt.Sprintf("usage: `%s`", strings.TrimSpace(name+nick+args))
	portalUsage := fmt.Sprintf("usage: `!otr %s`", strings.TrimSpace(name+" "+args))
	if kind != aboutLogin {
		args = strings.TrimSpace("[_nick_] " + args)
	}
	return &commands.FullHandler{
		Name:    name,
		Aliases: aliases,
		Help:    commands.HelpMeta{Section: helpSectionOTR, Description: description, Args: args},

		RequiresLogin:           true,
		RequiresLoginPermission: true,
		Func: func(ce *commands.Event) {
			if kind == withSecret {
				redactSecret(ce, "secret")
			}
			minArgs := 0
			if kind != aboutLogin && ce.Portal == nil {
				minArgs = 1 // the nick
			}
			c, args := commandClient(ce, minArgs)
			if c == nil {
				return
			}
			o := &otrCall{ctx: ce.Ctx, ce: ce, c: c, args: args, usage: usage}
			if ce.Portal != nil {
				o.usage = portalUsage
			}
			reply, err := run(o)
			logOTRCommand(c.login.Log, name, kind == withSecret, o.peerID, err)
			if err != nil {
				ce.Reply("%v", err)
				return
			}
			if reply != "" {
				ce.Reply("%s", reply)
			}
		},
	}
}

// peer returns the peer a command is about and the arguments after it: in
// a DM portal the portal's peer, in the control room the nick given first.
func (o *otrCall) peer() (otrsession.PeerLink, []string, error) {
	if o.ce.Portal != nil {
		p, err := o.c.portalPeer(o.ctx, o.ce.Portal)
		if err != nil {
			return nil, nil, err
		}
		o.peerID = p.id
		return p, o.args, nil
	}
	if len(o.args) == 0 {
		return nil, nil, errors.New(o.usage)
	}
	return o.peerNamed(o.args[0], o.args[1:])
}

// peerOnly is peer for the commands that take nothing after the peer.
func (o *otrCall) peerOnly() (otrsession.PeerLink, error) {
	peer, rest, err := o.peer()
	if err != nil {
		return nil, err
	}
	return peer, o.noArgs(rest)
}

// noArgs fails on arguments a command does not take, instead of ignoring
// them (`init bob` in a DM with alice must not start OTR with alice).
// Only commands without a secret use it: it quotes the arguments.
func (o *otrCall) noArgs(rest []string) error {
	if len(rest) == 0 {
		return nil
	}
	return fmt.Errorf("unexpected %q; %s", strings.Join(rest, " "), o.usage)
}

// peerNamed returns the peer that has nick now.
func (o *otrCall) peerNamed(nick string, rest []string) (otrsession.PeerLink, []string, error) {
	p, err := o.c.peerByNick(o.ctx, nick)
	if err != nil {
		return nil, nil, fmt.Errorf("no chat with %s: %w", nick, err)
	}
	o.peerID = p.PeerID()
	return p, rest, nil
}

// runPolicy shows or sets a policy: `policy [peer policy]` for the peer,
// `policy default [policy]` for the user's default on the network (also
// `policy` alone in the control room), and in a DM portal
// `policy <nick> <policy>` for another peer.
func runPolicy(o *otrCall) (string, error) {
	args := o.args
	switch {
	case len(args) > 0 && args[0] == "default":
		if len(args) == 1 {
			return o.c.otr.DefaultPolicy(o.ctx)
		}
		if err := o.noArgs(args[2:]); err != nil {
			return "", err
		}
		return o.c.otr.SetDefaultPolicy(o.ctx, args[1])
	case o.ce.Portal == nil && len(args) == 0:
		return o.c.otr.DefaultPolicy(o.ctx)
	}
	var (
		peer otrsession.PeerLink
		err  error
	)
	if o.ce.Portal != nil && len(args) == 2 && !isPolicyWord(args[0]) {
		// One unknown word is a misspelt policy; two name another peer.
		peer, args, err = o.peerNamed(args[0], args[1:])
	} else {
		peer, args, err = o.peer()
	}
	if err != nil {
		return "", err
	}
	if len(args) == 0 {
		return o.c.otr.Policy(o.ctx, peer)
	}
	if err := o.noArgs(args[1:]); err != nil {
		return "", err
	}
	return o.c.otr.SetPolicy(o.ctx, peer, args[0])
}

func isPolicyWord(s string) bool {
	return db.Policy(strings.ToLower(s)).Valid() || strings.EqualFold(s, "reset")
}

// errAuthqUsage explains authq's forms; it never quotes what was typed
// (the secret).
var errAuthqUsage = errors.New("usage: `authq \"question\" secret`, `authq [question] secret`, or `authq <question> <secret>` where a question of several words ends with `?`")

// splitQuestion splits the arguments of `authq` into the question and the
// secret. It reads irssi's quoted form (`"Where did we meet?" "at the
// lighthouse"`, the secret's quotes optional) and znc-otr's
// (`[Where did we meet?] at the lighthouse`); without either the question
// ends at the first word ending in "?" (unless that is the last word),
// else it is the first word.
func splitQuestion(args []string) (question, secret string, err error) {
	text := strings.Join(args, " ")
	switch {
	case strings.HasPrefix(text, `"`):
		var ok bool
		if question, secret, ok = strings.Cut(text[1:], `"`); !ok {
			return "", "", errAuthqUsage
		}
		secret = strings.TrimSpace(secret)
		if len(secret) >= 2 && strings.HasPrefix(secret, `"`) && strings.HasSuffix(secret, `"`) {
			secret = secret[1 : len(secret)-1]
		}
	case strings.HasPrefix(text, "["):
		var ok bool
		if question, secret, ok = strings.Cut(text[1:], "]"); !ok {
			return "", "", errAuthqUsage
		}
		secret = strings.TrimSpace(secret)
	default:
		if len(args) < 2 {
			return "", "", errAuthqUsage
		}
		i := slices.IndexFunc(args, func(a string) bool { return strings.HasSuffix(a, "?") })
		if i < 0 || i == len(args)-1 {
			i = 0
		}
		question, secret = strings.Join(args[:i+1], " "), strings.Join(args[i+1:], " ")
	}
	question = strings.TrimSpace(question)
	if question == "" || secret == "" {
		return "", "", errAuthqUsage
	}
	return question, secret, nil
}

// exportReply shows a libotr fingerprints file. Replies are rendered as
// Markdown: only a code block keeps the file's tabs, empty trust fields and
// nicks with _ or * intact.
func exportReply(file []byte) string {
	if len(file) == 0 {
		return "No fingerprints stored yet."
	}
	return "Your fingerprints in libotr's format (save as otr.fingerprints):\n```\n" + string(file) + "```"
}

// logOTRCommand records which OTR command ran and whether it failed (not
// its arguments). Errors are written for the user and never contain
// secrets; for the commands that carry one only the failure is logged,
// so that a future change to an error text cannot put a secret in the log.
func logOTRCommand(log zerolog.Logger, name string, secret bool, peer networkid.UserID, err error) {
	e := log.Info().Str("otr_command", name)
	if peer != "" {
		e = e.Str("peer", string(peer))
	}
	if err != nil {
		e = e.Bool("failed", true)
		if !secret {
			e = e.Str("error", err.Error())
		}
	}
	e.Msg("OTR command")
}
