package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// say prints one line of the setup, labelled by where it happened and
// wrapped to 80 columns.
func say(who, format string, args ...any) {
	for i, l := range wrap(fmt.Sprintf(format, args...), 60) {
		if i > 0 {
			who = ""
		}
		fmt.Printf("  %-16s %s\n", who, l)
	}
}

// demo starts the stack and the bridge, then plays how a Matrix user
// (alice) meets an IRC user (bob, a libotr client) in a channel and talks
// to him off the record through the bridge.
func demo(dir, bridgeBin string) error {
	bin, err := filepath.Abs(bridgeBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("bridge binary: %w (build it with: go build -tags goolm ./cmd/otrbridge)", err)
	}
	fmt.Println("== Starting the local stack")
	hs, err := start(dir)
	if err != nil {
		return err
	}
	s, err := loadState(dir)
	if err != nil {
		return err
	}
	ircPort := s.IRCPort
	irc := &teststack.IRCServer{Host: "127.0.0.1", Port: ircPort}

	fmt.Println("\n== Configuring the bridge (otrbridge -e, edited for the local stack; otrbridge -g)")
	bdir := filepath.Join(s.Dir, "bridge")
	if err := os.RemoveAll(bdir); err != nil {
		return err
	}
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		return err
	}
	b, err := teststack.ConfigureBridge(teststack.BridgeOptions{
		Binary:   bin,
		Dir:      bdir,
		HS:       hs,
		Networks: []teststack.BridgeNetwork{{Key: "local", Name: "Local IRC", IRC: irc}},
		LogLevel: "info",
		Detach:   true,
	})
	if err != nil {
		return err
	}
	fmt.Printf("  config        %s\n  registration  %s\n", b.ConfigPath, b.RegistrationPath)
	fmt.Println("\n== Restarting Dendrite with the bridge's registration and starting the bridge")
	hs.AddRegistration(b.RegistrationPath)
	if err := hs.RestartErr(); err != nil {
		return err
	}
	s.HSPid = hs.Pid()
	if err := s.save(); err != nil {
		return err
	}
	if err := b.Start(); err != nil {
		return err
	}
	s.BridgePid, s.BridgeConfig, s.BridgeLog = b.Pid(), b.ConfigPath, b.LogPath
	if err := s.save(); err != nil {
		return err
	}
	fmt.Printf("  otrbridge running (pid %d), log %s\n", s.BridgePid, b.LogPath)

	password := "alice-" + randomWord()
	alice, err := hs.Register("alice", password, false)
	if err != nil {
		return fmt.Errorf("create Matrix user alice: %w", err)
	}
	alice.StartSync()
	defer alice.StopSync()
	s.MatrixUser, s.MatrixPassword = alice.UserID, password
	if err := s.save(); err != nil {
		return err
	}

	fmt.Printf("\n== An off-the-record conversation through the bridge\n"+
		"   Matrix user %s; IRC user bob with a libotr 4.1.1 client\n\n", alice.UserID)
	if err := play(s.Dir, alice, irc.Addr(), b); err != nil {
		fmt.Printf("\n  DEMO FAILED: %v\n  bridge log: %s\n  the stack is still running: make demo-stop\n", err, b.LogPath)
		return fmt.Errorf("demo failed: %w", err)
	}

	fmt.Printf(`
== The stack keeps running (bob's libotr client has left)
  Matrix homeserver  %s (server name %s)
  Matrix login       user alice, password %s
                     any client works, e.g. Element with that homeserver;
                     end-to-bridge encryption is off in this demo config
                     (encryption.default, with the explicit consent
                     network.homeserver_may_read_messages) so the scripted
                     client can read the chats
  IRC server         127.0.0.1 port %d, no TLS, e.g.
                       irssi -c 127.0.0.1 -p %d -n dave
                     then /msg alice hello and a new chat appears in Matrix;
                     with irssi-otr or HexChat-otr, /otr init (or !otr init
                     in Matrix) starts a private conversation
  Bridge config      %s
  Bridge log         %s
  Stop everything    make demo-stop   (or scripts/stack.sh stop)
`, s.HSURL, s.HSDomain, password, ircPort, ircPort, b.ConfigPath, b.LogPath)
	return nil
}

