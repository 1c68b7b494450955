package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge"
	"github.com/otrbridge/otrbridge/bridge/otrfilter"
	"github.com/otrbridge/otrbridge/internal/seal"
)

// OTR wiring. Package bridge knows only the MessageFilter seam; this file
// gives every login an otrfilter.Filter, registers the `!otr` commands and
// shows the OTR state in the DM portal's topic.

// otrWiring holds what the filters of all logins share.
type otrWiring struct {
	ic *bridge.IRCConnector

	keyOnce sync.Once
	key     *seal.Key
	keyErr  error
}

func setupOTR(ic *bridge.IRCConnector) *otrWiring {
	w := &otrWiring{ic: ic}
	ic.NewFilter = w.newFilter
	return w
}

// sealKey derives the key for OTR private keys once the config is loaded.
func (w *otrWiring) sealKey() (*seal.Key, error) {
	w.keyOnce.Do(func() { w.key, w.keyErr = seal.NewKey(w.ic.Config.Secret, otrfilter.SealPurpose) })
	return w.key, w.keyErr
}

func (w *otrWiring) newFilter(c *bridge.IRCClient) bridge.MessageFilter {
	login := c.Login()
	key, err := w.sealKey()
	if err != nil {
		return unavailableFilter{err: err}
	}
	network := c.Network()
	maxFragment := 0
	if n := c.NetworkConfig(); n != nil {
		maxFragment = n.FragmentSize()
	}
	f, err := otrfilter.New(otrfilter.Config{
		DB:              w.ic.DB,
		Seal:            key,
		User:            login.UserMXID,
		Network:         network,
		DefaultPolicy:   w.ic.Config.Policy(network),
		HoldTimeout:     w.ic.Config.OTR.Hold(),
		IsService:       w.ic.Config.IsService,
		MaxFragmentSize: maxFragment,
		Resolve:         c.PeerByNick,
		Account:         login.RemoteName,
		Log:             login.Log.With().Str("component", "otr").Logger(),
	})
	if err != nil {
		return unavailableFilter{err: err}
	}
	return &loginFilter{Filter: f, c: c}
}

// loginFilter passes every peer link to the OTR filter wrapped so that
// state changes reach the portal topic.
type loginFilter struct {
	*otrfilter.Filter
	c *bridge.IRCClient
}

func (lf *loginFilter) wrap(link bridge.PeerLink) bridge.PeerLink {
	if link == nil {
		return nil
	}
	if _, ok := link.(*topicLink); ok {
		return link
	}
	return &topicLink{PeerLink: link, c: lf.c}
}

func (lf *loginFilter) Send(ctx context.Context, link bridge.PeerLink, msg bridge.OutgoingText) error {
	var report otrfilter.SendReport
	err := lf.Filter.Send(otrfilter.WithSendReport(ctx, &report), lf.wrap(link), msg)
	if err == nil && report.Unencrypted && msg.Event != "" {
		lf.markUnencrypted(ctx, link, msg.Event)
	}
	return err
}

// unencryptedMark is the reaction on Matrix messages that went to IRC in
// plaintext although OTR is enabled for the peer.
const unencryptedMark = "🔓 sent unencrypted"

func (lf *loginFilter) markUnencrypted(ctx context.Context, link bridge.PeerLink, evt id.EventID) {
	br := lf.c.Connector().Bridge
	portal, err := br.GetExistingPortalByKey(ctx, lf.c.PortalKey(link))
	if err != nil || portal == nil || portal.MXID == "" {
		return
	}
	_, err = br.Bot.SendMessage(ctx, portal.MXID, event.EventReaction, &event.Content{
		Parsed: &event.ReactionEventContent{RelatesTo: event.RelatesTo{Type: event.RelAnnotation, EventID: evt, Key: unencryptedMark}},
	}, nil)
	if err != nil {
		lf.c.Login().Log.Warn().Err(err).Msg("Failed to mark a message as sent unencrypted")
	}
}

func (lf *loginFilter) Receive(ctx context.Context, link bridge.PeerLink, msg bridge.IncomingText) {
	lf.Filter.Receive(ctx, lf.wrap(link), msg)
}

func (lf *loginFilter) PeerRenamed(ctx context.Context, link bridge.PeerLink, oldNick string) {
	lf.Filter.PeerRenamed(ctx, lf.wrap(link), oldNick)
}

func (lf *loginFilter) Announce(ctx context.Context, link bridge.PeerLink) {
	lf.Filter.Announce(ctx, lf.wrap(link))
}

func (lf *loginFilter) Command(ctx context.Context, link bridge.PeerLink, name string, args []string) (string, error) {
	return lf.Filter.Command(ctx, lf.wrap(link), name, args)
}

// topicLink shows the OTR state in the DM portal's topic.
type topicLink struct {
	bridge.PeerLink
	c *bridge.IRCClient
}

