package e2e

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// What an encrypted portal must not leak to the homeserver besides the
// messages: the bridge's notices about failed messages and the IRC side's
// errors, the status events, and a private key imported with import-key.

// plainOnPurpose records an event a test sent unencrypted into an
// encrypted room on purpose (e2beOnlyCiphertext skips it).
func (e *env) plainOnPurpose(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.plainEvents == nil {
		e.plainEvents = map[string]bool{}
	}
	e.plainEvents[id] = true
}

func (e *env) sentInPlain(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.plainEvents[id]
}

// e2beFailureNotices: a message to a nick that is not on IRC fails; the
// bridge's notice (naming the nick, quoting the server) is encrypted and
// replies to the message, and its status event carries no nick and no IRC
// error. An `?OTR Error:` text from the peer reaches the portal encrypted
// too. It returns the portal it opened.
func e2beFailureNotices(t *testing.T, e *env, u *user, p *otrPeer, room string) string {
	absent := e.unique("absent")
	u.say(t, "pm "+absent)
	lonely := u.joinInvite(t)
	if err := u.enc.WaitRoomEncrypted(wait, lonely); err != nil {
		t.Fatal(err)
	}
	id := u.sendEncrypted(t, lonely, e.text("to nobody on irc"), false)
	notice := u.decryptedNotice(t, lonely, "is not on IRC right now")
	if rel, _ := notice.Content["m.relates_to"].(map[string]any); rel == nil || fmt.Sprint(rel["m.in_reply_to"]) != fmt.Sprint(map[string]any{"event_id": id}) {
		t.Errorf("the failure notice does not reply to the failed message: %v", notice.Content["m.relates_to"])
	}
	// The notice's sentence is remembered: no file of the homeserver may
	// hold it (the nick alone is in the ghost's user ID, which the
	// homeserver has to know).
	e.remember(absent + " is not on IRC right now")
	st := u.messageStatus(t, lonely, id, wait)
	if st.Str("status") != "FAIL_PERMANENT" {
		t.Errorf("status of a message to an absent nick: %q", st.Str("status"))
	}
	for k, v := range st.Content {
		if s := fmt.Sprint(v); strings.Contains(strings.ToLower(s), strings.ToLower(absent)) || strings.Contains(s, "401") || strings.Contains(s, "No such") {
			t.Errorf("the unencrypted status event carries %s = %q", k, s)
		}
	}

	reason := e.text("peer's secret error reason")
	p.irc.Privmsg(u.nick, "?OTR Error: "+reason)
	if ev := u.decryptedNotice(t, room, "reported an error"); !strings.Contains(ev.Body(), reason) {
		t.Errorf("the notice about the peer's OTR error: %q", ev.Body())
	}
	return lonely
}

// e2beUndecryptable: a message whose key the sender's client withheld from
// the bridge's device reaches neither IRC nor the command processor; once
// bridgev2 has given up waiting for the key, the sender is told in an
// encrypted notice that replies to it, in a portal and in the control room.
func e2beUndecryptable(t *testing.T, u *user, room string) {
	var wg sync.WaitGroup
	for _, r := range []string{room, u.control} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := u.enc.SendWithheldKey(r)
			if err != nil {
				t.Errorf("send: %v", err)
				return
			}
			ev, err := u.mx.WaitMessageAfter(longWait, id, r, "", func(ev teststack.MatrixEvent) bool {
				return ev.Sender != u.mx.UserID && strings.Contains(ev.Body(), "could not decrypt")
			})
			if err != nil {
				t.Errorf("no notice about the undecryptable message in %s: %v\nseen:%s", r, err, u.roomTranscript(r))
				return
			}
			if !u.enc.WasDecrypted(ev.EventID) {
				t.Errorf("the notice about the undecryptable message in %s was not encrypted", r)
			}
			if rel, _ := ev.Content["m.relates_to"].(map[string]any); rel == nil || fmt.Sprint(rel["m.in_reply_to"]) != fmt.Sprint(map[string]any{"event_id": id}) {
				t.Errorf("the notice does not reply to the undecryptable message: %v", ev.Content["m.relates_to"])
			}
		}()
	}
	wg.Wait()
}

