package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// Timeouts: generous, the machine running CI is small and shared.
const (
	shortWait = 5 * time.Second
	wait      = 30 * time.Second
	longWait  = 90 * time.Second
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// bridgeBinary builds cmd/otrbridge once per test process, or returns
// OTRBRIDGE_BRIDGE_BINARY.
func bridgeBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("OTRBRIDGE_BRIDGE_BINARY"); bin != "" {
		// A binary built elsewhere (another commit, for before/after
		// measurements with the same tests).
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "otrbridge-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		// faultinject: peers named "panic…" make the bridge panic on
		// purpose (bridge/otrsession/fault_inject.go, testPanicInOnePeer).
		binPath, buildErr = teststack.BuildBridge(dir, "faultinject")
	})
	if buildErr != nil {
		t.Fatalf("build the bridge: %v", buildErr)
	}
	return binPath
}

// env is one running stack: Dendrite, three InspIRCd servers (the local
// one, one with flood limits and one without IRCv3 msgid) and the bridge
// configured for all three.
type env struct {
	hs       *teststack.Homeserver
	irc      *teststack.IRCServer
	floodIRC *teststack.IRCServer
	// noMsgidIRC names no message: lines several bridged connections see
	// are recognised by their content only.
	noMsgidIRC *teststack.IRCServer
	bridge     *teststack.Bridge
	// admin has admin permission; in a stack with encryption it is an
	// encrypted client registered before the bridge starts (the bridge
	// tells it that cross-signing failed).
	admin  *user
	dbKind string
	// persistent envs outlive the test that created them (benchmarks share
	// one across runs): helpers register no per-test cleanups.
	persistent bool

	seq atomic.Int64

	mu      sync.Mutex
	secrets []string // every message text the tests sent, for the log grep
	// plainEvents are events sent unencrypted into encrypted rooms on
	// purpose (plainOnPurpose).
	plainEvents map[string]bool
}

// relayOnly is a local user with bridge permission "relay" (no login).
const relayOnly = "relayonly"

const (
	netLocal   = "local"
	netFlood   = "flood"
	netNoMsgid = "nomsgid"
)

// newEnv starts a stack. dbType/dbURI empty means SQLite.
func newEnv(t testing.TB, dbType, dbURI string) *env {
	t.Helper()
	return newEnvWith(t, envOptions{dbType: dbType, dbURI: dbURI})
}

// envOptions are the choices of a stack beyond newEnv's defaults.
type envOptions struct {
	dbType, dbURI string // empty: SQLite
	// encryption makes end-to-bridge encryption the default for new
	// portals (the stack's bridge otherwise leaves it off, because the
	// plain-HTTP MatrixClient cannot decrypt).
	encryption bool
	// messageRequests turns network.limits.message_requests on.
	messageRequests bool
}

// newEnvWith starts a stack with o.
func newEnvWith(t testing.TB, o envOptions) *env {
	t.Helper()
	dbType, dbURI := o.dbType, o.dbURI
	e := &env{dbKind: "sqlite"}
	if dbType != "" {
		e.dbKind = dbType
	}
	e.irc = teststack.InspIRCd(t, teststack.IRCOptions{})
	// The bridge paces at 4 lines back to back then 2 per second; the
	// server tolerates 8 then 2.5 per second, so an unpaced burst of 50
	// lines gets the connection killed while a paced one does not.
	e.floodIRC = teststack.InspIRCd(t, teststack.IRCOptions{FloodLimits: true, FloodBurst: 8, FloodRate: 2.5})
	e.noMsgidIRC = teststack.InspIRCd(t, teststack.IRCOptions{NoMsgid: true})
	e.hs = teststack.Dendrite(t, teststack.HSOptions{})
	if o.encryption {
		enc := e.hs.RegisterEncryptedUser(t, "admin", "password-admin")
		e.admin = &user{e: e, mx: enc.Plain, enc: enc}
	}
	bin := bridgeBinary(t)
	e.bridge = teststack.StartBridge(t, teststack.BridgeOptions{
		Binary: bin,
		HS:     e.hs,
		Networks: []teststack.BridgeNetwork{
			{Key: netLocal, Name: "Local IRC", IRC: e.irc},
			{Key: netFlood, Name: "Flood-limited IRC", IRC: e.floodIRC, FloodBurst: 4, FloodRate: 2},
			{Key: netNoMsgid, Name: "IRC without msgid", IRC: e.noMsgidIRC},
		},
		DatabaseType: dbType,
		DatabaseURI:  dbURI,
		Encryption:   o.encryption,
		Metrics:      true,
		PublicMedia:  true,
		Admin:        "@admin:" + e.hs.ServerName,
		Permissions: map[string]string{
			"@" + relayOnly + ":" + e.hs.ServerName: "relay",
		},
		ExtraConfig: func(cfg map[string]any) {
			// Low enough that the channel limit scenario reaches it quickly.
			nw, _ := cfg["network"].(map[string]any)
			nw["channels"] = map[string]any{"max_per_user": channelLimit}
			if o.messageRequests {
				limits, _ := nw["limits"].(map[string]any)
				limits["message_requests"] = true
			}
		},
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bridge log tail:\n%s", tailFile(e.bridge.LogPath, 6000))
			t.Logf("bridge output tail:\n%s", tailFile(e.bridge.OutPath, 3000))
		}
	})
	return e
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// unique returns a name that is unique within the env.
func (e *env) unique(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, e.seq.Add(1))
}

