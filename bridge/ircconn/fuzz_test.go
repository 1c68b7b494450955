package ircconn

import (
	"testing"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/rs/zerolog"
)

// FuzzServerLine feeds arbitrary server lines to a registered session: the
// handler must never panic, whatever the server sends.
func FuzzServerLine(f *testing.F) {
	for _, seed := range []string{
		"PRIVMSG", "PRIVMSG me", ":a PRIVMSG me :\x01", ":a PRIVMSG me :\x01ACTION", ":a!b@c NOTICE me :\x01VERSION\x01",
		"NICK", ":me NICK", "BATCH", "BATCH -", "@label=x BATCH +", "@batch=zz :me!u@h PRIVMSG x :y",
		"CAP", "CAP * LS", "CAP * ACK", "CAP * NAK :x", "CAP * DEL", "AUTHENTICATE", "AUTHENTICATE +",
		"001", ":s 001", ":s 005 me", ":s 005 me CASEMAPPING", ":s 302 me :=", ":s 302 me :me=", ":s 302 me :me=+",
		":s 311 me", ":s 317 me x -1 -5 :x", ":s 396 me", ":s 401", ":s 401 me", ":s 433", ":s 731 me :,,,",
		"@label=ob1 ACK", "@label=ob1 :s 401 me", "@label=ob1 FAIL", "ERROR", "PING", ":x QUIT", ":x!y@z CHGHOST",
		":s 716 me", ":s 301 me", ":s 903", ":s 904", ":s 464", ":s 465",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		msg, err := ircmsg.ParseLine(line)
		if err != nil {
			return
		}
		c, err := New(Config{Address: "x", Nick: "me", Handler: func(Event) {}, Logger: zerolog.Nop(),
			SASLAccount: "a", SASLPassword: "p", NickServPassword: "n"})
		if err != nil {
			t.Fatal(err)
		}
		s := newSession(c)
		c.sess = s
		s.registered, s.readying, s.ready = true, true, true
		c.caps["echo-message"] = true
		ref := &lineRef{msg: &outMsg{target: "x", lines: []string{"y"}, done: make(chan sendResult, 1)}, label: "ob1"}
		s.labels["ob1"] = ref
		ref.msg.refs = []*lineRef{ref}
		s.echoQ["x"] = []*lineRef{{msg: ref.msg, key: "x"}}
		c.whois = &whoisReq{nick: "me", done: make(chan struct{})}
		go func() {
			for range s.prio {
			}
		}()
		_ = s.handle(&msg)
		_ = s.handle(&msg) // twice: state left by the first must hold
		close(s.prio)
		c.Close()
	})
}
