package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
	xotr "golang.org/x/crypto/otr"
)

// otrScenario is one off-the-record behaviour; TestOTR runs each against
// a stack on SQLite and TestOTRPostgres against one on PostgreSQL.
type otrScenario struct {
	name string
	run  func(*testing.T, *env)
	// sqliteOnly scenarios store nothing the others do not (policy
	// always is stored by PolicyAlways too) and take long: the 60 s hold
	// timeout, 20 KB through a flood-limited server. They are not
	// repeated on PostgreSQL.
	sqliteOnly bool
}

var otrScenarios = []otrScenario{
	{name: "BridgeInit", run: testOTRBridgeInit},
	{name: "PeerQuery", run: testOTRPeerQuery},
	{name: "PeerWhitespaceTag", run: testOTRWhitespaceTag},
	{name: "V2Peer", run: testOTRV2Peer},
	{name: "XCryptoV2Peer", run: testOTRXCryptoPeer},
	{name: "SMP", run: testOTRSMP},
	{name: "SMPQuestion", run: testOTRSMPQuestion},
	{name: "PeerEnds", run: testOTRPeerEnds},
	{name: "DisconnectInPortal", run: testOTRDisconnectInPortal},
	{name: "PeerError", run: testOTRPeerError},
	{name: "PolicyAlways", run: testOTRPolicyAlways},
	{name: "PolicyAlwaysNoOTR", run: testOTRPolicyAlwaysNoOTR, sqliteOnly: true},
	{name: "LongMessages", run: testOTRLongMessages, sqliteOnly: true},
	{name: "PeerNickChange", run: testOTRNickChange},
	{name: "ServiceRename", run: testOTRServiceRename},
	{name: "IdentHostGuess", run: testIdentHostGuess},
	{name: "PeerKeyChange", run: testOTRKeyChange},
	{name: "PeerRestart", run: testOTRPeerRestart},
	{name: "PeerRestartQuit", run: testOTRPeerRestartQuit},
	{name: "ImpostorAfterQuit", run: testOTRImpostorAfterQuit},
	{name: "PeerRestartSilent", run: testOTRPeerRestartSilent},
	{name: "PeerErrorAnswer", run: testOTRPeerErrorAnswer},
	{name: "BridgeCrashMidSend", run: testBridgeCrashMidSend},
	{name: "Emotes", run: testOTREmotes},
	{name: "QuotesStayPrivate", run: testOTRQuotesStayPrivate},
	{name: "PeerHTML", run: testOTRPeerHTML},
	{name: "ReplyRateLimit", run: testOTRReplyRateLimit},
	{name: "FloodNewPeers", run: testFloodNewPeers, sqliteOnly: true},
	{name: "FloodNotices", run: testFloodNotices, sqliteOnly: true},
	{name: "FloodAutoReplies", run: testFloodAutoReplies, sqliteOnly: true},
	{name: "FloodFragments", run: testFloodFragments, sqliteOnly: true},
	{name: "PanicInOnePeer", run: testPanicInOnePeer, sqliteOnly: true},
	{name: "Genkey", run: testOTRGenkey},
	{name: "ImportKeyNeedsEncryption", run: testOTRImportKeyNeedsEncryption},
	{name: "Metrics", run: testOTRMetrics, sqliteOnly: true},
	{name: "FileOutsideOTR", run: testOTRFileOutsideOTR},
	{name: "MessageKinds", run: testOTRMessageKinds, sqliteOnly: true},
	{name: "BridgeRestart", run: testOTRBridgeRestart},
	{name: "ChannelMeetThenOTR", run: testChannelMeetThenOTR},
	{name: "ChannelPeerDMFirst", run: testChannelPeerDMFirst},
}

// TestOTR runs the off-the-record scenarios against one stack:
// Dendrite, InspIRCd, the bridge on SQLite and libotr 4.1.1 clients on IRC.
func TestOTR(t *testing.T) {
	needOTRPeers(t)
	runOTR(t, newEnv(t, "", ""), false)
}

// TestOTRPostgres runs the scenarios that touch the bridge's database
// (trust store, keys, policies, restarts) with the bridge on PostgreSQL.
func TestOTRPostgres(t *testing.T) {
	needOTRPeers(t)
	dsn := teststack.Postgres(t)
	runOTR(t, newEnv(t, "postgres", dsn), true)
}

