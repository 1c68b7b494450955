package ircconn

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/rs/zerolog"
)

func TestRegistrationRequestsOfferedCaps(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	if m := fc.expect(t, "CAP"); strings.Join(m.Params, " ") != "LS 302" {
		t.Fatalf("first line CAP %v, want CAP LS 302", m.Params)
	}
	fc.expect(t, "NICK")
	if m := fc.expect(t, "USER"); m.Params[0] != "u" {
		t.Fatalf("USER %v", m.Params)
	}
	// multi-line LS
	fc.send(":srv.test CAP * LS * :message-tags server-time sasl=PLAIN,EXTERNAL draft/chathistory extended-join",
		":srv.test CAP * LS * :echo-message labeled-response batch away-notify account-tag chghost account-notify",
		":srv.test CAP * LS :multi-prefix userhost-in-names invite-notify setname extended-monitor")
	req := fc.expect(t, "CAP")
	want := "message-tags server-time echo-message labeled-response account-tag batch chghost " +
		"extended-join account-notify away-notify multi-prefix userhost-in-names invite-notify setname extended-monitor"
	if req.Params[0] != "REQ" || req.Params[1] != want {
		t.Fatalf("CAP %v, want REQ %q", req.Params, want)
	}
	fc.send(":srv.test CAP * ACK :" + want)
	if m := fc.expect(t, "CAP"); m.Params[0] != "END" {
		t.Fatalf("CAP %v, want END", m.Params)
	}
	if st := c.State(); st != Connecting {
		t.Fatalf("state %v before welcome", st)
	}
	fc.welcome(t, "me")
	sc := rec.waitState(t, 2*time.Second, Connected)
	if sc.Nick != "me" {
		t.Errorf("Connected nick %q", sc.Nick)
	}
	for _, name := range strings.Fields(want) {
		if !c.HasCap(name) {
			t.Errorf("cap %s not recorded", name)
		}
	}
	if c.HasCap("draft/chathistory") {
		t.Error("draft/chathistory recorded but not requested")
	}
	fc.send(":me!~u@host.example CHGHOST newuser cloak.example")
	deadline := time.Now().Add(time.Second)
	for {
		if _, u, h := c.Hostmask(); u == "newuser" && h == "cloak.example" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("CHGHOST for us not applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSendRightAfterStartIsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		rec := newRecorder()
		c, err := New(Config{Nick: "me", Dial: fn.dial, Handler: rec.handle, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Start()
		ch := sendAsync(c, "bob", Privmsg, "early")
		fc := fn.next(t)
		fc.register(t, "me", "")
		if m := fc.expect(t, "PRIVMSG"); m.Params[1] != "early" {
			t.Fatalf("PRIVMSG %v", m.Params)
		}
		if r := waitResult(t, ch); r.err != nil {
			t.Fatal(r.err)
		}
	})
}

func TestSASLPlain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		_, rec := pipeConn(t, fn, func(c *Config) { c.SASLAccount, c.SASLPassword = "acct", "s3cret" })
		fc := fn.next(t)
		fc.expect(t, "CAP")
		fc.expect(t, "NICK")
		fc.expect(t, "USER")
		fc.send(":srv.test CAP * LS :sasl=PLAIN message-tags")
		req := fc.expect(t, "CAP")
		if req.Params[1] != "message-tags sasl" {
			t.Fatalf("REQ %q", req.Params[1])
		}
		fc.send(":srv.test CAP * ACK :message-tags sasl")
		if m := fc.expect(t, "AUTHENTICATE"); m.Params[0] != "PLAIN" {
			t.Fatalf("AUTHENTICATE %v", m.Params)
		}
		fc.send("AUTHENTICATE +")
		m := fc.expect(t, "AUTHENTICATE")
		raw, err := base64.StdEncoding.DecodeString(m.Params[0])
		if err != nil || string(raw) != "acct\x00acct\x00s3cret" {
			t.Fatalf("SASL payload %q (%v)", raw, err)
		}
		fc.send(":srv.test 900 me me!u@h acct :You are now logged in as acct", ":srv.test 903 me :SASL successful")
		if m := fc.expect(t, "CAP"); m.Params[0] != "END" {
			t.Fatalf("CAP %v", m.Params)
		}
		fc.welcome(t, "me")
		rec.waitState(t, 2*time.Second, Connected)
		fc.nothing(t, 200*time.Millisecond) // no NickServ IDENTIFY after SASL
	})
}

func TestSASLBadCredentialsIsTerminal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(c *Config) { c.SASLAccount, c.SASLPassword = "acct", "wrong" })
		fc := fn.next(t)
		fc.expect(t, "CAP")
		fc.expect(t, "NICK")
		fc.expect(t, "USER")
		fc.send(":srv.test CAP * LS :sasl")
		fc.expect(t, "CAP")
		fc.send(":srv.test CAP * ACK :sasl")
		fc.expect(t, "AUTHENTICATE")
		fc.send("AUTHENTICATE +")
		fc.expect(t, "AUTHENTICATE")
		fc.send(":srv.test 904 me :SASL authentication failed")
		sc := rec.waitState(t, 2*time.Second, BadCredentials)
		if sc.Err == nil || strings.Contains(sc.Err.Error(), "wrong") {
			t.Errorf("error %v (must exist and not contain the password)", sc.Err)
		}
		fc.closed(t)
		time.Sleep(200 * time.Millisecond) // several backoff periods
		if n := fn.dialCount(); n != 1 {
			t.Errorf("%d dials after bad credentials, want 1 (no reconnect loop)", n)
		}
		if _, err := c.Send(context.Background(), "bob", Privmsg, []string{"x"}); !errors.Is(err, ErrStopped) {
			t.Errorf("Send in BadCredentials: %v, want ErrStopped", err)
		}
		// Reconnect leaves the terminal state.
		c.Reconnect()
		fn.next(t).expect(t, "CAP")
	})
}

func TestSASLNotOfferedIsFatal(t *testing.T) {
	fn := newFakeNet(t)
	_, rec := pipeConn(t, fn, func(c *Config) { c.SASLAccount, c.SASLPassword = "acct", "pw" })
	fc := fn.next(t)
	fc.expect(t, "CAP")
	fc.expect(t, "NICK")
	fc.expect(t, "USER")
	fc.send(":srv.test CAP * LS :message-tags")
	rec.waitState(t, 2*time.Second, Fatal)
}