func randomWord() string {
	b := make([]byte, 6)
	f, err := os.Open("/dev/urandom")
	if err == nil {
		_, _ = f.Read(b)
		f.Close()
	}
	const letters = "abcdefghijkmnpqrstuvwxyz23456789"
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

const step = 60 * time.Second

// play logs alice in to IRC through the control room, puts bob (libotr)
// on IRC, has them meet in #lobby, opens the chat with him from his name
// there and plays the private conversation.
func play(stateDir string, alice *teststack.MatrixClient, ircAddr string, b *teststack.Bridge) (err error) {
	bot := b.BotMXID
	control, err := alice.CreateDM(bot)
	if err != nil {
		return fmt.Errorf("open the control room: %w", err)
	}
	say("[matrix] alice", "opens a direct chat with %s (the control room)", bot)
	botSays := func(after, contains string) error {
		ev, err := alice.WaitMessageAfter(step, after, control, bot, func(ev teststack.MatrixEvent) bool {
			return strings.Contains(strings.ToLower(ev.Body()), strings.ToLower(contains))
		})
		if err != nil {
			return fmt.Errorf("waiting for the bot to say %q: %w", contains, err)
		}
		say("[matrix] bot", "%s", firstLine(ev.Body()))
		return nil
	}
	if err := botSays("", "management room"); err != nil {
		return err
	}
	command := func(text, expect string) error {
		id, err := alice.SendText(control, text)
		if err != nil {
			return err
		}
		say("[matrix] alice", "%s", text)
		return botSays(id, expect)
	}
	if err := command("login irc local alice", "enter your authentication"); err != nil {
		return err
	}
	if err := command("none", "Connected to"); err != nil {
		return err
	}

	bob, stopBob, err := startBob(stateDir, ircAddr, "alice")
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := stopBob(); err == nil && stopErr != nil {
			err = fmt.Errorf("bob's client on IRC: %w", stopErr)
		}
	}()
	peer := bob.Peer
	say("[irc] bob", "connects with a libotr 4.1.1 client (policy manual, new key)")
	say("[libotr] bob", "fingerprint %s", peer.HumanFP)

	// They meet in a channel: alice joins #lobby from Matrix, bob says
	// hello there in plain text (a channel has no OTR).
	if err := command("join #lobby", "Joined #lobby"); err != nil {
		return err
	}
	inv, err := alice.WaitChatInvite(step, "")
	if err != nil {
		return fmt.Errorf("waiting for the room of #lobby: %w", err)
	}
	lobby := inv.RoomID
	if err := alice.Join(lobby); err != nil {
		return err
	}
	pinned, err := alice.WaitMessage(step, lobby, bot, func(ev teststack.MatrixEvent) bool {
		return strings.Contains(ev.Body(), "plaintext on IRC")
	})
	if err != nil {
		return fmt.Errorf("the room of #lobby has no plaintext notice: %w", err)
	}
	say("[matrix]", "the room of #lobby opens (%s); alice joins. Pinned by the bot: %s", lobby, firstSentence(pinned.Body()))
	if err := bob.Client.Send("JOIN #lobby"); err != nil {
		return err
	}
	if err := waitSeen(bob.Client, func(l teststack.IRCLine) bool {
		return l.Command() == "366" && strings.EqualFold(l.Param(1), "#lobby")
	}); err != nil {
		return fmt.Errorf("bob did not join #lobby: %w", err)
	}
	hello := "hi all, anyone here who uses OTR?"
	bob.Client.Privmsg("#lobby", hello)
	say("[irc] bob", "joins #lobby and says: %s", hello)
	ghost := b.GhostMXID("local", "bob")
	if _, err := alice.WaitMessage(step, lobby, ghost, func(ev teststack.MatrixEvent) bool { return ev.Body() == hello }); err != nil {
		return fmt.Errorf("bob's line never reached #lobby in Matrix: %w", err)
	}
	say("[matrix] #lobby", "<bob> %s", hello)

	// One click: a direct chat with bob's ghost from #lobby's member list
	// (what Element does on "Message"); the bridge makes it bob's DM portal.
	dm, err := alice.CreateDM(ghost)
	if err != nil {
		return fmt.Errorf("open a direct chat with %s: %w", ghost, err)
	}
	say("[matrix] alice", "clicks bob in #lobby and messages him: a new direct chat with %s", ghost)
	if _, err := alice.WaitMessage(step, dm, "", func(ev teststack.MatrixEvent) bool {
		return strings.Contains(ev.Body(), "portal created")
	}); err != nil {
		return fmt.Errorf("the direct chat with bob did not become his portal: %w", err)
	}
	say("[matrix]", "it is the chat with bob (%s), the same one `pm bob` or a /msg from bob opens; OTR works here", dm)
	scene := &otrScene{alice: alice, aliceNick: "alice", portal: dm, ghost: ghost, peer: peer, irc: bob.Client}
	return scene.play()
}

// waitSeen polls until c has received a line matching f (without moving
// the read cursor the OTR glue reads from).
func waitSeen(c *teststack.IRCClient, f func(teststack.IRCLine) bool) error {
	for deadline := time.Now().Add(step); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c.Seen(f) {
			return nil
		}
	}
	return fmt.Errorf("not within %s", step)
}

// firstSentence is s up to its first full stop.
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// visible shows IRC control codes as ^B, ^C, ^A...
func visible(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 {
			b.WriteString("^" + string(rune('@'+r)))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