// needOTRPeers fails or skips on a missing InspIRCd, Dendrite or libotr
// before any server is started.
func needOTRPeers(t *testing.T) {
	t.Helper()
	needPeers(t)
	otrtest.StartLibotr(t, otrtest.Options{}).Close()
}

func runOTR(t *testing.T, e *env, pg bool) {
	for _, s := range otrScenarios {
		if pg && s.sqliteOnly {
			continue
		}
		t.Run(s.name, func(t *testing.T) { s.run(t, e) })
	}
	t.Run("LogPrivacy", func(t *testing.T) { e.checkLogs(t) })
	t.Run("DatabasePrivacy", func(t *testing.T) { e.checkDatabase(t) })
}

// testOTRBridgeInit: `!otr init` in the portal starts the AKE with a libotr
// client; messages then travel encrypted both ways and the portal shows
// the state.
func testOTRBridgeInit(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	if info := p.Info(); info.State != "encrypted" || info.Version != 3 {
		t.Errorf("libotr: state %s version %d, want encrypted v3", info.State, info.Version)
	}
	u.waitTopic(t, room, "private")
	for i := 0; i < 3; i++ {
		e.exchange(t, u, p, room, fmt.Sprintf("bridge init %d", i))
	}
	if n := p.bridgeLines(u); n < 4 {
		t.Errorf("only %d lines from the bridge on the wire", n)
	}
	info := u.portalCommand(t, room, "info", p.Fingerprint[:8])
	t.Logf("!otr info: %s", info.Body())
}

// testOTRPeerQuery: the peer's query (libotr's default, with its
// multi-line HTML explanation) starts the AKE; the query text never
// shows up in Matrix.
func testOTRPeerQuery(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	p.Query()
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "peer query")
	for _, ev := range u.mx.Messages(room) {
		if ev.Sender == e.ghost(netLocal, p.irc.Nick()) && (strings.Contains(ev.Body(), "?OTR") || strings.Contains(ev.Body(), "Off-the-Record")) {
			t.Errorf("the peer's query reached Matrix: %.80q", ev.Body())
		}
	}
}

// testOTRWhitespaceTag: with policy opportunistic on the bridge, the
// whitespace tag of the peer's first plaintext message starts the AKE; the
// message itself arrives without the tag.
func testOTRWhitespaceTag(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyOpportunistic})
	u.portalCommand(t, room, "policy opportunistic", "opportunistic")
	first := e.text("tagged hello")
	p.Send(first)
	if ev := u.fromGhost(t, room, p.irc.Nick()); ev.Body() != first {
		t.Fatalf("portal got %q, want the message without its whitespace tag", ev.Body())
	}
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "whitespace")
}

// testOTRV2Peer: a libotr client that allows only OTR v2 gets a v2
// conversation.
func testOTRV2Peer(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyAllowV2})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	if info := p.Info(); info.Version != 2 {
		t.Errorf("libotr: version %d, want 2", info.Version)
	}
	e.exchange(t, u, p, room, "v2")
}

// testOTRSMP: verification with a shared secret started from each side, a
// wrong secret, and the trust shown by `!otr info`.
func testOTRSMP(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)

	// Wrong secret, started by the bridge.
	good, bad := e.text("correct horse"), e.text("wrong horse")
	id1, _ := u.portalCommandEv(t, room, "auth "+bad, "Asked")
	p.event(t, "smp", "ASK_FOR_SECRET")
	p.SMPAnswer(good)
	p.event(t, "smp", "FAILURE")
	u.notice(t, room, "FAILED", longWait)
	if info := u.portalCommand(t, room, "info", p.Fingerprint[:8]); strings.Contains(strings.ToLower(info.Body()), "(verified)") ||
		strings.Contains(strings.ToLower(info.Body()), "private (verified)") {
		t.Errorf("after a failed SMP, info says verified: %s", info.Body())
	}

	// Right secret, started by the peer.
	p.SMP(good)
	u.notice(t, room, "wants to verify your identity", longWait)
	id2, _ := u.portalCommandEv(t, room, "auth "+good, "Answered")
	p.event(t, "smp", "SUCCESS")
	u.notice(t, room, "succeeded", longWait)
	if info := u.portalCommand(t, room, "info", p.Fingerprint[:8]); !strings.Contains(info.Body(), "private (verified)") {
		t.Errorf("after the peer's successful SMP, info does not say verified: %s", info.Body())
	}

	// Right secret, started by the bridge: the bridge now trusts the key.
	id3, _ := u.portalCommandEv(t, room, "auth "+good, "Asked")
	p.event(t, "smp", "ASK_FOR_SECRET")
	p.SMPAnswer(good)
	p.event(t, "smp", "SUCCESS")
	u.notice(t, room, "succeeded", longWait)
	info := u.portalCommand(t, room, "info", p.Fingerprint[:8])
	if !strings.Contains(strings.ToLower(info.Body()), "verified") {
		t.Errorf("after a successful SMP, info does not say verified: %s", info.Body())
	}
	u.waitTopic(t, room, "private (verified)")
	// Every command with a secret was redacted (the bot has power in
	// portals). Found by ID: the user's sync may get an already redacted
	// copy, without the secret.
	for _, id := range []string{id1, id2, id3} {
		u.waitRedacted(t, room, id)
	}
	e.exchange(t, u, p, room, "after smp")
}

