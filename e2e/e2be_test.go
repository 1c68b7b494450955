package e2e

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// TestE2BE covers portals with end-to-bridge encryption:
// a Matrix user whose client does Olm/Megolm (and whose control room is
// encrypted too) talks off the record with libotr clients on IRC in a
// portal opened from Matrix and one opened from IRC, with SMP from the
// portal and from the control room and a bridge restart in between, a
// message that fails, an OTR error from the peer, and an import-key.
// Afterwards the homeserver holds the rooms' messages only as ciphertext,
// and neither its files nor the bridge's database and logs contain any of
// the messages, secrets, notices about failures, the peer's error text or
// the imported private key. A plaintext message in an unencrypted room,
// found by the same search, shows the search would have seen them.
func TestE2BE(t *testing.T) {
	needPeers(t)
	// Fail or skip on a missing libotr before starting the servers.
	otrtest.StartLibotr(t, otrtest.Options{}).Close()
	runE2BE(t, newEnvWith(t, envOptions{encryption: true}), false)
}

// TestE2BEPostgres is TestE2BE with the bridge on PostgreSQL, without the
// steps that store nothing the others do not.
func TestE2BEPostgres(t *testing.T) {
	needPeers(t)
	otrtest.StartLibotr(t, otrtest.Options{}).Close()
	dsn := teststack.Postgres(t)
	runE2BE(t, newEnvWith(t, envOptions{encryption: true, dbType: "postgres", dbURI: dsn}), true)
}

func runE2BE(t *testing.T, e *env, pg bool) {
	u := e.newEncryptedUser(t, "")
	u.login(t, netLocal, e.unique("mx"))
	p := e.otrPeerFor(t, u, e.unique("otrpeer"), otrtest.Options{Policy: otrtest.PolicyManual})
	u.say(t, "pm "+p.irc.Nick())
	room := u.joinInvite(t)

	rooms := []string{room, u.control} // every room checked for ciphertext only
	steps := []struct {
		name string
		run  func(t *testing.T)
		// sqliteOnly steps store nothing in the bridge's database that
		// the others do not; PostgreSQL skips them.
		sqliteOnly bool
	}{
		{name: "PortalEncrypted", run: func(t *testing.T) { e2bePortalEncrypted(t, e, u, room) }},
		{name: "PrivateConversation", run: func(t *testing.T) { e2bePrivate(t, e, u, p, room) }},
		{name: "SMP", run: func(t *testing.T) { e2beSMP(t, e, u, p, room) }, sqliteOnly: true},
		{name: "ControlRoomSMP", run: func(t *testing.T) { e2beControlRoomSMP(t, e, u, p, room) }, sqliteOnly: true},
		{name: "BridgeRestart", run: func(t *testing.T) { e2beBridgeRestart(t, e, u, p, room) }},
		{name: "SelfSignRefusedOnce", run: func(t *testing.T) { e2beSelfSignRefused(t, e) }},
		{name: "PortalFromIRC", run: func(t *testing.T) { rooms = append(rooms, e2bePortalFromIRC(t, e, u)) }, sqliteOnly: true},
		{name: "FailureNotices", run: func(t *testing.T) { rooms = append(rooms, e2beFailureNotices(t, e, u, p, room)) }},
		{name: "Undecryptable", run: func(t *testing.T) { e2beUndecryptable(t, u, room) }, sqliteOnly: true},
		{name: "ImportKey", run: func(t *testing.T) { rooms = append(rooms, e2beImportKey(t, e, u)) }},
		{name: "ChannelRoom", run: func(t *testing.T) { rooms = append(rooms, e2beChannelRoom(t, e, u)) }},
		{name: "OnlyCiphertext", run: func(t *testing.T) { e2beOnlyCiphertext(t, u, rooms...) }},
	}
	for _, s := range steps {
		if pg && s.sqliteOnly {
			continue
		}
		if !t.Run(s.name, s.run) {
			return // later steps need the earlier ones
		}
	}

	// The positive control: the same user says something in an unencrypted
	// room of the same homeserver.
	control := e2bePlainControl(t, u)

	// Search Dendrite's files while it runs and again after shutdown (when
	// SQLite has written back its -wal or -journal files, whichever
	// journal mode is in use); the bridge's after its shutdown.
	e2beHomeserverChecks(t, e, control, "Running")
	e.bridge.Stop()
	e.hs.Stop()
	e2beHomeserverChecks(t, e, control, "Stopped")
	t.Run("LogPrivacy", func(t *testing.T) { e.checkLogs(t) })
	t.Run("DatabasePrivacy", func(t *testing.T) { e.checkDatabase(t) })
}