func TestNickServIdentifyAndRejection(t *testing.T) {
	fn := newFakeNet(t)
	_, rec := pipeConn(t, fn, func(c *Config) { c.NickServPassword = "nspw" })
	fc := fn.next(t)
	fc.register(t, "me", "")
	m := fc.expect(t, "PRIVMSG")
	if m.Params[0] != "NickServ" || m.Params[1] != "IDENTIFY nspw" {
		t.Fatalf("PRIVMSG %v", m.Params)
	}
	rec.waitState(t, 2*time.Second, Connected)
	fc.send(":NickServ!s@services NOTICE me :Invalid password for me.")
	rec.waitState(t, 2*time.Second, BadCredentials)
}

func TestNickInUseDuringRegistration(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.expect(t, "CAP")
	fc.expect(t, "NICK")
	fc.expect(t, "USER")
	fc.send(":srv.test CAP * LS :", ":srv.test 433 * me :Nickname is already in use")
	fc.expect(t, "CAP") // END
	if m := fc.expect(t, "NICK"); m.Params[0] != "me_" {
		t.Fatalf("NICK %v, want me_", m.Params)
	}
	ev := rec.waitFor(t, 2*time.Second, "NickRejected", func(e Event) bool { _, ok := e.(NickRejected); return ok }).(NickRejected)
	if ev.Wanted != "me" || ev.Code != "433" || ev.Trying != "me_" || ev.Registered {
		t.Errorf("NickRejected %+v", ev)
	}
	fc.send(":srv.test 433 * me_ :Nickname is already in use")
	if m := fc.expect(t, "NICK"); m.Params[0] != "me__" {
		t.Fatalf("NICK %v, want me__", m.Params)
	}
	fc.send(":srv.test 001 me__ :Welcome",
		":srv.test 005 me__ MONITOR=100 :are supported",
		":srv.test 376 me__ :End of MOTD")
	fc.expect(t, "USERHOST")
	if m := fc.expect(t, "MONITOR"); strings.Join(m.Params, " ") != "+ me" {
		t.Fatalf("MONITOR %v", m.Params)
	}
	rec.waitState(t, 2*time.Second, Connected)
	if c.Nick() != "me__" {
		t.Errorf("Nick() = %q", c.Nick())
	}
	// The holder of our nick leaves: we take it back.
	fc.send(":srv.test 731 me__ :me")
	if m := fc.expect(t, "NICK"); m.Params[0] != "me" {
		t.Fatalf("NICK %v, want me (reclaim)", m.Params)
	}
	fc.send(":me__!~u@host.example NICK :me")
	ev2 := rec.waitFor(t, 2*time.Second, "own NickChanged", func(e Event) bool { n, ok := e.(NickChanged); return ok && n.Self }).(NickChanged)
	if ev2.Old != "me__" || ev2.New != "me" || c.Nick() != "me" {
		t.Errorf("NickChanged %+v, Nick %q", ev2, c.Nick())
	}
}

func TestSetNickAfterRegistration(t *testing.T) {
	fn := newFakeNet(t)
	c, _ := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.register(t, "me", "")
	done := make(chan error, 1)
	go func() { done <- c.SetNick(context.Background(), "taken") }()
	fc.expect(t, "NICK")
	fc.send(":srv.test 433 me taken :Nickname is already in use")
	var pe *PeerError
	if err := <-done; !errors.As(err, &pe) || pe.Code != "433" {
		t.Fatalf("SetNick: %v, want PeerError 433", err)
	}
	go func() { done <- c.SetNick(context.Background(), "Free") }()
	fc.expect(t, "NICK")
	fc.send(":me!~u@host.example NICK Free")
	if err := <-done; err != nil {
		t.Fatalf("SetNick: %v", err)
	}
	if c.Nick() != "Free" {
		t.Errorf("Nick() = %q", c.Nick())
	}
}

func TestLabeledConfirmation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, nil)
		fc := fn.next(t)
		fc.register(t, "me", allCaps)
		rec.waitState(t, 2*time.Second, Connected)
		ch := sendAsync(c, "Bob", Privmsg, "one", "two ", ":three")
		var labels []string
		for i, want := range []string{"one", "two ", ":three"} {
			m := fc.expect(t, "PRIVMSG")
			ok, l := m.GetTag("label")
			if !ok || m.Params[0] != "Bob" || m.Params[1] != want {
				t.Fatalf("line %d: %v label %q", i, m.Params, l)
			}
			labels = append(labels, l)
		}
		select {
		case r := <-ch:
			t.Fatalf("Send returned before confirmation: %+v", r)
		case <-time.After(100 * time.Millisecond):
		}
		fc.send("@label="+labels[0]+";msgid=m1;time=2026-01-02T03:04:05.000Z :me!~u@host.example PRIVMSG Bob :one",
			// away reply and echo in a labeled batch
			"@label="+labels[1]+" :srv.test BATCH +b1 labeled-response",
			"@batch=b1 :srv.test 301 me Bob :gone fishing",
			"@batch=b1;msgid=m2 :me!~u@host.example PRIVMSG Bob :two ",
			":srv.test BATCH -b1",
			"@label="+labels[2]+" :srv.test ACK")
		r := waitResult(t, ch)
		if r.err != nil || !r.receipt.Confirmed {
			t.Fatalf("Send: %+v %v", r.receipt, r.err)
		}
		if strings.Join(r.receipt.MsgIDs, ",") != "m1,m2" {
			t.Errorf("msgids %v", r.receipt.MsgIDs)
		}
		away := rec.waitFor(t, time.Second, "away notice", func(e Event) bool { _, ok := e.(PeerNotice); return ok }).(PeerNotice)
		if away.Nick != "Bob" || away.Code != "301" || away.Text != "gone fishing" {
			t.Errorf("PeerNotice %+v", away)
		}
		// The same away text again is not reported twice.
		ch = sendAsync(c, "bob", Privmsg, "again")
		m := fc.expect(t, "PRIVMSG")
		_, l := m.GetTag("label")
		fc.send("@label="+l+" :srv.test BATCH +b2 labeled-response",
			"@batch=b2 :srv.test 301 me bob :gone fishing",
			"@batch=b2 :me!~u@host.example PRIVMSG bob :again",
			":srv.test BATCH -b2")
		if r := waitResult(t, ch); r.err != nil {
			t.Fatal(r.err)
		}
		time.Sleep(50 * time.Millisecond)
		n := 0
		for _, e := range rec.all() {
			if _, ok := e.(PeerNotice); ok {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d away notices, want 1", n)
		}
	})
}

func TestLabeledPeerErrorStopsMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(c *Config) { c.Flood = FloodConfig{Burst: 1, Rate: 4} })
		fc := fn.next(t)
		fc.register(t, "me", allCaps)
		rec.waitState(t, 2*time.Second, Connected)
		time.Sleep(600 * time.Millisecond) // let the bucket recover from registration
		ch := sendAsync(c, "ghost", Privmsg, "a", "b", "c")
		m := fc.expect(t, "PRIVMSG")
		_, l := m.GetTag("label")
		fc.send("@label=" + l + " :srv.test 401 me ghost :No such nick/channel")
		r := waitResult(t, ch)
		var pe *PeerError
		if !errors.As(r.err, &pe) || pe.Code != "401" || pe.Target != "ghost" {
			t.Fatalf("Send: %v, want PeerError 401", r.err)
		}
		fc.nothing(t, 500*time.Millisecond) // the other lines are not sent
		for _, e := range rec.all() {
			if _, ok := e.(PeerNotice); ok {
				t.Errorf("401 answered a Send but was also reported as %+v", e)
			}
		}
	})
}

func TestEchoConfirmationAndPeerError(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.register(t, "me", "echo-message server-time")
	rec.waitState(t, 2*time.Second, Connected)
	ch := sendAsync(c, "bob", Action, "waves")
	m := fc.expect(t, "PRIVMSG")
	if m.Params[1] != "\x01ACTION waves\x01" || m.HasTag("label") {
		t.Fatalf("PRIVMSG %q", m.Params)
	}
	fc.send(":me!~u@host.example PRIVMSG BOB :\x01ACTION waves\x01") // casemapped target
	if r := waitResult(t, ch); r.err != nil || !r.receipt.Confirmed {
		t.Fatalf("Send: %+v %v", r.receipt, r.err)
	}
	ch = sendAsync(c, "nobody", Notice, "hi")
	fc.expect(t, "NOTICE")
	fc.send(":srv.test 401 me nobody :No such nick")
	var pe *PeerError
	if r := waitResult(t, ch); !errors.As(r.err, &pe) || pe.Code != "401" {
		t.Fatalf("Send: %v", r.err)
	}
	// An unmatched 401 is an event.
	fc.send(":srv.test 401 me someone :No such nick")
	pn := rec.waitFor(t, time.Second, "PeerNotice", func(e Event) bool { _, ok := e.(PeerNotice); return ok }).(PeerNotice)
	if pn.Nick != "someone" || pn.Code != "401" {
		t.Errorf("PeerNotice %+v", pn)
	}
}

func TestUnconfirmedTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(c *Config) { c.ConfirmTimeout = 200 * time.Millisecond })
		fc := fn.next(t)
		fc.register(t, "me", "echo-message")
		rec.waitState(t, 2*time.Second, Connected)
		ch := sendAsync(c, "bob", Privmsg, "lost")
		fc.expect(t, "PRIVMSG")
		if r := waitResult(t, ch); !errors.Is(r.err, ErrUnconfirmed) {
			t.Fatalf("Send: %v, want ErrUnconfirmed", r.err)
		}
		// The stale entry must not swallow the next echo.
		ch = sendAsync(c, "bob", Privmsg, "next")
		fc.expect(t, "PRIVMSG")
		fc.send(":me!~u@h PRIVMSG bob :next")
		if r := waitResult(t, ch); r.err != nil {
			t.Fatalf("Send: %v", r.err)
		}
	})
}

func TestNoConfirmationWithoutCaps(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.register(t, "me", "")
	rec.waitState(t, 2*time.Second, Connected)
	ch := sendAsync(c, "bob", Privmsg, "plain")
	fc.expect(t, "PRIVMSG")
	r := waitResult(t, ch)
	if r.err != nil || r.receipt.Confirmed {
		t.Fatalf("Send: %+v %v", r.receipt, r.err)
	}
}

func TestMessagesNeverInterleave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, func(c *Config) { c.Flood = FloodConfig{Burst: 2, Rate: 200} })
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, 2*time.Second, Connected)
		const senders, lines = 6, 8
		var chans []chan sendResult
		for s := 0; s < senders; s++ {
			var ls []string
			for i := 0; i < lines; i++ {
				ls = append(ls, string(rune('A'+s))+strings.Repeat("x", i+1))
			}
			chans = append(chans, sendAsync(c, "bob", Privmsg, ls...))
		}
		// Interleaved PINGs from the server must not break message grouping.
		fc.send("PING :a")
		var got []string
		for len(got) < senders*lines {
			select {
			case l := <-fc.lines:
				if m, err := ircmsg.ParseLine(l); err == nil && m.Command == "PRIVMSG" {
					got = append(got, m.Params[1])
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("got %d lines", len(got))
			}
		}
		for i := 0; i < len(got); i += lines {
			for j := 0; j < lines; j++ {
				want := string(got[i][0]) + strings.Repeat("x", j+1)
				if got[i+j] != want {
					t.Fatalf("line %d is %q, want %q: messages interleaved or out of order: %v", i+j, got[i+j], want, got)
				}
			}
		}
		for _, ch := range chans {
			if r := waitResult(t, ch); r.err != nil {
				t.Fatal(r.err)
			}
		}
	})
}

func TestSendValidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, nil)
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, 2*time.Second, Connected)
		ctx := context.Background()
		budget := c.LineBudget("bob", Privmsg)
		// ":me!~u@host.example PRIVMSG bob :\r\n" is 35 bytes
		if budget != 512-35 {
			t.Errorf("LineBudget = %d, want %d", budget, 512-35)
		}
		if b := c.LineBudget("bob", Action); b != budget-9 {
			t.Errorf("action budget %d", b)
		}
		for _, tc := range []struct {
			target string
			lines  []string
			want   error
		}{
			{"bob", []string{"ok", strings.Repeat("x", budget+1)}, ErrLineTooLong},
			{"bob", []string{"a\r\nQUIT"}, ErrBadLine},
			{"bob", []string{""}, ErrBadLine},
			{"bob", nil, ErrBadLine},
			{"bob carol", []string{"x"}, ErrBadTarget},
			{"", []string{"x"}, ErrBadTarget},
		} {
			if _, err := c.Send(ctx, tc.target, Privmsg, tc.lines); !errors.Is(err, tc.want) {
				t.Errorf("Send(%q, %d lines): %v, want %v", tc.target, len(tc.lines), err, tc.want)
			}
		}
		fc.nothing(t, 100*time.Millisecond)
		// exactly at the budget is fine
		ch := sendAsync(c, "bob", Privmsg, strings.Repeat("y", budget))
		m := fc.expect(t, "PRIVMSG")
		if len(":me!~u@host.example PRIVMSG bob :"+m.Params[1]+"\r\n") != 512 {
			t.Error("relayed line would not be exactly 512 bytes")
		}
		waitResult(t, ch)
	})
}

func TestIncomingMessages(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.register(t, "me", allCaps)
	rec.waitState(t, 2*time.Second, Connected)
	fc.send("@time=2026-03-04T05:06:07.123Z;account=bobacct;msgid=x1 :Bob!bob@bob.host PRIVMSG ME :hi there  \t ",
		":Bob!bob@bob.host NOTICE me :a notice",
		":Bob!bob@bob.host PRIVMSG me :\x01ACTION dances\x01",
		":Carol!c@h PRIVMSG #chan :channel talk",
		":Carol!c@h PRIVMSG @#chan :ops talk",
		":srv.test NOTICE me :*** server notice",
		":Bob!bob@bob.host PRIVMSG me :\x01VERSION\x01")
	var msgs []Message
	for len(msgs) < 6 {
		ev := rec.waitFor(t, 2*time.Second, "messages", func(e Event) bool { _, ok := e.(Message); return ok })
		msgs = append(msgs, ev.(Message))
	}
	m0 := msgs[0]
	if m0.Text != "hi there  \t " || !m0.ToMe || m0.Channel || m0.Kind != Privmsg || m0.From.Nick != "Bob" ||
		m0.From.User != "bob" || m0.From.Host != "bob.host" || m0.Account != "bobacct" || m0.MsgID != "x1" ||
		!m0.Time.Equal(time.Date(2026, 3, 4, 5, 6, 7, 123e6, time.UTC)) {
		t.Errorf("message 0: %+v", m0)
	}
	if msgs[1].Kind != Notice || msgs[1].Text != "a notice" || !msgs[1].ToMe {
		t.Errorf("message 1: %+v", msgs[1])
	}
	if msgs[2].Kind != Action || msgs[2].Text != "dances" {
		t.Errorf("message 2: %+v", msgs[2])
	}
	if !msgs[3].Channel || msgs[3].ToMe || !msgs[4].Channel {
		t.Errorf("channel messages: %+v %+v", msgs[3], msgs[4])
	}
	if !msgs[5].From.Server || msgs[5].Kind != Notice {
		t.Errorf("server notice: %+v", msgs[5])
	}
	reply := fc.expect(t, "NOTICE")
	if reply.Params[0] != "Bob" || !strings.HasPrefix(reply.Params[1], "\x01VERSION otrbridge") {
		t.Errorf("CTCP reply %v", reply.Params)
	}
	ctcp := rec.waitFor(t, time.Second, "CTCP", func(e Event) bool { _, ok := e.(CTCP); return ok }).(CTCP)
	if ctcp.Command != "VERSION" || ctcp.Reply {
		t.Errorf("CTCP %+v", ctcp)
	}
	_ = c
}

func TestPeerEventsAndNumerics(t *testing.T) {
	fn := newFakeNet(t)
	_, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.register(t, "me", "")
	rec.waitState(t, 2*time.Second, Connected)
	fc.send(":Bob!b@h NICK :Robert",
		":Robert!b@h QUIT :Quit: bye",
		":srv.test 716 me carol :is in +g mode (server-side ignore.)",
		":srv.test 718 me dave dave@host :is messaging you, and you have user mode +g set.",
		":srv.test 221 me +i")
	nc := rec.waitFor(t, time.Second, "NickChanged", func(e Event) bool { _, ok := e.(NickChanged); return ok }).(NickChanged)
	if nc.Old != "Bob" || nc.New != "Robert" || nc.Self {
		t.Errorf("%+v", nc)
	}
	q := rec.waitFor(t, time.Second, "Quit", func(e Event) bool { _, ok := e.(Quit); return ok }).(Quit)
	if q.Nick != "Robert" || q.Reason != "Quit: bye" {
		t.Errorf("%+v", q)
	}
	p1 := rec.waitFor(t, time.Second, "716", func(e Event) bool { _, ok := e.(PeerNotice); return ok }).(PeerNotice)
	p2 := rec.waitFor(t, time.Second, "718", func(e Event) bool { _, ok := e.(PeerNotice); return ok }).(PeerNotice)
	if p1.Nick != "carol" || p1.Code != "716" || p2.Nick != "dave" || p2.Code != "718" {
		t.Errorf("%+v %+v", p1, p2)
	}
	n := rec.waitFor(t, time.Second, "Numeric", func(e Event) bool { _, ok := e.(Numeric); return ok }).(Numeric)
	if n.Code != "221" {
		t.Errorf("%+v", n)
	}
}

