package bridge

import (
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/event"
)

// `import-key`: the user sends libotr's files (otr.private_key,
// otr.fingerprints) into the control room after the command; each is read,
// redacted and imported into the login's OTR session manager.

// importState collects the libotr files sent after `import-key`.
type importState struct {
	c        *IRCClient
	key, fps bool
}

func startImport(ce *commands.Event) {
	if ce.Portal != nil {
		ce.Reply("Use `import-key` in the control room: the files contain your private key.")
		return
	}
	c, _ := commandClient(ce, 0)
	if c == nil {
		return
	}
	st := &importState{c: c}
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
		reply, err = st.c.otr.ImportLibotrKey(ce.Ctx, data, "")
		st.key = err == nil
	case strings.Contains(lower, "fingerprint"):
		reply, err = st.c.otr.ImportLibotrFingerprints(ce.Ctx, data, "")
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