// testOTRPeerEnds: after the peer ends the conversation, the next Matrix
// message is refused visibly and nothing reaches the wire.
func testOTRPeerEnds(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "before end")
	p.End()
	u.notice(t, room, "has ended the private conversation", longWait)
	u.waitTopic(t, room, "finished")
	before := p.bridgeLines(u)
	refused := e.text("must not leave")
	u.sendPortal(t, room, refused)
	u.notice(t, room, "Not sent", longWait)
	time.Sleep(2 * time.Second)
	if after := p.bridgeLines(u); after != before {
		t.Errorf("%d line(s) reached the wire after the peer ended the conversation", after-before)
	}
	p.assertWireClean(t, u, refused)
}

// testOTRPolicyAlways: under policy always a message is held, the bridge
// starts the AKE itself, and the message goes out encrypted.
func testOTRPolicyAlways(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.portalCommand(t, room, "policy always", "always")
	held := e.text("held until private")
	u.sendPortal(t, room, held)
	p.event(t, "gone_secure", "")
	p.received(t, held)
	p.assertWireClean(t, u, held)
	e.exchange(t, u, p, room, "always")
}

// testOTRLongMessages: 3,000-character and 20 KB messages both ways
// arrive intact through the fragmentation of both sides, on the server
// with flood limits.
func testOTRLongMessages(t *testing.T, e *env) {
	u, p, room := e.otrSetupOn(t, netFlood, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	long := func(label string, size int) string {
		var b strings.Builder
		b.WriteString(e.text(label))
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, " w%05d", i)
		}
		s := b.String()
		e.remember(s)
		return s
	}
	for _, size := range []int{3000, 20000} {
		start := time.Now()
		out := long("long out", size)
		u.sendPortal(t, room, out)
		p.received(t, out)
		in := long("long in", size)
		p.Send(in)
		// The peer paces itself: 20 KB take about 40 s.
		ev, err := u.mx.WaitMessage(longWait, room, e.ghost(netFlood, p.irc.Nick()), func(ev teststack.MatrixEvent) bool {
			return ev.MsgType() == "m.text"
		})
		if err != nil {
			t.Fatalf("the %d-byte message did not reach Matrix: %v", len(in), err)
		}
		if ev.Body() != in {
			t.Fatalf("portal got %d bytes, want the %d-byte message intact", len(ev.Body()), len(in))
		}
		p.assertWireClean(t, u, out[:60], in[:60])
		t.Logf("%d bytes both ways in %s", size, time.Since(start).Round(time.Millisecond))
	}
	for _, l := range p.irc.Lines() {
		if len(l.Raw)+2 > 512 {
			t.Errorf("line of %d bytes exceeds 512", len(l.Raw)+2)
		}
	}
}