// e2beHomeserverChecks searches every file of Dendrite's for the control
// text (it must be there) and for every test message and secret (none may
// be).
func e2beHomeserverChecks(t *testing.T, e *env, control, phase string) {
	t.Run("HomeserverPositiveControl"+phase, func(t *testing.T) {
		found, n := grepFiles(t, e2beHSFiles(t, e.hs), []string{control})
		if len(found[control]) == 0 {
			t.Fatalf("the plaintext control message is in none of Dendrite's files (%d bytes searched): the privacy check would prove nothing", n)
		}
		t.Logf("the unencrypted control message is in %v (%d bytes searched)", found[control], n)
	})
	t.Run("HomeserverPrivacy"+phase, func(t *testing.T) {
		secrets := e.remembered(t)
		files := e2beHSFiles(t, e.hs)
		n := checkFilesFree(t, files, secrets, "none of Dendrite's files is there to search")
		names := make([]string, len(files))
		for i, f := range files {
			names[i] = filepath.Base(f)
		}
		t.Logf("searched %d bytes in Dendrite's %v for %d test texts", n, names, len(secrets))
	})
}

// e2bePortalEncrypted: the portal has m.room.encryption (Megolm) and the
// client knows it. The stack wrote the bridge's config without an
// `encryption:` section: encryption is on by the bridge's defaults, which
// the config upgrader also wrote back into the file.
func e2bePortalEncrypted(t *testing.T, e *env, u *user, room string) {
	var cfg struct {
		Encryption *struct{ Allow, Default bool } `yaml:"encryption"`
	}
	raw, err := os.ReadFile(e.bridge.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Encryption == nil || !cfg.Encryption.Allow || !cfg.Encryption.Default {
		t.Errorf("the config the bridge wrote back has encryption %+v, want allow and default", cfg.Encryption)
	}
	st, err := u.mx.StateEvent(room, "m.room.encryption", "")
	if err != nil {
		t.Fatalf("portal has no m.room.encryption state: %v", err)
	}
	if alg, _ := st["algorithm"].(string); alg != "m.megolm.v1.aes-sha2" {
		t.Fatalf("portal encryption algorithm %q", alg)
	}
	if err := u.enc.WaitRoomEncrypted(wait, room); err != nil {
		t.Fatal(err)
	}
}

// e2beSelfSignRefused: Dendrite 0.13.8 refuses the bot's cross-signing
// keys (encryption.self_sign is on by default). The bridge ran on (the
// steps before used it, across a restart), logged why, and told the admin
// exactly once, in an encrypted control room it opened for them.
func e2beSelfSignRefused(t *testing.T, e *env) {
	a := e.admin
	inv, err := a.mx.WaitInvite(wait, e.bridge.BotMXID)
	if err != nil {
		t.Fatalf("the admin got no control room: %v", err)
	}
	if err := a.mx.Join(inv.RoomID); err != nil {
		t.Fatal(err)
	}
	a.control = inv.RoomID
	a.decryptedNotice(t, inv.RoomID, "could not be cross-signed")
	// Each start logs why (the log rotates at a restart).
	logs, _ := filepath.Glob(filepath.Join(e.bridge.Opts.Dir, "*.log*"))
	warnings := 0
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		warnings += strings.Count(string(b), "Cross-signing the bridge bot's device failed")
	}
	if warnings != 2 {
		t.Errorf("the logs %v have the cross-signing warning %d times, want once per start (2)", logs, warnings)
	}
	// The restart did not repeat the notice.
	notices := 0
	for _, ev := range a.mx.Messages(inv.RoomID) {
		if strings.Contains(ev.Body(), "could not be cross-signed") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("the admin was told %d times, want once", notices)
	}
}