var _ otrfilter.StateShower = (*topicLink)(nil)

// otrTopic is the portal topic for an OTR state.
func otrTopic(s otrfilter.State) string {
	return "OTR: " + s.String()
}

func (t *topicLink) ShowOTRState(ctx context.Context, s otrfilter.State) {
	br := t.c.Connector().Bridge
	portal, err := br.GetExistingPortalByKey(ctx, t.c.PortalKey(t.PeerLink))
	if err != nil || portal == nil || portal.MXID == "" {
		return
	}
	topic := otrTopic(s)
	if portal.Topic == topic {
		return
	}
	_, err = br.Bot.SendState(ctx, portal.MXID, event.StateTopic, "", &event.Content{
		Parsed: &event.TopicEventContent{Topic: topic},
	}, time.Time{})
	if err != nil {
		t.c.Login().Log.Warn().Err(err).Msg("Failed to show the OTR state in the portal topic")
		return
	}
	portal.Topic = topic
}

// unavailableFilter stands in when OTR cannot work at all (a broken
// secret): it refuses to send, so nothing goes out unprotected by mistake,
// and delivers incoming text marked as such.
type unavailableFilter struct{ err error }

func (u unavailableFilter) Send(context.Context, bridge.PeerLink, bridge.OutgoingText) error {
	return fmt.Errorf("OTR is not available on this bridge (%v); nothing was sent", u.err)
}

func (u unavailableFilter) Receive(ctx context.Context, link bridge.PeerLink, msg bridge.IncomingText) {
	msg.Annotation = "OTR unavailable on this bridge"
	link.Deliver(ctx, msg)
}

func (unavailableFilter) PeerRenamed(context.Context, bridge.PeerLink, string) {}
func (unavailableFilter) Disconnected(context.Context)                         {}

// otrCommander is what the commands need from a login's filter.
type otrCommander interface {
	Command(ctx context.Context, link bridge.PeerLink, name string, args []string) (string, error)
	ControlCommand(ctx context.Context, name string, args []string) (string, error)
	ImportLibotrKey(ctx context.Context, file []byte, account string) (string, error)
	ImportLibotrFingerprints(ctx context.Context, file []byte, account string) (string, error)
}

// HelpSectionOTR groups the OTR commands in `help`.
var HelpSectionOTR = commands.HelpSection{Name: "Off-the-record messaging (in a DM: `!otr <command>`; here: `<command> <nick>`)", Order: 26}

// otrCommands builds one handler per OTR command.
func otrCommands() []commands.CommandHandler {
	var out []commands.CommandHandler
	for _, info := range otrfilter.Commands {
		info := info
		out = append(out, &commands.FullHandler{
			Name:    info.Name,
			Aliases: info.Aliases,
			Help: commands.HelpMeta{
				Section:     HelpSectionOTR,
				Description: info.Description,
				Args:        helpArgs(info),
			},
			RequiresLogin:           true,
			RequiresLoginPermission: true,
			Func: func(ce *commands.Event) {
				if info.Name == "import-key" {
					startImport(ce)
					return
				}
				runOTRCommand(ce, info)
			},
		})
	}
	return out
}

func helpArgs(info otrfilter.CommandInfo) string {
	if info.PeerFirst {
		return strings.TrimSpace("[_nick_] " + info.Args)
	}
	return info.Args
}

// commanderFor finds the login and its OTR filter for a command.
func commanderFor(ce *commands.Event, minArgs int) (*bridge.IRCClient, otrCommander, []string) {
	c, args := bridge.ClientForCommand(ce, minArgs)
	if c == nil {
		return nil, nil, nil
	}
	oc, ok := c.Filter().(otrCommander)
	if !ok {
		ce.Reply("OTR is not available for this login.")
		return nil, nil, nil
	}
	return c, oc, args
}

func runOTRCommand(ce *commands.Event, info otrfilter.CommandInfo) {
	if info.Secret {
		redactSecret(ce, "secret")
	}
	minArgs := 0
	if info.PeerFirst && ce.Portal == nil {
		minArgs = 1
	}
	c, oc, args := commanderFor(ce, minArgs)
	if c == nil {
		return
	}
	var (
		reply, peer string
		err         error
	)
	if ce.Portal != nil {
		link, lerr := c.PeerForPortal(ce.Ctx, ce.Portal)
		if lerr != nil {
			ce.Reply("%v", lerr)
			return
		}
		peer = string(link.PeerID())
		reply, err = oc.Command(ce.Ctx, link, ce.Command, args)
	} else {
		reply, err = oc.ControlCommand(ce.Ctx, ce.Command, args)
	}
	logOTRCommand(c.Login().Log, info, peer, err)
	if err != nil {
		ce.Reply("%v", err)
		return
	}
	if reply != "" {
		ce.Reply("%s", reply)
	}
}