// e2beImportKey: `import-key` in the encrypted control room. An
// unencrypted upload is refused (and removed); libotr's files sent as
// encrypted attachments are imported: the libotr peer then sees the
// imported key, the bridge trusts the peer as libotr did, and
// export-fingerprints gives the trust back. Afterwards no file of the
// homeserver holds the private key (checked with the others at the end).
func e2beImportKey(t *testing.T, e *env, u *user) string {
	p := e.otrPeerFor(t, u, e.unique("otrpeer"), otrtest.Options{Policy: otrtest.PolicyManual})
	nick := p.irc.Nick()
	dir, keyFP, peerFP := libotrFiles(t, u.nick+"@irc.local", nick)
	if peerFP != p.Fingerprint {
		t.Fatalf("the peer on IRC has key %s, the fingerprints file has %s", p.Fingerprint, peerFP)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	key := read("otr.private_key")
	e.rememberPrivateKey(t, key)
	old := u.ownFingerprint(t)
	if old == keyFP {
		t.Fatal("the bridge already had the key to import")
	}

	u.replyTo(t, u.say(t, "import-key"), "Send your libotr files", longWait)
	// A file uploaded unencrypted is refused whatever it holds (a decoy
	// here: the homeserver keeps what it is sent).
	plain := u.uploadFile(t, u.control, "otr.private_key", []byte("(privkeys decoy)\n"))
	e.plainOnPurpose(plain)
	u.replyTo(t, plain, "uploaded unencrypted", longWait)
	u.checkFileGone(t, plain)

	id, err := u.enc.SendFile(u.control, "otr.private_key", key)
	if err != nil {
		t.Fatal(err)
	}
	rep := u.replyTo(t, id, "Imported the key", longWait)
	if got := fingerprintIn(t, rep.Body()); got != keyFP {
		t.Errorf("after the import the bridge says fingerprint %s, the key file has %s", got, keyFP)
	}
	u.checkFileGone(t, id)
	if id, err = u.enc.SendFile(u.control, "otr.fingerprints", read("otr.fingerprints")); err != nil {
		t.Fatal(err)
	}
	if rep := u.replyTo(t, id, "fingerprint(s)", longWait); !strings.Contains(rep.Body(), "Imported 1 fingerprint(s), 1 of them verified") {
		t.Errorf("fingerprints import: %s", rep.Body())
	}
	u.replyTo(t, id, "Both files imported", wait)
	u.checkFileGone(t, id)
	if now := u.ownFingerprint(t); now != keyFP {
		t.Errorf("`fingerprint` says %s after the import, want %s", now, keyFP)
	}

	u.say(t, "pm "+nick)
	room := u.joinInvite(t)
	if err := u.enc.WaitRoomEncrypted(wait, room); err != nil {
		t.Fatal(err)
	}
	u.encryptedCommand(t, room, "init", "")
	p.event(t, "gone_secure", "")
	u.decryptedNotice(t, room, "Private conversation with")
	if got := p.Info().TheirFP; got != keyFP {
		t.Errorf("the libotr peer sees fingerprint %s, want the imported %s", got, keyFP)
	}
	u.waitTopic(t, room, "private (verified)")
	e.exchangeEncrypted(t, u, p, room, "imported key")

	exp := u.replyTo(t, u.say(t, "export-fingerprints"), "", longWait)
	_, pre, ok := strings.Cut(exp.HTML(), "<pre><code>")
	file, _, ok2 := strings.Cut(pre, "</code></pre>")
	if !ok || !ok2 {
		t.Fatalf("export-fingerprints has no code block: %q", exp.HTML())
	}
	fps, err := otr.ParseLibotrFingerprints(strings.NewReader(html.UnescapeString(file)))
	if err != nil {
		t.Fatalf("export-fingerprints is not a libotr fingerprints file: %v\n%s", err, file)
	}
	found := false
	for _, kf := range fps {
		if strings.EqualFold(kf.Username, nick) && normFP(fmt.Sprintf("%x", kf.Fingerprint[:])) == peerFP && kf.Trust == "verified" {
			found = true
		}
	}
	if !found {
		t.Errorf("export-fingerprints has no verified entry for %s %s:\n%s", nick, peerFP, file)
	}
	return room
}

// testOTRImportKeyNeedsEncryption: in an unencrypted control room
// `import-key` refuses (saying why and what to do) and nothing sent
// afterwards is taken for a key.
func testOTRImportKeyNeedsEncryption(t *testing.T, e *env) {
	u := e.newUser(t, "")
	u.login(t, netLocal, e.unique("mx"))
	old := u.ownFingerprint(t)
	rep := u.command(t, "import-key")
	for _, want := range []string{"not encrypted", "encryption"} {
		if !strings.Contains(rep.Body(), want) {
			t.Errorf("the refusal does not say %q: %s", want, rep.Body())
		}
	}
	id := u.uploadFile(t, u.control, "otr.private_key", []byte("(privkeys decoy)\n"))
	if _, err := u.mx.WaitMessageAfter(shortWait, id, u.control, e.bridge.BotMXID, func(ev teststack.MatrixEvent) bool {
		return strings.Contains(ev.Body(), "Imported")
	}); err == nil {
		t.Error("a file sent after the refusal was imported")
	}
	if now := u.ownFingerprint(t); now != old {
		t.Errorf("the fingerprint changed from %s to %s", old, now)
	}
}