// testOTRNickChange: the peer changes nick mid-conversation (the bridge
// sees it in a channel they share); the private conversation continues.
func testOTRNickChange(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	e.shareChannel(t, u, p.irc)
	e.exchange(t, u, p, room, "before nick")
	newNick := e.unique("renamedotr")
	if err := p.glue.SetNick(newNick); err != nil {
		t.Fatal(err)
	}
	u.notice(t, room, newNick, wait)
	out := e.text("after nick matrix to libotr")
	u.sendPortal(t, room, out)
	p.received(t, out)
	in := e.text("after nick libotr to matrix")
	p.Send(in)
	if _, err := u.mx.WaitMessage(wait, room, "", func(ev teststack.MatrixEvent) bool { return ev.Body() == in }); err != nil {
		t.Fatalf("message from the renamed peer did not reach the portal: %v", err)
	}
	p.assertWireClean(t, u, out, in)
	if info := p.Info(); info.State != "encrypted" {
		t.Errorf("libotr state after the nick change: %s", info.State)
	}
}

// testOTRKeyChange: the same nick comes back with another key after a
// verified conversation: a loud warning, and trust does not carry over.
func testOTRKeyChange(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	nick := p.irc.Nick()
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	u.portalCommand(t, room, "trust", "")
	u.waitTopic(t, room, "private (verified)")
	p.irc.Quit("bye")
	p.Close()
	time.Sleep(time.Second)

	p2 := e.otrPeerFor(t, u, nick, otrtest.Options{Policy: otrtest.PolicyManual, KeyFile: keyFile(t, "libotr-bob.key")})
	if p2.Fingerprint == p.Fingerprint {
		t.Fatal("the second peer has the same key")
	}
	p2.Query()
	p2.event(t, "gone_secure", "")
	warn := u.notice(t, room, "NEW OTR key", longWait)
	if !strings.Contains(warn.Body(), "Trust does NOT carry over") {
		t.Errorf("warning does not say that trust does not carry over: %s", warn.Body())
	}
	u.waitTopic(t, room, "private (unverified)")
	info := u.portalCommand(t, room, "info", p2.Fingerprint[:8])
	if strings.Contains(strings.ToLower(info.Body()), "private (verified)") {
		t.Errorf("info shows the new key as verified: %s", info.Body())
	}
	e.exchange(t, u, p2, room, "new key")
}

// keyFile is a libotr key file of otr/testdata.
func keyFile(t *testing.T, name string) string {
	t.Helper()
	root, err := teststack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "otr", "testdata", name)
}

// testOTRPeerError: with policy opportunistic, an `?OTR Error:` from the
// peer makes the bridge start the AKE (libotr's ERROR_START).
func testOTRPeerError(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.portalCommand(t, room, "policy opportunistic", "opportunistic")
	p.irc.Privmsg(u.nick, "?OTR Error: You sent encrypted data to a peer who wasn't expecting it.")
	u.notice(t, room, "reported an error", longWait)
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "after error")
}

// testOTRPolicyAlwaysNoOTR: under policy always, a message to a peer
// without OTR is held, fails visibly after the hold timeout (60 s), and
// never reaches the wire in plaintext.
func testOTRPolicyAlwaysNoOTR(t *testing.T, e *env) {
	u, peer := e.loggedIn(t, netLocal)
	u.say(t, "pm "+peer.Nick())
	room := u.joinInvite(t)
	u.portalCommand(t, room, "policy always", "always")
	held := e.text("never in plaintext")
	id := u.sendPortal(t, room, held)
	// The bridge asks for a private conversation; the plain client ignores it.
	l, err := peer.WaitPrivmsg(wait, u.nick, false)
	if err != nil {
		t.Fatalf("the bridge sent no OTR query: %v", err)
	}
	if !strings.HasPrefix(l.Text(), "?OTR") {
		t.Errorf("first line to a peer without OTR is not an OTR query: %.80q", l.Raw)
	}
	u.notice(t, room, "Not sent", 2*longWait)
	if _, err := u.mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		return ev.RoomID == room && ev.Type == "com.beeper.message_send_status" && strings.Contains(fmt.Sprint(ev.Content), id) &&
			ev.Str("status") != "SUCCESS"
	}); err != nil {
		t.Errorf("no failed message status for the held message: %v", err)
	}
	for _, l := range peer.Lines() {
		if strings.Contains(l.Raw, held) {
			t.Errorf("the held message reached the wire in plaintext: %.80q", l.Raw)
		}
	}
}