// text returns a unique message text and remembers it for the log grep.
func (e *env) text(words string) string {
	s := fmt.Sprintf("%s zq%dx%d", words, time.Now().UnixNano()%1e6, e.seq.Add(1))
	e.remember(s)
	return s
}

func (e *env) remember(s string) {
	e.mu.Lock()
	e.secrets = append(e.secrets, s)
	e.mu.Unlock()
}

// user is one Matrix user of the test with a control room (DM with the
// bridge bot) and, after login, an IRC nick.
type user struct {
	e  *env
	mx *teststack.MatrixClient
	// enc is set for users with an end-to-end encryption capable client
	// (newEncryptedUser); mx is then its plain side (same device), whose
	// event list also holds the decrypted events.
	enc     *teststack.EncryptedClient
	control string
	nick    string
	network string
}

// newUser registers a Matrix user and opens the control room with the bot.
func (e *env) newUser(t testing.TB, localpart string) *user {
	t.Helper()
	if localpart == "" {
		localpart = e.unique("mxuser")
	}
	mx, err := e.hs.Register(localpart, "password-"+localpart, false)
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	mx.StartSync()
	if !e.persistent {
		t.Cleanup(mx.StopSync)
	}
	u := &user{e: e, mx: mx}
	u.openControl(t)
	return u
}

// newEncryptedUser is newUser with an end-to-end encryption capable client;
// its control room is encrypted too.
func (e *env) newEncryptedUser(t testing.TB, localpart string) *user {
	t.Helper()
	if localpart == "" {
		localpart = e.unique("mxenc")
	}
	enc := e.hs.RegisterEncryptedUser(t, localpart, "password-"+localpart)
	u := &user{e: e, mx: enc.Plain, enc: enc}
	u.openControl(t)
	return u
}

// openControl creates the user's control room (a DM with the bridge bot)
// and consumes the bot's greeting.
func (u *user) openControl(t testing.TB) {
	t.Helper()
	e, mx := u.e, u.mx
	var room string
	var err error
	if u.enc != nil {
		// Encrypted, as E2EE clients (Element) create DMs by default.
		room, err = mx.CreateRoom(map[string]any{
			"is_direct": true,
			"preset":    "trusted_private_chat",
			"invite":    []string{e.bridge.BotMXID},
			"initial_state": []any{map[string]any{
				"type": "m.room.encryption", "state_key": "",
				"content": map[string]any{"algorithm": "m.megolm.v1.aes-sha2"},
			}},
		})
	} else {
		room, err = mx.CreateDM(e.bridge.BotMXID)
	}
	if err != nil {
		t.Fatalf("create control room: %v", err)
	}
	u.control = room
	if _, err := mx.WaitEvent(wait, func(ev teststack.MatrixEvent) bool {
		return ev.RoomID == room && ev.Type == "m.room.member" && ev.StateKey != nil &&
			*ev.StateKey == e.bridge.BotMXID && ev.Str("membership") == "join"
	}); err != nil {
		t.Fatalf("bot did not join the control room: %v", err)
	}
	if u.enc != nil {
		if err := u.enc.WaitRoomEncrypted(wait, room); err != nil {
			t.Fatal(err)
		}
	}
	// bridgev2 greets in a new management room; consume it so that the
	// next reply is the answer to the next command.
	u.replyContaining(t, wait, "management room")
}

// command sends a command in the control room and returns the bot's first
// reply to it. bridgev2's notices about the login's state ("State update
// for ...") are not replies: after a login one may come at any time.
func (u *user) command(t testing.TB, cmd string) teststack.MatrixEvent {
	t.Helper()
	ev, err := u.mx.WaitMessageAfter(longWait, u.say(t, cmd), u.control, u.e.bridge.BotMXID, func(ev teststack.MatrixEvent) bool {
		return !strings.HasPrefix(ev.Body(), "State update for ")
	})
	if err != nil {
		t.Fatalf("no reply to %q in the control room: %v\nseen: %s", cmd, err, u.controlTranscript())
	}
	return ev
}

// say sends text in the control room and returns its event ID.
func (u *user) say(t testing.TB, text string) string {
	t.Helper()
	send := u.mx.SendText
	if u.enc != nil {
		send = u.enc.SendText // never plaintext into the encrypted control room
	}
	id, err := send(u.control, text)
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	return id
}

