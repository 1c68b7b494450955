package bridge

import (
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/event"
)

// `import-key`: the user sends libotr's files (otr.private_key,
// otr.fingerprints) into the control room after the command; each is read,
// redacted and imported into the login's OTR session manager.
//
// The homeserver keeps every uploaded file in its media store, and a
// redaction does not delete it: only an encrypted attachment (in an
// encrypted room) keeps the private key from it. So the import runs only
// in an encrypted control room and reads only encrypted attachments.

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
	if encrypted, err := roomEncrypted(ce); !encrypted {
		why := "this room is not encrypted"
		if err != nil {
			ce.Log.Err(err).Msg("Failed to read the room's encryption state")
			why = "I could not check that this room is encrypted"
		}
		ce.Reply("Nothing imported: %s. A file uploaded here would stay in the homeserver's media store in plaintext, "+
			"even after I remove the message, and your private key with it. Turn on encryption in this room's settings, "+
			"or start a new chat with me with encryption on (most clients do that for direct chats), and run `import-key` there.", why)
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

var (
	errNotAFile        = errors.New("that is not a file")
	errUnencryptedFile = errors.New("that file is not encrypted")
)

// roomEncrypted reports whether the command's room has end-to-end
// encryption (m.room.encryption), asking the homeserver.
func roomEncrypted(ce *commands.Event) (bool, error) {
	rs, ok := ce.Bridge.Matrix.(bridgev2.MatrixConnectorWithArbitraryRoomState)
	if !ok {
		return false, errors.New("the Matrix connector cannot read room state")
	}
	evt, err := rs.GetStateEvent(ce.Ctx, ce.RoomID, event.StateEncryption, "")
	if errors.Is(err, mautrix.MNotFound) {
		return false, nil
	}
	if err != nil || evt == nil {
		return false, err
	}
	_ = evt.Content.ParseRaw(event.StateEncryption)
	enc := evt.Content.AsEncryption()
	return enc != nil && enc.Algorithm != "", nil
}

func (st *importState) next(ce *commands.Event) {
	if strings.EqualFold(strings.TrimSpace(ce.RawArgs), "done") {
		commands.StoreCommandState(ce.User, nil)
		ce.Reply("Import finished.")
		return
	}
	data, name, err := downloadCommandFile(ce)
	if errors.Is(err, errUnencryptedFile) {
		redactSecret(ce, "file")
		ce.Reply("Not imported: that file was uploaded unencrypted, so the homeserver keeps it in plaintext in its media store " +
			"(removing the message does not delete it). If it was your private key, treat it as known to whoever runs the homeserver " +
			"and make a new one (`genkey`, or in your OTR client). Send the files from a client that encrypts attachments, or `done`.")
		return
	}
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
	if content.File == nil {
		return nil, "", errUnencryptedFile
	}
	if content.Info != nil && content.Info.Size > maxImportFile {
		return nil, "", fmt.Errorf("the file is larger than %d bytes", maxImportFile)
	}
	data, err := ce.Bot.DownloadMedia(ce.Ctx, content.File.URL, content.File)
	if err != nil {
		return nil, "", fmt.Errorf("downloading the file failed: %w", err)
	}
	if len(data) > maxImportFile {
		return nil, "", fmt.Errorf("the file is larger than %d bytes", maxImportFile)
	}
	return data, content.GetFileName(), nil
}