// testOTRBridgeRestart: a private, trusted conversation survives a bridge
// restart as far as it can: the session is gone (never stored) and the
// portal says so, an encrypted message from the peer gets a clear notice,
// the next Matrix message waits for a new AKE and goes out encrypted, and
// the trust is still there.
func testOTRBridgeRestart(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	u.portalCommand(t, room, "trust", "")
	u.waitTopic(t, room, "private (verified)")
	e.exchange(t, u, p, room, "before restart")
	ourFP := p.Info().TheirFP

	e.bridge.Restart(t)
	watch := teststack.DialIRC(t, e.irc.Addr(), e.unique("watch"), teststack.IRCClientOptions{})
	waitOnline(t, watch, u.nick, longWait)

	lost := e.text("sent into the lost session")
	p.Send(lost)
	u.notice(t, room, "cannot read", longWait)
	u.notice(t, room, "The bridge restarted", longWait)

	held := e.text("held after restart")
	u.sendPortal(t, room, held)
	p.event(t, "gone_secure", "")
	p.received(t, held)
	// The bridge's key came back from the database (sealed there).
	if got := p.Info().TheirFP; got != ourFP {
		t.Errorf("the bridge's fingerprint changed across the restart: %s, was %s", got, ourFP)
	}
	in := e.text("after restart libotr to matrix")
	p.Send(in)
	if _, err := u.mx.WaitMessage(wait, room, "", func(ev teststack.MatrixEvent) bool { return ev.Body() == in }); err != nil {
		t.Fatalf("message after recovery did not reach the portal: %v", err)
	}
	for _, ev := range u.mx.Messages(room) {
		if ev.Body() == lost {
			t.Errorf("the unreadable message showed up in Matrix")
		}
	}
	p.assertWireClean(t, u, lost, held, in)
	info := u.portalCommand(t, room, "info", p.Fingerprint[:8])
	if !strings.Contains(info.Body(), "private (verified)") {
		t.Errorf("trust did not survive the restart: %s", info.Body())
	}
}

// testOTRSMPQuestion: verification with a question, asked by each side;
// the Matrix event that carried the secret is redacted.
func testOTRSMPQuestion(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	answer := e.text("blue")
	answer = strings.ReplaceAll(answer, " ", "-")
	e.remember(answer)

	// The peer asks.
	p.SMPQuestion("favourite colour?", answer)
	ask := u.notice(t, room, "wants to verify your identity and asks", longWait)
	if !strings.Contains(ask.Body(), "favourite colour?") {
		t.Errorf("the question is not in the notice: %s", ask.Body())
	}
	u.portalCommand(t, room, "auth "+answer, "Answered")
	p.event(t, "smp", "SUCCESS")
	// Answering a question proves us to the peer, not the peer to us (as
	// in libotr): no trust yet.
	u.notice(t, room, "verified you successfully", longWait)
	u.waitTopic(t, room, "private (unverified)")

	// The bridge asks.
	id, err := u.mx.SendText(room, "!otr authq colour? "+answer)
	if err != nil {
		t.Fatal(err)
	}
	q := p.event(t, "smp", "ASK_FOR_ANSWER")
	t.Logf("libotr got the question (%d hex digits)", len(q.Args["question"]))
	p.SMPAnswer(answer)
	p.event(t, "smp", "SUCCESS")
	u.notice(t, room, "succeeded", longWait)
	u.waitTopic(t, room, "private (verified)")
	u.waitRedacted(t, room, id)

	// Again in irssi's form: a quoted question with spaces, a quoted secret.
	const question = "Where did we first meet?"
	id, err = u.mx.SendText(room, `!otr authq "`+question+`" "`+answer+`"`)
	if err != nil {
		t.Fatal(err)
	}
	q = p.event(t, "smp", "ASK_FOR_ANSWER")
	if got, err := hex.DecodeString(q.Args["question"]); err != nil || string(got) != question {
		t.Errorf("libotr got the question %q (%v), want %q", got, err, question)
	}
	p.SMPAnswer(answer)
	p.event(t, "smp", "SUCCESS")
	if _, err := u.mx.WaitMessageAfter(longWait, id, room, "", func(ev teststack.MatrixEvent) bool {
		return strings.Contains(ev.Body(), "succeeded")
	}); err != nil {
		t.Errorf("no success notice after the quoted authq: %v", err)
	}
	u.waitRedacted(t, room, id)
}

// waitRedacted waits until the event id in room has no content left.
func (u *user) waitRedacted(t *testing.T, room, id string) {
	t.Helper()
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/event/" + url.PathEscape(id)
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		var ev teststack.MatrixEvent
		if err := u.mx.Do("GET", path, nil, &ev); err == nil && ev.Body() == "" {
			return
		}
	}
	t.Errorf("the event with the SMP secret was not redacted")
}