func TestWhois(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.register(t, "me", "")
	rec.waitState(t, 2*time.Second, Connected)
	type res struct {
		info WhoisInfo
		err  error
	}
	ch := make(chan res, 1)
	go func() { i, err := c.Whois(context.Background(), "Bob"); ch <- res{i, err} }()
	if m := fc.expect(t, "WHOIS"); m.Params[0] != "Bob" {
		t.Fatalf("WHOIS %v", m.Params)
	}
	fc.send(":srv.test 311 me bob bobu bob.host * :Bob Real",
		":srv.test 312 me bob irc.test :Test server",
		":srv.test 319 me bob :#a @#b",
		":srv.test 301 me bob :away now",
		":srv.test 330 me bob bobacct :is logged in as",
		":srv.test 671 me bob :is using a secure connection",
		":srv.test 317 me bob 42 1700000000 :seconds idle, signon time",
		":srv.test 318 me bob :End of /WHOIS list.")
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	i := r.info
	if i.User != "bobu" || i.Host != "bob.host" || i.Realname != "Bob Real" || i.Server != "irc.test" ||
		len(i.Channels) != 2 || i.Away != "away now" || i.Account != "bobacct" || !i.Secure ||
		i.Idle != 42*time.Second || i.SignOn.Unix() != 1700000000 {
		t.Errorf("whois %+v", i)
	}
	go func() { i, err := c.Whois(context.Background(), "nobody"); ch <- res{i, err} }()
	fc.expect(t, "WHOIS")
	fc.send(":srv.test 401 me nobody :No such nick/channel", ":srv.test 318 me nobody :End of /WHOIS list.")
	var pe *PeerError
	if r := <-ch; !errors.As(r.err, &pe) || pe.Code != "401" {
		t.Errorf("whois nobody: %v", r.err)
	}
}

func TestCasemappingFromISUPPORT(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.expect(t, "CAP")
	fc.expect(t, "NICK")
	fc.expect(t, "USER")
	fc.send(":srv.test CAP * LS :")
	fc.expect(t, "CAP")
	if c.Casefold("A[]") != "a{}" {
		t.Errorf("default rfc1459 fold %q", c.Casefold("A[]"))
	}
	fc.send(":srv.test 001 me :Welcome", ":srv.test 005 me CASEMAPPING=ascii :are supported", ":srv.test 422 me :No MOTD")
	rec.waitState(t, 2*time.Second, Connected)
	if c.Casemapping() != ASCII || c.Casefold("Bob[x]") != "bob[x]" {
		t.Errorf("casemapping %v fold %q", c.Casemapping(), c.Casefold("Bob[x]"))
	}
	// Host learnt from USERHOST.
	fc.expect(t, "USERHOST")
	fc.send(":srv.test 302 me :me=+~u@cloak.example")
	deadline := time.Now().Add(time.Second)
	for {
		if _, u, h := c.Hostmask(); u == "~u" && h == "cloak.example" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("hostmask not learnt from 302")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKLineAndBanAreFatal(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"ERROR k-line", "ERROR :Closing link: (u@h) [K-Lined: spam]"},
		{"465", ":srv.test 465 me :You are banned from this server"},
		{"463", ":srv.test 463 me :Your host isn't among the privileged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fn := newFakeNet(t)
				_, rec := pipeConn(t, fn, nil)
				fc := fn.next(t)
				fc.register(t, "me", "")
				rec.waitState(t, 2*time.Second, Connected)
				fc.send(tc.line)
				rec.waitState(t, 2*time.Second, Fatal)
				time.Sleep(time.Minute)
				if n := fn.dialCount(); n != 1 {
					t.Errorf("%d dials after a ban", n)
				}
			})
		})
	}
}

func TestReconnectDeliversQueuedAndFailsInflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, nil)
		fc := fn.next(t)
		fc.register(t, "me", "echo-message")
		rec.waitState(t, 2*time.Second, Connected)

		// A message written but not confirmed when the link drops fails.
		inflight := sendAsync(c, "bob", Privmsg, "in flight")
		fc.expect(t, "PRIVMSG")
		fn.mu.Lock()
		fn.fail = true // keep it down for a while
		fn.mu.Unlock()
		fc.send("ERROR :Closing link: (u@h) [Ping timeout]")
		if r := waitResult(t, inflight); !errors.Is(r.err, ErrConnectionLost) {
			t.Fatalf("in-flight Send: %v, want ErrConnectionLost", r.err)
		}
		sc := rec.waitState(t, 2*time.Second, TransientDisconnect)
		if sc.Err == nil || sc.RetryIn <= 0 {
			t.Errorf("TransientDisconnect %+v", sc)
		}
		// Queued while down: delivered after the reconnect.
		queued := sendAsync(c, "bob", Privmsg, "queued 1", "queued 2")
		time.Sleep(150 * time.Millisecond)
		fn.mu.Lock()
		fn.fail = false
		fn.mu.Unlock()
		fc2 := fn.next(t)
		fc2.register(t, "me", "echo-message")
		rec.waitState(t, 2*time.Second, Connected)
		for _, want := range []string{"queued 1", "queued 2"} {
			m := fc2.expect(t, "PRIVMSG")
			if m.Params[1] != want {
				t.Fatalf("got %q, want %q", m.Params[1], want)
			}
			fc2.send(":me!~u@h PRIVMSG bob :" + want)
		}
		if r := waitResult(t, queued); r.err != nil || !r.receipt.Confirmed {
			t.Fatalf("queued Send: %+v %v", r.receipt, r.err)
		}
	})
}

func TestQueuedMessageFailsWhenNoConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		fn.fail = true
		c, rec := pipeConn(t, fn, func(c *Config) { c.QueueTimeout = 300 * time.Millisecond })
		rec.waitState(t, 2*time.Second, TransientDisconnect)
		start := time.Now()
		_, err := c.Send(context.Background(), "bob", Privmsg, []string{"x"})
		if !errors.Is(err, ErrNotConnected) {
			t.Fatalf("Send: %v, want ErrNotConnected", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("failed after %v, before QueueTimeout", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.Send(ctx, "bob", Privmsg, []string{"x"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send: %v, want deadline exceeded", err)
		}
	})
}

func TestDisconnectFailsQueuedAndQuits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		c, rec := pipeConn(t, fn, nil)
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, 2*time.Second, Connected)
		c.Disconnect("see you")
		if m := fc.expect(t, "QUIT"); m.Params[0] != "see you" {
			t.Errorf("QUIT %v", m.Params)
		}
		rec.waitState(t, 2*time.Second, Disconnected)
		if _, err := c.Send(context.Background(), "bob", Privmsg, []string{"x"}); !errors.Is(err, ErrStopped) {
			t.Errorf("Send after Disconnect: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
		if n := fn.dialCount(); n != 1 {
			t.Errorf("%d dials after Disconnect", n)
		}
		c.Reconnect()
		fc2 := fn.next(t)
		fc2.register(t, "me", "")
		rec.waitState(t, 2*time.Second, Connected)
	})
}

func TestPingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		_, rec := pipeConn(t, fn, func(c *Config) {
			c.PingInterval = 100 * time.Millisecond
			c.PingTimeout = 100 * time.Millisecond
		})
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, 2*time.Second, Connected)
		fc.send("PING :abc")
		if m := fc.expect(t, "PONG"); m.Params[0] != "abc" {
			t.Errorf("PONG %v", m.Params)
		}
		fc.expect(t, "PING") // idle: we ping
		sc := rec.waitState(t, 2*time.Second, TransientDisconnect)
		if !errors.Is(sc.Err, errPingTimeout) {
			t.Errorf("err %v, want ping timeout", sc.Err)
		}
		fn.next(t).expect(t, "CAP") // and reconnect
	})
}

// The registration deadline ends at registration: a connection that
// registered in time stays up past it (it once dropped every connection
// RegisterTimeout after dialing).
func TestRegisteredOutlivesRegisterTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		_, rec := pipeConn(t, fn, func(c *Config) {
			c.RegisterTimeout = 200 * time.Millisecond
		})
		fc := fn.next(t)
		fc.register(t, "me", "")
		rec.waitState(t, 2*time.Second, Connected)
		time.Sleep(600 * time.Millisecond)
		for _, ev := range rec.all() {
			if sc, ok := ev.(StateChanged); ok && sc.State != Connecting && sc.State != Connected {
				t.Fatalf("state %v (%v) after registering: the connection was dropped", sc.State, sc.Err)
			}
		}
	})
}

func TestCasemappingFold(t *testing.T) {
	for _, tc := range []struct {
		m        Casemapping
		in, want string
	}{
		{RFC1459, "Nick[]\\~", "nick{}|^"},
		{RFC1459Strict, "Nick[]\\~", "nick{}|~"},
		{ASCII, "Nick[]\\~", "nick[]\\~"},
		{RFC1459, "ÄBC", "Äbc"},
	} {
		if got := tc.m.Fold(tc.in); got != tc.want {
			t.Errorf("%v.Fold(%q) = %q, want %q", tc.m, tc.in, got, tc.want)
		}
	}
	for in, want := range map[string]Casemapping{"ascii": ASCII, "rfc1459": RFC1459, "rfc1459-strict": RFC1459Strict, "rfc7613": RFC1459, "": RFC1459} {
		if got := ParseCasemapping(in); got != want {
			t.Errorf("ParseCasemapping(%q) = %v", in, got)
		}
	}
}

func TestBackoff(t *testing.T) {
	min, max := time.Second, 30*time.Second
	for attempt, ceil := range []time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 30 * time.Second, 20: 30 * time.Second} {
		if ceil == 0 {
			continue
		}
		for i := 0; i < 50; i++ {
			d := backoff(min, max, attempt)
			if d < ceil/2 || d > ceil {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, ceil/2, ceil)
			}
		}
	}
}

func TestConfigValidation(t *testing.T) {
	h := func(Event) {}
	for _, cfg := range []Config{
		{Address: "x", Nick: "n"},
		{Address: "x", Handler: h},
		{Address: "x", Nick: "bad nick", Handler: h},
		{Nick: "n", Handler: h},
		{Address: "x", Nick: "n", Handler: h, SASLAccount: "a"},
		{Address: "x", Nick: "n", Handler: h, NickServPassword: "a\r\nQUIT"},
	} {
		if c, err := New(cfg); err == nil {
			c.Close()
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestLabeledWithoutEchoAway(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.register(t, "me", "labeled-response batch message-tags")
	rec.waitState(t, 2*time.Second, Connected)
	ch := sendAsync(c, "bob", Privmsg, "x")
	m := fc.expect(t, "PRIVMSG")
	_, l := m.GetTag("label")
	// a single labeled response that is not an error: delivered
	fc.send("@label=" + l + " :srv.test 301 me bob :away")
	if r := waitResult(t, ch); r.err != nil || !r.receipt.Confirmed {
		t.Fatalf("Send: %+v %v", r.receipt, r.err)
	}
	rec.waitFor(t, time.Second, "away", func(e Event) bool { p, ok := e.(PeerNotice); return ok && p.Code == "301" })
}

// The handler may call Send (OTR replies) and Close without deadlocking.
func TestHandlerMaySendAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		var c *Conn
		replied := make(chan error, 1)
		closed := make(chan struct{})
		rec := newRecorder()
		cfg := Config{
			Nick: "me", Dial: fn.dial, Logger: zerolog.Nop(), ConfirmTimeout: 2 * time.Second,
			Handler: func(e Event) {
				rec.handle(e)
				if m, ok := e.(Message); ok {
					if m.Text == "ping" {
						_, err := c.Send(context.Background(), m.From.Nick, Privmsg, []string{"pong"})
						replied <- err
					} else if m.Text == "close" {
						c.Close()
						close(closed)
					}
				}
			},
		}
		var err error
		if c, err = New(cfg); err != nil {
			t.Fatal(err)
		}
		c.Start()
		fc := fn.next(t)
		fc.register(t, "me", "echo-message")
		rec.waitState(t, 2*time.Second, Connected)
		fc.send(":bob!b@h PRIVMSG me :ping")
		fc.expect(t, "PRIVMSG")
		fc.send(":me!u@h PRIVMSG bob :pong")
		if err := <-replied; err != nil {
			t.Fatal(err)
		}
		fc.send(":bob!b@h PRIVMSG me :close")
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close from the handler deadlocked")
		}
	})
}