// e2bePrivate: `!otr init` (itself encrypted) starts the AKE; texts and
// emotes travel both ways, Megolm on Matrix and OTR on IRC.
func e2bePrivate(t *testing.T, e *env, u *user, p *otrPeer, room string) {
	u.encryptedCommand(t, room, "init", "")
	p.event(t, "gone_secure", "")
	u.decryptedNotice(t, room, "Private conversation with")
	u.waitTopic(t, room, "private")
	for i := 0; i < 2; i++ {
		e.exchangeEncrypted(t, u, p, room, fmt.Sprintf("e2be %d", i))
	}
	// Emotes both ways.
	out := e.text("waves through megolm")
	u.sendEncrypted(t, room, out, true)
	p.received(t, "/me "+out)
	in := e.text("nods through otr")
	p.Send("/me " + in)
	if ev := u.decryptedFromGhost(t, room, p.irc.Nick()); ev.MsgType() != "m.emote" || ev.Body() != in {
		t.Errorf("portal got [%s] %q, want an emote %q", ev.MsgType(), ev.Body(), in)
	}
	p.assertWireClean(t, u, out, in)
}

// e2beSMP: SMP with a secret started by the bridge, then by the peer; the
// commands carrying the secret are encrypted and redacted.
func e2beSMP(t *testing.T, e *env, u *user, p *otrPeer, room string) {
	start := time.Now()
	secret := e.text("e2be shared secret")
	cmd := u.encryptedCommand(t, room, "auth "+secret, "Asked")
	p.event(t, "smp", "ASK_FOR_SECRET")
	p.SMPAnswer(secret)
	p.event(t, "smp", "SUCCESS")
	u.decryptedNotice(t, room, "succeeded")
	t.Logf("SMP started by the bridge: %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	secret2 := e.text("e2be peer secret")
	p.SMP(secret2)
	u.decryptedNotice(t, room, "wants to verify your identity")
	cmd2 := u.encryptedCommand(t, room, "auth "+secret2, "Answered")
	p.event(t, "smp", "SUCCESS")
	u.decryptedNotice(t, room, "succeeded")
	t.Logf("SMP started by the peer: %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	u.waitTopic(t, room, "private (verified)")
	for _, id := range []string{cmd, cmd2} {
		u.waitRedactedEncrypted(t, room, id)
	}
	t.Logf("topic and redactions: %s", time.Since(start).Round(time.Millisecond))
	e.exchangeEncrypted(t, u, p, room, "e2be after smp")
}

// e2beControlRoomSMP: SMP asked from the (encrypted) control room with
// `auth <nick> <secret>`; the command is redacted there too.
func e2beControlRoomSMP(t *testing.T, e *env, u *user, p *otrPeer, room string) {
	secret := e.text("e2be control room secret")
	id := u.say(t, "auth "+p.irc.Nick()+" "+secret)
	if reply := u.replyTo(t, id, "Asked", longWait); !u.enc.WasDecrypted(reply.EventID) {
		t.Error("the bot's reply in the control room was not encrypted")
	}
	p.event(t, "smp", "ASK_FOR_SECRET")
	p.SMPAnswer(secret)
	p.event(t, "smp", "SUCCESS")
	u.decryptedNotice(t, room, "succeeded")
	u.waitRedactedEncrypted(t, u.control, id)
}

// e2beBridgeRestart: after a bridge restart the portal is still
// encrypted both ways (the bridge's Megolm keys are in its database) and the
// OTR conversation recovers as in an unencrypted portal.
func e2beBridgeRestart(t *testing.T, e *env, u *user, p *otrPeer, room string) {
	e.bridge.Restart(t)
	watch := teststack.DialIRC(t, e.irc.Addr(), e.unique("watch"), teststack.IRCClientOptions{})
	waitOnline(t, watch, u.nick, longWait)

	lost := e.text("e2be sent into the lost session")
	p.Send(lost)
	u.decryptedNotice(t, room, "cannot read")
	u.decryptedNotice(t, room, "The bridge restarted")

	held := e.text("e2be held after restart")
	u.sendEncrypted(t, room, held, false)
	p.event(t, "gone_secure", "")
	p.received(t, held)
	in := e.text("e2be after restart libotr to matrix")
	p.Send(in)
	ev, err := u.mx.WaitMessage(wait, room, "", func(ev teststack.MatrixEvent) bool { return ev.Body() == in })
	if err != nil {
		t.Fatalf("message after recovery did not reach the portal: %v", err)
	}
	if !u.enc.WasDecrypted(ev.EventID) {
		t.Error("after the restart the bridge sent a message unencrypted")
	}
	for _, ev := range u.mx.Messages(room) {
		if ev.Body() == lost {
			t.Error("the unreadable message showed up in Matrix")
		}
	}
	p.assertWireClean(t, u, lost, held, in)
}

// e2bePortalFromIRC: a portal the bridge creates for an incoming IRC
// message is encrypted from its first message on (the bridge shares its
// room key with the invited user); the peer's query then starts OTR.
func e2bePortalFromIRC(t *testing.T, e *env, u *user) string {
	p := e.otrPeerFor(t, u, e.unique("otrpeer"), otrtest.Options{Policy: otrtest.PolicyManual})
	first := e.text("e2be plaintext hello from irc")
	p.Send(first)
	inv, err := u.mx.WaitChatInvite(wait, "")
	if err != nil {
		t.Fatalf("no portal invite after an IRC PM: %v", err)
	}
	room := inv.RoomID
	if err := u.mx.Join(room); err != nil {
		t.Fatalf("join portal: %v", err)
	}
	if err := u.enc.WaitRoomEncrypted(wait, room); err != nil {
		t.Fatal(err)
	}
	if ev := u.decryptedFromGhost(t, room, p.irc.Nick()); ev.Body() != first {
		t.Fatalf("portal got %q, want %q", ev.Body(), first)
	}
	p.Query()
	p.event(t, "gone_secure", "")
	u.decryptedNotice(t, room, "Private conversation with")
	e.exchangeEncrypted(t, u, p, room, "e2be irc-opened portal")
	return room
}

// e2beOnlyCiphertext: the homeserver holds the messages of the rooms
// (portals, control room) only as m.room.encrypted, every message the
// client saw there it decrypted, and it failed to decrypt none.
func e2beOnlyCiphertext(t *testing.T, u *user, rooms ...string) {
	for i, room := range rooms {
		var resp struct {
			Chunk []teststack.MatrixEvent `json:"chunk"`
		}
		path := "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/messages?dir=b&limit=1000"
		if err := u.mx.Do("GET", path, nil, &resp); err != nil {
			t.Fatalf("room history: %v", err)
		}
		encrypted := 0
		for _, ev := range resp.Chunk {
			switch {
			case ev.Type == "m.room.encrypted":
				encrypted++
			case u.e.sentInPlain(ev.EventID):
			case ev.Type == "m.room.message", ev.Type == "m.sticker":
				t.Errorf("the homeserver has a plaintext %s from %s in the encrypted portal", ev.Type, ev.Sender)
			}
		}
		seen := 0
		for _, ev := range u.mx.Messages(room) {
			if u.e.sentInPlain(ev.EventID) {
				continue
			}
			seen++
			if !u.enc.WasDecrypted(ev.EventID) {
				t.Errorf("the client saw a message from %s that was not encrypted", ev.Sender)
			}
		}
		// At least a message and the bridge's answer or notice.
		if seen < 2 || encrypted < seen {
			t.Errorf("the client decrypted %d messages, the portal's history has %d m.room.encrypted events", seen, encrypted)
		}
		t.Logf("room %d: %d events, %d m.room.encrypted in its history; the client decrypted %d messages", i+1, len(resp.Chunk), encrypted, seen)
	}
	for _, err := range u.enc.DecryptFailures() {
		t.Errorf("client: %v", err)
	}
}

// e2bePlainControl sends a message in an unencrypted room and returns its
// text (not remembered as a test message: it must be found).
func e2bePlainControl(t *testing.T, u *user) string {
	t.Helper()
	room, err := u.mx.CreateRoom(map[string]any{"preset": "private_chat", "name": "plaintext control"})
	if err != nil {
		t.Fatalf("create the control room: %v", err)
	}
	text := fmt.Sprintf("plaintext control message zq%d", time.Now().UnixNano())
	id, err := u.mx.SendText(room, text)
	if err != nil {
		t.Fatalf("send the control message: %v", err)
	}
	if _, err := u.mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool { return ev.EventID == id }); err != nil {
		t.Fatalf("the control message did not come back in sync: %v", err)
	}
	return text
}

// exchangeEncrypted is exchange for an encrypted portal: one message each
// way, Megolm-encrypted on Matrix, OTR on the wire.
func (e *env) exchangeEncrypted(t *testing.T, u *user, p *otrPeer, room, label string) {
	t.Helper()
	out := e.text(label + " matrix to libotr")
	u.sendEncrypted(t, room, out, false)
	p.received(t, out)
	in := e.text(label + " libotr to matrix")
	p.Send(in)
	if ev := u.decryptedFromGhost(t, room, p.irc.Nick()); ev.Body() != in {
		t.Fatalf("portal got %q, want %q", ev.Body(), in)
	}
	p.assertWireClean(t, u, out, in)
}

// sendEncrypted sends text (an emote if emote) Megolm-encrypted into room.
func (u *user) sendEncrypted(t *testing.T, room, text string, emote bool) string {
	t.Helper()
	u.e.remember(text)
	send := u.enc.SendText
	if emote {
		send = u.enc.SendEmote
	}
	id, err := send(room, text)
	if err != nil {
		t.Fatalf("send encrypted: %v", err)
	}
	return id
}

// decryptedFromGhost is fromGhost that also checks the message came
// encrypted.
func (u *user) decryptedFromGhost(t *testing.T, room, nick string) teststack.MatrixEvent {
	t.Helper()
	ev := u.fromGhost(t, room, nick)
	if !u.enc.WasDecrypted(ev.EventID) {
		t.Errorf("the message from %s's ghost was not encrypted", nick)
	}
	return ev
}

// decryptedNotice is notice that also checks the notice came encrypted.
func (u *user) decryptedNotice(t *testing.T, room, s string) teststack.MatrixEvent {
	t.Helper()
	ev := u.notice(t, room, s, longWait)
	if !u.enc.WasDecrypted(ev.EventID) {
		t.Errorf("the notice %q was not encrypted", s)
	}
	return ev
}

// encryptedCommand sends `!otr <cmd>` encrypted into the portal and
// returns its event ID once the bot's first reply after it containing want
// has arrived (encrypted).
func (u *user) encryptedCommand(t *testing.T, room, cmd, want string) string {
	t.Helper()
	id, err := u.enc.SendText(room, "!otr "+cmd)
	if err != nil {
		t.Fatalf("send !otr %s: %v", strings.Fields(cmd)[0], err)
	}
	if want == "" {
		return id
	}
	ev, err := u.mx.WaitMessageAfter(longWait, id, room, "", func(ev teststack.MatrixEvent) bool {
		return ev.Sender != u.mx.UserID && strings.Contains(strings.ToLower(ev.Body()), strings.ToLower(want))
	})
	if err != nil {
		t.Fatalf("no reply containing %q to `!otr %s`: %v\nseen:%s", want, strings.Fields(cmd)[0], err, u.roomTranscript(room))
	}
	if !u.enc.WasDecrypted(ev.EventID) {
		t.Errorf("the reply to `!otr %s` was not encrypted", strings.Fields(cmd)[0])
	}
	return id
}

// waitRedactedEncrypted waits until the homeserver serves the encrypted
// event id redacted (its ciphertext gone).
func (u *user) waitRedactedEncrypted(t *testing.T, room, id string) {
	t.Helper()
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/event/" + url.PathEscape(id)
	var ev teststack.MatrixEvent
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if err := u.mx.Do("GET", path, nil, &ev); err == nil && ev.Type == "m.room.encrypted" && ev.Content["ciphertext"] == nil {
			return
		}
	}
	t.Errorf("the encrypted command with the SMP secret was not redacted (type %q)", ev.Type)
}

