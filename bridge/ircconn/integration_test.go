package ircconn

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// These tests run against a real InspIRCd from internal/teststack. Without
// InspIRCd they skip, or fail under OTRBRIDGE_REQUIRE_PEERS=1.

func realConn(t *testing.T, srv *teststack.IRCServer, nick string, mod func(*Config)) (*Conn, *recorder) {
	t.Helper()
	rec := newRecorder()
	cfg := Config{
		Network:      "test",
		Address:      srv.Host,
		Port:         srv.Port,
		PlainText:    true,
		Nick:         nick,
		Flood:        FloodConfig{Burst: 5, Rate: 10},
		ReconnectMin: 100 * time.Millisecond,
		ReconnectMax: time.Second,
		Logger:       zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel),
		Handler:      rec.handle,
	}
	return startConn(t, cfg, mod), rec
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestInspIRCdRegisterConfirmAndExactBytes(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	c, rec := realConn(t, srv, "bridgeuser", nil)
	rec.waitState(t, 10*time.Second, Connected)
	for _, capName := range []string{"echo-message", "labeled-response", "server-time", "message-tags", "batch", "account-tag"} {
		if !c.HasCap(capName) {
			t.Errorf("cap %s not negotiated", capName)
		}
	}
	peer := teststack.DialIRC(t, srv.Addr(), "peer", teststack.IRCClientOptions{})
	r, err := c.Send(ctx10(t), "peer", Privmsg, []string{"hello there"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Confirmed || len(r.MsgIDs) != 1 {
		t.Errorf("receipt %+v: want confirmed with a msgid", r)
	}
	l, err := peer.WaitPrivmsg(5*time.Second, "bridgeuser", false)
	if err != nil {
		t.Fatal(err)
	}
	if l.Text() != "hello there" {
		t.Errorf("peer got %q", l.Text())
	}

	// The own hostmask is learnt, and LineBudget is exact: a line of
	// exactly the budget, ending in whitespace (OTR whitespace tags), arrives
	// byte for byte; one byte more is refused before anything is sent.
	nick, user, host := c.Hostmask()
	if user == "" || host == "" {
		t.Fatalf("own hostmask not learnt: %q %q", user, host)
	}
	budget := c.LineBudget("peer", Privmsg)
	if want := 512 - len(":"+nick+"!"+user+"@"+host+" PRIVMSG peer :\r\n"); budget != want {
		t.Fatalf("budget %d, want %d", budget, want)
	}
	if budget < 400 {
		t.Fatalf("budget %d < 400", budget)
	}
	text := strings.Repeat("0123456789", 50)[:budget-8] + " \t  \t \t "
	if _, err := c.Send(ctx10(t), "peer", Privmsg, []string{text}); err != nil {
		t.Fatal(err)
	}
	l, err = peer.WaitPrivmsg(5*time.Second, "bridgeuser", false)
	if err != nil {
		t.Fatal(err)
	}
	if l.Text() != text {
		t.Errorf("line changed in transit: got %d bytes, want %d", len(l.Text()), len(text))
	}
	if !strings.HasPrefix(l.Raw, ":"+nick+"!"+user+"@"+host+" PRIVMSG peer :") && !strings.Contains(l.Raw, " :"+nick+"!"+user+"@"+host+" PRIVMSG peer :") {
		t.Errorf("relayed prefix differs from the learnt hostmask: %.80q", l.Raw)
	}
	if _, err := c.Send(ctx10(t), "peer", Privmsg, []string{text + "x"}); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("over-budget line: %v", err)
	}

	// Incoming: privmsg (trailing spaces kept), notice, action, server-time.
	peer.Privmsg("bridgeuser", "from peer  ")
	peer.Notice("bridgeuser", "a notice")
	peer.Action("bridgeuser", "waves")
	var got []Message
	for len(got) < 3 {
		ev := rec.waitFor(t, 5*time.Second, "incoming", func(e Event) bool {
			m, ok := e.(Message)
			return ok && m.From.Nick == "peer"
		})
		got = append(got, ev.(Message))
	}
	if got[0].Text != "from peer  " || got[0].Kind != Privmsg || !got[0].ToMe || got[0].Channel {
		t.Errorf("privmsg %+v", got[0])
	}
	if got[1].Kind != Notice || got[2].Kind != Action || got[2].Text != "waves" {
		t.Errorf("notice/action %+v %+v", got[1], got[2])
	}
	if d := time.Since(got[0].Time); d < 0 || d > time.Minute {
		t.Errorf("server-time %v", got[0].Time)
	}

	// WHOIS and the peer's nick change.
	info, err := c.Whois(ctx10(t), "PEER")
	if err != nil || info.Nick != "peer" || info.Server == "" {
		t.Errorf("whois: %+v %v", info, err)
	}
	if err := peer.SetNick("peer2"); err != nil {
		t.Fatal(err)
	}
	// We see peer2 only if we share a channel; the 401 path is covered below.
}

func TestInspIRCdPeerErrors(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	c, rec := realConn(t, srv, "bridgeuser", nil)
	rec.waitState(t, 10*time.Second, Connected)
	_, err := c.Send(ctx10(t), "nosuchnick", Privmsg, []string{"anyone?", "second line"})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Code != "401" || pe.Target != "nosuchnick" {
		t.Fatalf("Send to absent nick: %v, want PeerError 401", err)
	}
	// callerid: a +g user refuses us (716) and the bridge learns it.
	peer := teststack.DialIRC(t, srv.Addr(), "guarded", teststack.IRCClientOptions{})
	peer.Send("MODE guarded +g")
	if _, err := peer.WaitFor(5*time.Second, func(l teststack.IRCLine) bool { return l.Command() == "MODE" }); err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(ctx10(t), "guarded", Privmsg, []string{"let me in"})
	if !errors.As(err, &pe) || pe.Code != "716" {
		t.Fatalf("Send to +g user: %v, want PeerError 716", err)
	}
	// +R: only identified users may message: refused, and the code names it.
	reg := teststack.DialIRC(t, srv.Addr(), "regonly", teststack.IRCClientOptions{})
	reg.Send("MODE regonly +R")
	if _, err := reg.WaitFor(5*time.Second, func(l teststack.IRCLine) bool { return l.Command() == "MODE" }); err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(ctx10(t), "regonly", Privmsg, []string{"hello?"})
	if !errors.As(err, &pe) || pe.Target != "regonly" || pe.Code != "477" {
		t.Fatalf("Send to +R user: %v, want PeerError 477", err)
	}
	// SetNick to a nick in use is refused with 433.
	if err := c.SetNick(ctx10(t), "guarded"); !errors.As(err, &pe) || pe.Code != "433" {
		t.Errorf("SetNick to a taken nick: %v", err)
	}
	if err := c.SetNick(ctx10(t), "renamed"); err != nil || c.Nick() != "renamed" {
		t.Errorf("SetNick: %v, nick %q", err, c.Nick())
	}
	if b := c.LineBudget("x", Privmsg); b != 512-len(":renamed!"+mustUser(c)+" PRIVMSG x :\r\n") {
		t.Errorf("budget after nick change %d", b)
	}
}

func mustUser(c *Conn) string {
	_, u, h := c.Hostmask()
	return u + "@" + h
}

func TestInspIRCdNickInUse(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	holder := teststack.DialIRC(t, srv.Addr(), "alice", teststack.IRCClientOptions{})
	c, rec := realConn(t, srv, "alice", nil)
	ev := rec.waitFor(t, 10*time.Second, "NickRejected", func(e Event) bool { _, ok := e.(NickRejected); return ok }).(NickRejected)
	if ev.Code != "433" || ev.Wanted != "alice" || ev.Trying != "alice_" {
		t.Errorf("NickRejected %+v", ev)
	}
	sc := rec.waitState(t, 10*time.Second, Connected)
	if sc.Nick != "alice_" || c.Nick() != "alice_" {
		t.Errorf("connected as %q / %q", sc.Nick, c.Nick())
	}
	// When the holder leaves, MONITOR tells us and we take the nick back.
	time.Sleep(200 * time.Millisecond)
	holder.Quit("bye")
	nc := rec.waitFor(t, 10*time.Second, "own nick change", func(e Event) bool { n, ok := e.(NickChanged); return ok && n.Self }).(NickChanged)
	if nc.Old != "alice_" || nc.New != "alice" || c.Nick() != "alice" {
		t.Errorf("NickChanged %+v, Nick %q", nc, c.Nick())
	}
}

// A burst of 50 lines on a server that kills excess flood arrives complete,
// in order, and the connection survives; a client that does not pace is
// killed by the same server (so the limits are real).
func TestInspIRCdFloodBurst(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{FloodLimits: true, FloodBurst: 10, FloodRate: 5})

	flooder := teststack.DialIRC(t, srv.Addr(), "flooder", teststack.IRCClientOptions{})
	for i := 0; i < 60; i++ {
		if flooder.Send("PRIVMSG flooder :x") != nil {
			break
		}
	}
	select {
	case <-flooder.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("unpaced client was not disconnected: flood limits are not on")
	}

	c, rec := realConn(t, srv, "bridgeuser", func(cfg *Config) { cfg.Flood = FloodConfig{Burst: 5, Rate: 4} })
	rec.waitState(t, 10*time.Second, Connected)
	peer := teststack.DialIRC(t, srv.Addr(), "peer", teststack.IRCClientOptions{})
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, "line "+strings.Repeat("=", i%7)+string(rune('A'+i%26))+" #"+itoa(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := c.Send(ctx, "peer", Privmsg, lines)
	if err != nil {
		t.Fatalf("Send 50 lines: %v", err)
	}
	if !r.Confirmed || len(r.MsgIDs) != 50 {
		t.Errorf("receipt confirmed=%v msgids=%d", r.Confirmed, len(r.MsgIDs))
	}
	for i, want := range lines {
		l, err := peer.WaitPrivmsg(10*time.Second, "bridgeuser", false)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if l.Text() != want {
			t.Fatalf("line %d: got %q, want %q", i, l.Text(), want)
		}
	}
	if st := c.State(); st != Connected {
		t.Errorf("state %v after the burst", st)
	}
	for _, e := range rec.all() {
		if sc, ok := e.(StateChanged); ok && sc.State == TransientDisconnect {
			t.Errorf("disconnected during the burst: %v", sc.Err)
		}
	}
}

func itoa(i int) string {
	return strings.TrimLeft(string([]byte{byte('0' + i/10), byte('0' + i%10)}), "0")
}

// After the server restarts, the connection comes back by itself and a
// message queued while it was down is delivered; one that was in flight is
// failed explicitly, never dropped.
func TestInspIRCdReconnectAfterRestart(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	gate := make(chan struct{})
	close(gate)
	gateCh := make(chan chan struct{}, 1)
	gateCh <- gate
	dial := func(ctx context.Context) (net.Conn, error) {
		g := <-gateCh
		gateCh <- g
		select {
		case <-g:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Addr())
	}
	c, rec := realConn(t, srv, "bridgeuser", func(cfg *Config) { cfg.Dial = dial })
	rec.waitState(t, 10*time.Second, Connected)

	// Hold reconnects until the peer is back, so the queued message has a recipient.
	held := make(chan struct{})
	<-gateCh
	gateCh <- held
	srv.Stop()
	sc := rec.waitState(t, 10*time.Second, TransientDisconnect)
	if sc.Err == nil {
		t.Error("TransientDisconnect without a cause")
	}
	type res struct {
		r   Receipt
		err error
	}
	done := make(chan res, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := c.Send(ctx, "peer", Privmsg, []string{"sent while down", "second line"})
		done <- res{r, err}
	}()
	// The Send is queued while the server is down.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if user, _ := c.QueueLen(); user > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Send was never queued")
		}
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	peer := teststack.DialIRC(t, srv.Addr(), "peer", teststack.IRCClientOptions{})
	close(held)
	rec.waitState(t, 15*time.Second, Connected)
	r := <-done
	if r.err != nil || !r.r.Confirmed {
		t.Fatalf("queued Send: %+v %v", r.r, r.err)
	}
	for _, want := range []string{"sent while down", "second line"} {
		l, err := peer.WaitPrivmsg(5*time.Second, "bridgeuser", false)
		if err != nil || l.Text() != want {
			t.Fatalf("peer got %q (%v), want %q", l.Text(), err, want)
		}
	}
}