// Nothing secret or private reaches the log, at debug level, across SASL,
// NickServ, messages both ways, errors and a disconnect.
func TestNoSecretsInLogs(t *testing.T) {
	var buf syncBuffer
	fn := newFakeNet(t)
	secrets := []string{"sasl-secret-pw", "nickserv-secret-pw", "outgoing-private-text", "incoming-private-text", "server-pass-secret"}
	c, rec := pipeConn(t, fn, func(c *Config) {
		c.Logger = zerolog.New(&buf).Level(zerolog.TraceLevel)
		c.SASLAccount, c.SASLPassword = "acct", secrets[0]
		c.ServerPassword = secrets[4]
	})
	fc := fn.next(t)
	fc.expect(t, "CAP")
	if m := fc.expect(t, "PASS"); m.Params[0] != secrets[4] {
		t.Fatalf("PASS %v", m.Params)
	}
	fc.expect(t, "NICK")
	fc.expect(t, "USER")
	fc.send(":srv.test CAP * LS :sasl echo-message")
	fc.expect(t, "CAP")
	fc.send(":srv.test CAP * ACK :echo-message sasl")
	fc.expect(t, "AUTHENTICATE")
	fc.send("AUTHENTICATE +")
	fc.expect(t, "AUTHENTICATE")
	fc.send(":srv.test 903 me :SASL successful")
	fc.expect(t, "CAP")
	fc.welcome(t, "me")
	rec.waitState(t, 2*time.Second, Connected)
	ch := sendAsync(c, "bob", Privmsg, secrets[2])
	fc.expect(t, "PRIVMSG")
	fc.send(":srv.test 401 me bob :No such nick", ":bob!b@h PRIVMSG me :"+secrets[3], "garbage\x00line")
	waitResult(t, ch)
	rec.waitFor(t, time.Second, "message", func(e Event) bool { _, ok := e.(Message); return ok })
	fc.send("ERROR :Closing link: (u@h) [Ping timeout]")
	rec.waitState(t, 2*time.Second, TransientDisconnect)
	c.Close()
	if buf.Len() == 0 {
		t.Fatal("nothing logged at all; the test would prove nothing")
	}
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log contains %q", s)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int { return len(s.String()) }

// A server that drops us right after registration still sees the backoff grow.
func TestBackoffGrowsOnShortSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		_, rec := pipeConn(t, fn, func(c *Config) { c.ReconnectMin, c.ReconnectMax = 40*time.Millisecond, time.Second })
		var retries []time.Duration
		for i := 0; i < 3; i++ {
			fc := fn.next(t)
			fc.register(t, "me", "")
			rec.waitState(t, 2*time.Second, Connected)
			fc.send("ERROR :Closing link: (u@h) [Throttled: reconnecting too fast]")
			retries = append(retries, rec.waitState(t, 2*time.Second, TransientDisconnect).RetryIn)
		}
		if retries[0] > 40*time.Millisecond || retries[2] < 80*time.Millisecond {
			t.Errorf("retry delays %v: want growth from ≤40ms to ≥80ms", retries)
		}
	})
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	fn := newFakeNet(t)
	rec := newRecorder()
	c, err := New(Config{Nick: "me", Dial: fn.dial, Handler: rec.handle, Logger: zerolog.Nop(), Flood: FloodConfig{Burst: 10, Rate: 10}})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	fc := fn.next(t)
	fc.register(t, "me", "")
	rec.waitState(t, 2*time.Second, Connected)
	queued := sendAsync(c, "bob", Privmsg, "x")
	fc.expect(t, "PRIVMSG")
	waitResult(t, queued)
	c.Close()
	fc.nc.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+1 { // +1: the fake server's reader may still be exiting
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.Send(context.Background(), "bob", Privmsg, []string{"x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}

// USERHOST shows us our real host; a cloak announced by 396 is what others
// see, and USERHOST must not override it.
func TestDisplayedHostWinsOverUSERHOST(t *testing.T) {
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, nil)
	fc := fn.next(t)
	fc.expect(t, "CAP")
	fc.expect(t, "NICK")
	fc.expect(t, "USER")
	fc.send(":srv.test CAP * LS :")
	fc.expect(t, "CAP")
	fc.send(":srv.test 001 me :Welcome me!~u@10.0.0.1",
		":srv.test 396 me a-much-longer-cloaked-host.users.example :is now your displayed host",
		":srv.test 376 me :End of MOTD")
	fc.expect(t, "USERHOST")
	fc.send(":srv.test 302 me :me=+~u@10.0.0.1")
	rec.waitState(t, 2*time.Second, Connected)
	fc.send("PING :sync")
	fc.expect(t, "PONG") // the 302 has been handled
	if _, u, h := c.Hostmask(); u != "~u" || h != "a-much-longer-cloaked-host.users.example" {
		t.Errorf("hostmask %s@%s, want the cloak", u, h)
	}
}

// A handler that panics on one event loses that event only: the connection
// and every later event carry on, and the log names the panic without the
// message text that caused it.
func TestHandlerPanicIsContained(t *testing.T) {
	var buf syncBuffer
	fn := newFakeNet(t)
	rec := newRecorder()
	c := startConn(t, Config{
		Nick: "me", Dial: fn.dial, Logger: zerolog.New(&buf), Flood: FloodConfig{Burst: 100, Rate: 100},
		Handler: func(e Event) {
			if m, ok := e.(Message); ok {
				switch {
				case strings.HasPrefix(m.Text, "value panic"):
					panic("cannot handle " + m.Text)
				case strings.HasPrefix(m.Text, "runtime panic"):
					var lines []string
					_ = lines[len(m.Text)]
				}
			}
			rec.handle(e)
		},
	}, nil)
	fc := fn.next(t)
	fc.register(t, "me", "")
	rec.waitState(t, 2*time.Second, Connected)
	fc.send(":bob!b@h PRIVMSG me :value panic private-text-1",
		":bob!b@h PRIVMSG me :runtime panic private-text-2",
		":carol!c@h PRIVMSG me :still here")
	m := rec.waitFor(t, 2*time.Second, "message after the panics", func(e Event) bool { _, ok := e.(Message); return ok }).(Message)
	if m.Text != "still here" {
		t.Fatalf("next message %q", m.Text)
	}
	// The connection still works both ways.
	ch := sendAsync(c, "carol", Privmsg, "reply")
	fc.expect(t, "PRIVMSG")
	if r := waitResult(t, ch); r.err != nil {
		t.Fatal(r.err)
	}
	if st := c.State(); st != Connected {
		t.Fatalf("state %v after a handler panic", st)
	}
	log := buf.String()
	if n := strings.Count(log, "recovered from a panic"); n != 2 {
		t.Errorf("%d panics logged, want 2:\n%s", n, log)
	}
	if !strings.Contains(log, "index out of range") {
		t.Error("the runtime error's description is not logged")
	}
	for _, secret := range []string{"private-text-1", "private-text-2"} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains the message text %q", secret)
		}
	}
	// Close from a handler that panicked before still returns.
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung after a handler panic")
	}
}