// e2beHSFiles lists every file of Dendrite's and fails if none is a database.
func e2beHSFiles(t *testing.T, hs *teststack.Homeserver) []string {
	t.Helper()
	files, err := hs.DataFiles()
	if err != nil {
		t.Fatal(err)
	}
	var dbs int
	for _, f := range files {
		if strings.HasSuffix(f, ".db") {
			dbs++
		}
	}
	if dbs == 0 {
		t.Fatalf("no SQLite database among Dendrite's %d files", len(files))
	}
	return files
}

// e2beChannelRoom: a channel's room is encrypted like a portal: lines both
// ways, the plaintext notice and a kick's reason reach the client
// encrypted, and no text from IRC (a kick reason, a QUIT message) goes into
// the room's unencrypted state.
func e2beChannelRoom(t *testing.T, e *env, u *user) string {
	carol := teststack.DialIRC(t, e.irc.Addr(), e.unique("carol"), teststack.IRCClientOptions{})
	dave := teststack.DialIRC(t, e.irc.Addr(), e.unique("dave"), teststack.IRCClientOptions{})
	erin := teststack.DialIRC(t, e.irc.Addr(), e.unique("erin"), teststack.IRCClientOptions{})
	channel := e.ircChannel()
	for _, c := range []*teststack.IRCClient{carol, dave, erin} {
		ircJoin(t, c, channel)
	}
	room := u.joinChannel(t, channel)
	if err := u.enc.WaitRoomEncrypted(wait, room); err != nil {
		t.Fatal(err)
	}
	u.decryptedNotice(t, room, "plaintext on IRC")
	in := e.text("e2be channel line from irc")
	carol.Privmsg(channel, in)
	if ev := u.fromSender(t, room, e.ghost(netLocal, carol.Nick()), in); !u.enc.WasDecrypted(ev.EventID) {
		t.Error("a channel line reached the room unencrypted")
	}
	out := e.text("e2be channel line from matrix")
	u.sendEncrypted(t, room, out, false)
	if l := ircWaitChannel(t, carol, channel, u.nick); l.Text() != out {
		t.Errorf("IRC got %q", l.Text())
	}
	reason := e.text("e2be kick reason")
	carol.Send("KICK " + channel + " " + dave.Nick() + " :" + reason)
	u.decryptedNotice(t, room, reason)
	e2beChannelRefusal(t, e, u, carol, dave, channel, room)
	erinGhost := e.ghost(netLocal, erin.Nick())
	u.waitMember(t, room, erinGhost, "join")
	erin.Quit(e.text("e2be quit message"))
	u.waitMember(t, room, erinGhost, "leave")
	return room
}

