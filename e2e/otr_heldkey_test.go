package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// testOTRImpostorAfterQuit: frank, a libotr client in a private
// conversation with alice, quits IRC; mallory, a libotr client with a key
// of her own, takes the nick frank. alice's next message waits for a new
// private conversation, and the key exchange the bridge starts for it is
// answered by mallory. A nick never decides who reads a message: it fails
// unsent when mallory's key comes up (a key frank is not known by), with a
// loud notice; so does the next one, and mallory's libotr decrypts
// nothing. Once alice verifies the key (`!otr trust`), messages go to it.
func testOTRImpostorAfterQuit(t *testing.T, e *env) {
	u, frank, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	nick := frank.irc.Nick()
	u.mx.SendText(room, "!otr init")
	frank.goSecure(t, u, room)
	e.exchange(t, u, frank, room, "before the quit")

	frank.irc.Quit("bye")
	frank.Close()
	u.notice(t, room, "Messages to "+nick+" fail", wait)
	mallory := e.otrPeerFor(t, u, nick, otrtest.Options{Policy: otrtest.PolicyManual,
		KeyFile: filepath.Join(t.TempDir(), "mallory.key")}) // libotr makes a new key
	if mallory.Fingerprint == frank.Fingerprint {
		t.Fatal("mallory has frank's key")
	}
	back := u.notice(t, room, "has the nick "+nick+" again", wait)
	if strings.Contains(back.Body(), nick+" is on IRC") {
		t.Errorf("the online notice claims the same person: %s", back.Body())
	}

	held := e.text("for frank only")
	heldID := u.sendPortal(t, room, held)
	mallory.event(t, "gone_secure", "")
	if st := u.messageStatus(t, room, heldID, longWait); st.Str("status") == "SUCCESS" {
		t.Fatalf("the message that waited is reported delivered to mallory's key: %v", st.Content)
	}
	u.notice(t, room, "Not sent: the private conversation with "+nick+" is with the key", longWait)
	warn := u.notice(t, room, "refused until you verify the key", longWait)
	for _, want := range []string{"!otr trust", "!otr finish", "IRC cannot tell", "NOT sent"} {
		if !strings.Contains(warn.Body(), want) {
			t.Errorf("the warning does not say %q: %s", want, warn.Body())
		}
	}
	u.notice(t, room, "NEW OTR key", longWait)

	// The next message fails at once too.
	second := e.text("still for frank")
	secondID := u.sendPortal(t, room, second)
	if st := u.messageStatus(t, room, secondID, longWait); st.Str("status") == "SUCCESS" {
		t.Fatalf("a message to the refused key is reported delivered: %v", st.Content)
	}
	for _, l := range mallory.History() {
		if l.Kind == "MSG" {
			t.Errorf("mallory's libotr showed a message (%s, %d bytes)", l.Name, len(l.Text))
		}
	}
	if n := dataMessages(mallory, u); n != 0 {
		t.Errorf("%d OTR data messages went to mallory before alice verified her key", n)
	}
	mallory.assertWireClean(t, u, held, second)

	// alice verifies the key: messages go to it.
	u.portalCommand(t, room, "trust", "now trust")
	u.notice(t, room, "your messages go to this private conversation again", longWait)
	later := e.text("verified at last")
	laterID := u.sendPortal(t, room, later)
	mallory.received(t, later)
	if st := u.messageStatus(t, room, laterID, longWait); st.Str("status") != "SUCCESS" {
		t.Errorf("status after the key was verified: %v", st.Content)
	}
	for _, l := range mallory.History() {
		if l.Kind == "MSG" && l.Text != later {
			t.Errorf("mallory's libotr showed another message (%s, %d bytes)", l.Name, len(l.Text))
		}
	}
	mallory.assertWireClean(t, u, held, second, later)
}

// dataMessages counts the OTR data messages (v3 or v2, unfragmented) the
// user sent to the peer.
func dataMessages(p *otrPeer, u *user) int {
	n := 0
	for _, l := range p.irc.Lines() {
		if l.Command() == "PRIVMSG" && strings.EqualFold(l.From(), u.nick) &&
			(strings.HasPrefix(l.Text(), "?OTR:AAMD") || strings.HasPrefix(l.Text(), "?OTR:AAID")) {
			n++
		}
	}
	return n
}