// replyTo waits for a bot message in the control room after the event
// afterID ("" for any) containing s (case-insensitive, "" for any).
func (u *user) replyTo(t testing.TB, afterID, s string, timeout time.Duration) teststack.MatrixEvent {
	t.Helper()
	ev, err := u.mx.WaitMessageAfter(timeout, afterID, u.control, u.e.bridge.BotMXID, func(ev teststack.MatrixEvent) bool {
		return strings.Contains(strings.ToLower(ev.Body()), strings.ToLower(s))
	})
	if err != nil {
		t.Fatalf("no bot message containing %q in the control room: %v\nseen: %s", s, err, u.controlTranscript())
	}
	return ev
}

// replyContaining waits for any bot message in the control room containing s.
func (u *user) replyContaining(t testing.TB, timeout time.Duration, s string) teststack.MatrixEvent {
	t.Helper()
	return u.replyTo(t, "", s, timeout)
}

func (u *user) controlTranscript() string {
	var b strings.Builder
	for _, ev := range u.mx.Messages(u.control) {
		fmt.Fprintf(&b, "\n  %s: %s", ev.Sender, ev.Body())
	}
	return b.String()
}

// login logs the user in to network with nick and no password, and waits
// for the confirmation.
func (u *user) login(t testing.TB, network, nick string) {
	t.Helper()
	id := u.say(t, "login irc "+network+" "+nick)
	u.replyTo(t, id, "enter your authentication", wait)
	id = u.say(t, "none")
	u.replyTo(t, id, "Connected to", longWait)
	u.nick, u.network = nick, network
}

// ircServer returns the server of the user's network.
func (e *env) ircFor(network string) *teststack.IRCServer {
	switch network {
	case netFlood:
		return e.floodIRC
	case netNoMsgid:
		return e.noMsgidIRC
	}
	return e.irc
}

// ghost is the Matrix ID of an IRC nick's ghost.
func (e *env) ghost(network, nick string) string { return e.bridge.GhostMXID(network, nick) }

// openPortalFromIRC has peer send a first message to u and returns the DM
// portal the bridge created (joined by u).
func (u *user) portalFromIRC(t testing.TB, peer *teststack.IRCClient, first string) string {
	t.Helper()
	peer.Privmsg(u.nick, first)
	ghost := u.e.ghost(u.network, peer.Nick())
	inv, err := u.mx.WaitChatInvite(wait, "")
	if err != nil {
		t.Fatalf("no portal invite after an IRC PM: %v", err)
	}
	if inv.Content["is_direct"] != true {
		t.Fatalf("portal invite without is_direct: %v", inv.Content)
	}
	if err := u.mx.Join(inv.RoomID); err != nil {
		t.Fatalf("join portal: %v", err)
	}
	ev, err := u.mx.WaitMessage(wait, inv.RoomID, ghost, nil)
	if err != nil {
		t.Fatalf("first message not in the portal: %v", err)
	}
	if ev.Body() != first {
		t.Fatalf("portal got %q, want %q", ev.Body(), first)
	}
	return inv.RoomID
}

// checkLogs fails if any remembered message text is in the bridge's logs.
func (e *env) checkLogs(t testing.TB) {
	t.Helper()
	secrets := e.remembered(t)
	files, _ := filepath.Glob(filepath.Join(e.bridge.Opts.Dir, "*.log*"))
	files = append(files, e.bridge.OutPath)
	total := checkFilesFree(t, files, secrets, "the bridge logs are empty")
	t.Logf("grepped %d bytes of bridge logs for %d test messages", total, len(secrets))
}

// remembered returns every message text and secret the tests sent; it
// fails if there is none, as a search for nothing would prove nothing.
func (e *env) remembered(t testing.TB) []string {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.secrets) == 0 {
		t.Fatal("no test messages were recorded; the check would prove nothing")
	}
	return append([]string(nil), e.secrets...)
}

// checkFilesFree fails the test for each secret found in files, and
// fatally when there was nothing to search (nothing: says why, e.g. "the
// bridge logs are empty"). It returns how many bytes it searched.
func checkFilesFree(t testing.TB, files, secrets []string, nothing string) int {
	t.Helper()
	found, total := grepFiles(t, files, secrets)
	for _, s := range secrets {
		for _, f := range found[s] {
			t.Errorf("%s contains the test message or secret %q", f, s)
		}
	}
	if total == 0 {
		t.Fatal(nothing + "; the check would prove nothing")
	}
	return total
}

// grepFiles searches each file byte for byte for each needle and returns,
// per needle found, the base names of the files holding it, and how many
// bytes it read. A file that no longer exists (a WAL folded back into its
// database) is skipped.
func grepFiles(t testing.TB, files, needles []string) (map[string][]string, int) {
	t.Helper()
	found := map[string][]string{}
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		total += len(data)
		for _, s := range needles {
			if bytes.Contains(data, []byte(s)) {
				found[s] = append(found[s], filepath.Base(f))
			}
		}
	}
	return found, total
}