// A panicking Config.Dial counts as a failed connection attempt, retried
// like any other.
func TestDialPanicIsContained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet(t)
		var dials atomic.Int32
		_, rec := pipeConn(t, fn, func(c *Config) {
			c.Logger = zerolog.Nop()
			c.Dial = func(ctx context.Context) (net.Conn, error) {
				if dials.Add(1) == 1 {
					panic("dialer bug")
				}
				return fn.dial(ctx)
			}
		})
		sc := rec.waitState(t, 2*time.Second, TransientDisconnect)
		if !errors.Is(sc.Err, errDialPanic) {
			t.Errorf("first attempt: %v, want the dial panic", sc.Err)
		}
		fn.next(t).register(t, "me", "")
		rec.waitState(t, 2*time.Second, Connected)
	})
}

// linePanicText starts the text of a PRIVMSG on which lineFault panics in
// these tests (set once: a closed connection's reader may still be
// finishing while the next test starts); "locked" panics holding c.mu.
const linePanicText = "ircconn-test-panic"

// An "await" panic line waits on the reader until the test says go.
var linePanicReached, linePanicGo = make(chan struct{}), make(chan struct{})

func init() {
	lineFault = func(s *session, m *ircmsg.Message) {
		if m.Command != "PRIVMSG" || len(m.Params) < 2 || !strings.HasPrefix(m.Params[1], linePanicText) {
			return
		}
		if strings.HasPrefix(m.Params[1], linePanicText+" locked") {
			s.lockReader()
		}
		if strings.HasPrefix(m.Params[1], linePanicText+" await") {
			linePanicReached <- struct{}{}
			<-linePanicGo
		}
		panic("cannot parse " + m.Params[1])
	}
}

// A bug in the reader's own parsing or handling that panics on one line
// from the server drops that line only: the connection stays up (no
// reconnect), later lines are handled, a panic that left the connection's
// lock held does not wedge it, and the log names the panic without the
// line.
func TestLinePanicIsContained(t *testing.T) {
	var buf syncBuffer
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, func(cfg *Config) { cfg.Logger = zerolog.New(&buf) })
	fc := fn.next(t)
	fc.register(t, "me", "")
	rec.waitState(t, 2*time.Second, Connected)
	fc.send(":bob!b@h PRIVMSG me :"+linePanicText+" private-text-1",
		":bob!b@h PRIVMSG me :"+linePanicText+" locked private-text-2",
		":carol!c@h PRIVMSG me :still here")
	m := rec.waitFor(t, 5*time.Second, "message after the panics", func(e Event) bool { _, ok := e.(Message); return ok }).(Message)
	if m.Text != "still here" {
		t.Fatalf("next message %q", m.Text)
	}
	if c.Nick() != "me" || c.State() != Connected {
		t.Fatalf("state %v after a panic while handling a line", c.State())
	}
	ch := sendAsync(c, "carol", Privmsg, "reply")
	fc.expect(t, "PRIVMSG")
	if r := waitResult(t, ch); r.err != nil {
		t.Fatal(r.err)
	}
	if n := fn.dialCount(); n != 1 {
		t.Errorf("%d connections, want 1: a panic ended the session", n)
	}
	log := buf.String()
	if n := strings.Count(log, "recovered from a panic while handling a line"); n != 2 {
		t.Errorf("%d panics logged, want 2:\n%s", n, log)
	}
	if !strings.Contains(log, `"command":"PRIVMSG"`) || !strings.Contains(log, "lock held") {
		t.Errorf("the log does not say where the panic was or that the lock was released:\n%s", log)
	}
	for _, secret := range []string{"private-text-1", "private-text-2"} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains the line's text %q", secret)
		}
	}
}

// A panic on the reader while another goroutine holds the connection's
// lock (a slow critical section on a loaded machine) leaves that lock to
// its holder: the reader never releases a lock it did not take, which
// would make the holder's own Unlock a fatal error for the whole process.
func TestLinePanicLeavesAnotherHoldersLock(t *testing.T) {
	var buf syncBuffer
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, func(cfg *Config) { cfg.Logger = zerolog.New(&buf) })
	fc := fn.next(t)
	fc.register(t, "me", "")
	rec.waitState(t, 2*time.Second, Connected)

	fc.send(":bob!b@h PRIVMSG me :" + linePanicText + " await private-text")
	select {
	case <-linePanicReached:
	case <-time.After(5 * time.Second):
		t.Fatal("the reader did not handle the line")
	}
	c.mu.Lock()
	linePanicGo <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "recovered from a panic while handling a line") {
		if time.Now().After(deadline) {
			c.mu.Unlock()
			t.Fatal("the panic was not logged")
		}
		time.Sleep(time.Millisecond)
	}
	// Held well past any wait the reader could make for it: if the reader
	// released it, TryLock succeeds (and takes it back for the Unlock below).
	held := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(held) {
		if c.mu.TryLock() {
			t.Error("the reader released a lock another goroutine held")
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.mu.Unlock()

	fc.send(":carol!c@h PRIVMSG me :still here")
	m := rec.waitFor(t, 5*time.Second, "message after the panic", func(e Event) bool { _, ok := e.(Message); return ok }).(Message)
	if m.Text != "still here" {
		t.Fatalf("next message %q", m.Text)
	}
	if strings.Contains(buf.String(), "lock held") {
		t.Errorf("the log claims the panic left the lock held:\n%s", buf.String())
	}
}