func TestInspIRCdCasemapping(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	c, rec := realConn(t, srv, "Bridge[1]", nil)
	rec.waitState(t, 10*time.Second, Connected)
	peer := teststack.DialIRC(t, srv.Addr(), "Peer[x]", teststack.IRCClientOptions{})
	// InspIRCd 3 without m_codepage folds rfc1459 (or ascii): whatever it
	// announced, our fold must agree with the server's.
	m := c.Casemapping()
	if m == RFC1459 {
		if c.Casefold("PEER[X]") != c.Casefold("peer{x}") {
			t.Fatal("rfc1459 fold broken")
		}
		// The server treats peer{x} as the same user: delivery works.
		if _, err := c.Send(ctx10(t), "peer{x}", Privmsg, []string{"folded"}); err != nil {
			t.Fatal(err)
		}
		if l, err := peer.WaitPrivmsg(5*time.Second, "", false); err != nil || l.Text() != "folded" {
			t.Fatalf("peer got %q (%v)", l.Text(), err)
		}
		// And a DM to "bridge{1}" is for us.
		peer.Privmsg("bridge{1}", "to folded me")
		ev := rec.waitFor(t, 5*time.Second, "message", func(e Event) bool { _, ok := e.(Message); return ok }).(Message)
		if !ev.ToMe {
			t.Errorf("DM to a folded form of our nick not recognised: %+v", ev.Target)
		}
	} else {
		t.Logf("server announced casemapping %v", m)
		if _, err := c.Send(ctx10(t), "PEER[X]", Privmsg, []string{"folded"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInspIRCdTLS(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{TLS: true})
	// Self-signed: verification on fails (transient, retried), off works.
	_, rec := realConn(t, srv, "secure", func(cfg *Config) {
		cfg.PlainText = false
		cfg.Port = srv.TLSPort
		cfg.ReconnectMin = time.Minute
		cfg.ReconnectMax = time.Minute
	})
	sc := rec.waitState(t, 10*time.Second, TransientDisconnect)
	if sc.Err == nil || !strings.Contains(sc.Err.Error(), "certificate") {
		t.Errorf("unverified certificate: %v", sc.Err)
	}
	c2, rec2 := realConn(t, srv, "secure2", func(cfg *Config) {
		cfg.PlainText = false
		cfg.Port = srv.TLSPort
		cfg.InsecureSkipVerify = true
	})
	rec2.waitState(t, 10*time.Second, Connected)
	if _, err := c2.Whois(ctx10(t), "secure2"); err != nil {
		t.Errorf("whois over TLS: %v", err)
	}
}
