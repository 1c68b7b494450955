package teststack

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestInspIRCdMessagesAndRestart(t *testing.T) {
	s := InspIRCd(t, IRCOptions{TLS: true})
	alice := DialIRC(t, s.Addr(), "alice", IRCClientOptions{Caps: []string{"echo-message", "server-time", "message-tags"}})
	bob := DialIRC(t, s.TLSAddr(), "bob", IRCClientOptions{TLS: true})

	alice.Privmsg("bob", "hello bob")
	l, err := bob.WaitPrivmsg(5*time.Second, "alice", false)
	if err != nil || l.Text() != "hello bob" {
		t.Fatalf("bob got %q, %v", l.Raw, err)
	}
	// echo-message: alice sees her own message back, with a server-time tag.
	echo, err := alice.WaitFor(5*time.Second, func(l IRCLine) bool { return l.Command() == "PRIVMSG" && l.From() == "alice" })
	if err != nil {
		t.Fatalf("no echo: %v", err)
	}
	if ok, _ := echo.Msg.GetTag("time"); !ok {
		t.Errorf("echo has no server-time tag: %s", echo.Raw)
	}
	bob.Action("alice", "waves")
	l, err = alice.WaitPrivmsg(5*time.Second, "bob", false)
	if txt, ok := l.Action(); err != nil || !ok || txt != "waves" {
		t.Fatalf("alice got %q, %v", l.Raw, err)
	}
	if err := bob.SetNick("bobby"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.WaitFor(300*time.Millisecond, func(l IRCLine) bool { return false }); err == nil {
		t.Fatal("WaitFor matched nothing but returned no error")
	}

	s.Restart(t)
	select {
	case <-alice.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("alice's connection survived a server restart")
	}
	DialIRC(t, s.Addr(), "carol", IRCClientOptions{})
}

func TestInspIRCdFloodLimits(t *testing.T) {
	s := InspIRCd(t, IRCOptions{FloodLimits: true, FloodBurst: 5, FloodRate: 1})
	flooder := DialIRC(t, s.Addr(), "flooder", IRCClientOptions{})
	sink := DialIRC(t, s.Addr(), "sink", IRCClientOptions{})
	var b strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "PRIVMSG sink :line %d\r\n", i)
	}
	flooder.Send(strings.TrimSuffix(b.String(), "\r\n"))
	select {
	case <-flooder.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("a 50-line burst was not disconnected with flood limits on")
	}
	// Without limits the same burst arrives complete.
	s2 := InspIRCd(t, IRCOptions{})
	f2 := DialIRC(t, s2.Addr(), "flooder", IRCClientOptions{})
	sink2 := DialIRC(t, s2.Addr(), "sink", IRCClientOptions{})
	f2.Send(strings.TrimSuffix(b.String(), "\r\n"))
	for i := 0; i < 50; i++ {
		l, err := sink2.WaitPrivmsg(10*time.Second, "flooder", false)
		if err != nil || l.Text() != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d: %q %v", i, l.Raw, err)
		}
	}
	_ = sink
}

func TestInspIRCdNoMsgid(t *testing.T) {
	for _, noMsgid := range []bool{false, true} {
		s := InspIRCd(t, IRCOptions{NoMsgid: noMsgid})
		from := DialIRC(t, s.Addr(), "from", IRCClientOptions{})
		to := DialIRC(t, s.Addr(), "to", IRCClientOptions{Caps: []string{"message-tags"}})
		from.Privmsg("to", "hello")
		l, err := to.WaitPrivmsg(5*time.Second, "from", false)
		if err != nil {
			t.Fatal(err)
		}
		if has, _ := l.Msg.GetTag("msgid"); has == noMsgid {
			t.Errorf("NoMsgid %v: the message's msgid tag present = %v (%s)", noMsgid, has, l.Raw)
		}
	}
}