// testOTRPeerRestart: the peer's client restarts (same key, new instance
// tag) and starts a new conversation; messages go to the new instance and
// stay encrypted.
func testOTRPeerRestart(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	nick := p.irc.Nick()
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "before peer restart")
	p.irc.Quit("restarting")
	p.Close()
	time.Sleep(time.Second)
	p2 := e.otrPeerFor(t, u, nick, otrtest.Options{Policy: otrtest.PolicyManual})
	if p2.InstanceTag == p.InstanceTag {
		t.Fatal("the restarted peer kept its instance tag")
	}
	p2.Query()
	p2.goSecure(t, u, room)
	e.exchange(t, u, p2, room, "after peer restart")
}

// xPeer is golang.org/x/crypto/otr (OTR v2 only) on IRC, driven
// synchronously by the test.
type xPeer struct {
	c    *xotr.Conversation
	irc  *teststack.IRCClient
	from string
	sent []string
	msgs []string
	keys int // NewKeys changes seen
}

func (x *xPeer) send(t *testing.T, lines [][]byte) {
	t.Helper()
	for _, l := range lines {
		x.sent = append(x.sent, string(l))
		if err := x.irc.Send("PRIVMSG " + x.from + " :" + string(l)); err != nil {
			t.Fatal(err)
		}
	}
}

// pump handles lines from the bridge until done says so.
func (x *xPeer) pump(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(longWait)
	for !done() {
		l, err := x.irc.WaitPrivmsg(time.Until(deadline), x.from, false)
		if err != nil {
			t.Fatalf("x/crypto/otr peer: %s: %v", what, err)
		}
		out, enc, change, toSend, err := x.c.Receive([]byte(l.Text()))
		if err != nil {
			t.Fatalf("x/crypto/otr peer: %s: receive: %v", what, err)
		}
		if len(out) > 0 && enc {
			x.msgs = append(x.msgs, string(out))
		}
		if change == xotr.NewKeys {
			x.keys++
		}
		x.send(t, toSend)
	}
}

// testOTRXCryptoPeer: golang.org/x/crypto/otr, an independent v2-only
// implementation, as the IRC peer: `!otr init`, then messages both ways.
func testOTRXCryptoPeer(t *testing.T, e *env) {
	u := e.newUser(t, "")
	u.login(t, netLocal, e.unique("mx"))
	nick := e.unique("xotr")
	var key xotr.PrivateKey
	key.Generate(rand.Reader)
	x := &xPeer{c: &xotr.Conversation{PrivateKey: &key, FragmentSize: 400}, from: u.nick,
		irc: teststack.DialIRC(t, e.irc.Addr(), nick, teststack.IRCClientOptions{})}
	u.say(t, "pm "+nick)
	room := u.joinInvite(t)
	u.mx.SendText(room, "!otr init")
	x.pump(t, "AKE", func() bool { return x.keys > 0 })
	if !x.c.IsEncrypted() {
		t.Fatal("x/crypto/otr is not encrypted after the AKE")
	}
	u.notice(t, room, "Private conversation with", longWait)
	info := u.portalCommand(t, room, "info", "v2")
	t.Logf("!otr info: %.60s", info.Body())

	out := e.text("matrix to x/crypto")
	u.sendPortal(t, room, out)
	x.pump(t, "message", func() bool { return len(x.msgs) > 0 })
	if x.msgs[0] != out {
		t.Fatalf("x/crypto/otr got %q, want %q", x.msgs[0], out)
	}
	in := e.text("x/crypto to matrix")
	lines, err := x.c.Send([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	x.send(t, lines)
	if ev := u.fromGhost(t, room, nick); ev.Body() != in {
		t.Fatalf("portal got %q, want %q", ev.Body(), in)
	}
	for _, l := range x.irc.Lines() {
		if strings.Contains(l.Raw, out) || strings.Contains(l.Raw, in) {
			t.Errorf("plaintext on the wire: %.80q", l.Raw)
		}
	}
	for _, l := range x.sent {
		if strings.Contains(l, in) {
			t.Errorf("x/crypto/otr sent plaintext: %.80q", l)
		}
	}
}