// logOTRCommand records which OTR command ran and whether it failed (not
// its arguments). Errors are written for the user and never contain
// secrets; for the commands that carry one only the failure is logged,
// so that a future change to an error text cannot put a secret in the log.
func logOTRCommand(log zerolog.Logger, info otrfilter.CommandInfo, peer string, err error) {
	e := log.Info().Str("otr_command", info.Name)
	if peer != "" {
		e = e.Str("peer", peer)
	}
	if err != nil {
		e = e.Bool("failed", true)
		if !info.Secret {
			e = e.Str("error", err.Error())
		}
	}
	e.Msg("OTR command")
}

// redactSecret removes the command event that carried a secret and says so
// visibly when the bot may not redact it.
func redactSecret(ce *commands.Event, what string) {
	_, err := ce.Bot.SendMessage(ce.Ctx, ce.OrigRoomID, event.EventRedaction, &event.Content{
		Parsed: &event.RedactionEventContent{Redacts: ce.EventID},
	}, nil)
	if err != nil {
		ce.Log.Warn().Err(err).Msg("Failed to redact a message with a secret")
		ce.Reply("⚠️ I could not remove your message with the %s from this room: I lack the power to redact "+
			"other people's messages here (rooms you created give me power level 0). Delete it yourself, and give %s "+
			"the Moderator role (power level 50) so that I can do it next time.", what, ce.Bot.GetMXID())
	}
}

// importState collects the libotr files sent after `import-key`.
type importState struct {
	c        *bridge.IRCClient
	oc       otrCommander
	key, fps bool
}

func startImport(ce *commands.Event) {
	if ce.Portal != nil {
		ce.Reply("Use `import-key` in the control room: the files contain your private key.")
		return
	}
	c, oc, _ := commanderFor(ce, 0)
	if c == nil {
		return
	}
	st := &importState{c: c, oc: oc}
	commands.StoreCommandState(ce.User, &commands.CommandState{
		Next:   commands.MinimalCommandHandlerFunc(st.next),
		Action: "OTR key import",
	})
	ce.Reply("Send your libotr files here now: `otr.private_key` (your key) and/or `otr.fingerprints` (your trust store). " +
		"I remove them from the room after reading. Send `done` or `cancel` when finished.")
}

var errNotAFile = errors.New("that is not a file")

func (st *importState) next(ce *commands.Event) {
	if strings.EqualFold(strings.TrimSpace(ce.RawArgs), "done") {
		commands.StoreCommandState(ce.User, nil)
		ce.Reply("Import finished.")
		return
	}
	data, name, err := downloadCommandFile(ce)
	if err != nil {
		ce.Reply("%v. Send `otr.private_key` or `otr.fingerprints` as a file, or `done`.", err)
		return
	}
	redactSecret(ce, "file")
	var reply string
	switch lower := strings.ToLower(name); {
	case strings.Contains(lower, "private_key") || strings.Contains(lower, "privkey"):
		reply, err = st.oc.ImportLibotrKey(ce.Ctx, data, "")
		st.key = err == nil
	case strings.Contains(lower, "fingerprint"):
		reply, err = st.oc.ImportLibotrFingerprints(ce.Ctx, data, "")
		st.fps = err == nil
	default:
		ce.Reply("I do not know the file %q: send `otr.private_key` or `otr.fingerprints`.", name)
		return
	}
	if err != nil {
		ce.Reply("Import of %s failed: %v", name, err)
		return
	}
	ce.Reply("%s", reply)
	if st.key && st.fps {
		commands.StoreCommandState(ce.User, nil)
		ce.Reply("Both files imported.")
	}
}

// maxImportFile bounds the libotr files we download.
const maxImportFile = 1 << 20

// downloadCommandFile fetches the file of the message that triggered ce.
func downloadCommandFile(ce *commands.Event) ([]byte, string, error) {
	evt, err := ce.Bot.GetEvent(ce.Ctx, ce.RoomID, ce.EventID)
	if err != nil || evt == nil {
		return nil, "", errNotAFile
	}
	content := evt.Content.AsMessage()
	if content == nil || content.MsgType != event.MsgFile && content.MsgType != event.MsgText || (content.URL == "" && content.File == nil) {
		return nil, "", errNotAFile
	}
	if content.Info != nil && content.Info.Size > maxImportFile {
		return nil, "", fmt.Errorf("the file is larger than %d bytes", maxImportFile)
	}
	uri := content.URL
	if content.File != nil {
		uri = content.File.URL
	}
	data, err := ce.Bot.DownloadMedia(ce.Ctx, uri, content.File)
	if err != nil {
		return nil, "", fmt.Errorf("downloading the file failed: %w", err)
	}
	if len(data) > maxImportFile {
		return nil, "", fmt.Errorf("the file is larger than %d bytes", maxImportFile)
	}
	return data, content.GetFileName(), nil
}