// e2beChannelRefusal: a Matrix action in a channel room that IRC refuses
// (an invite into a +i channel by a member without halfop) is explained
// in an encrypted notice replying to it; the unencrypted status event
// names neither the member nor IRC's reason; the invite is taken back.
func e2beChannelRefusal(t *testing.T, e *env, u *user, op, outside *teststack.IRCClient, channel, room string) {
	t.Helper()
	ghost := e.ghost(netLocal, outside.Nick())
	u.waitMember(t, room, ghost, "leave")
	op.Send("MODE " + channel + " +i")
	u.decryptedNotice(t, room, "+i")
	if err := u.mx.Do("POST", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/invite", map[string]any{"user_id": ghost}, nil); err != nil {
		t.Fatal(err)
	}
	// The ghost's earlier invite (when it was added to the room) is not
	// this one: match u's.
	invite, err := u.mx.WaitEvent(longWait, func(ev teststack.MatrixEvent) bool {
		return ev.RoomID == room && ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == ghost &&
			ev.Sender == u.mx.UserID && ev.Str("membership") == "invite"
	})
	if err != nil {
		t.Fatalf("u's invite of %s is not in the room: %v", ghost, err)
	}
	why := "Your invite of " + outside.Nick() + " was not bridged"
	notice := u.decryptedNotice(t, room, why)
	if !strings.Contains(notice.Body(), "not a channel operator") {
		t.Errorf("the notice does not say why: %q", notice.Body())
	}
	if rel, _ := notice.Content["m.relates_to"].(map[string]any); rel == nil || fmt.Sprint(rel["m.in_reply_to"]) != fmt.Sprint(map[string]any{"event_id": invite.EventID}) {
		t.Errorf("the notice does not reply to the invite: %v", notice.Content["m.relates_to"])
	}
	// No file of the homeserver may hold the notice's sentence.
	e.remember(why)
	st := u.messageStatus(t, room, invite.EventID, wait)
	if st.Str("status") == "SUCCESS" {
		t.Errorf("status of a refused invite: %q", st.Str("status"))
	}
	for k, v := range st.Content {
		s := strings.ToLower(fmt.Sprint(v))
		if strings.Contains(s, strings.ToLower(outside.Nick())) || strings.Contains(s, "482") || strings.Contains(s, "operator") {
			t.Errorf("the unencrypted status event carries %s = %q", k, s)
		}
	}
	u.waitMember(t, room, ghost, "leave")
	op.Send("MODE " + channel + " -i")
}
