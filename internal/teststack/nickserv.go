package teststack

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// NickServ is a stand-in for network services on the private InspIRCd
// (which has no services): an IRC client named NickServ that answers
// IDENTIFY [account] <password> with the notices Atheme/Anope send, so tests
// can log in "with NickServ" and see exactly what the bridge sent.
type NickServ struct {
	*IRCClient
	mu        sync.Mutex
	passwords map[string]string // account (lower case) -> password
	attempts  []IdentifyAttempt
}

// IdentifyAttempt is one IDENTIFY NickServ received.
type IdentifyAttempt struct {
	From, Account string
	OK            bool
}

// StartNickServ connects the stand-in to s. passwords maps account names
// (the nick when IDENTIFY has one argument) to passwords.
func StartNickServ(t testing.TB, s *IRCServer, passwords map[string]string) *NickServ {
	t.Helper()
	c := DialIRC(t, s.Addr(), "NickServ", IRCClientOptions{User: "services"})
	ns := &NickServ{IRCClient: c, passwords: map[string]string{}}
	for k, v := range passwords {
		ns.passwords[strings.ToLower(k)] = v
	}
	go ns.serve()
	return ns
}

func (ns *NickServ) serve() {
	for {
		l, err := ns.WaitFor(24*time.Hour, func(l IRCLine) bool {
			return l.Command() == "PRIVMSG" && strings.EqualFold(l.Param(0), "NickServ")
		})
		if err != nil {
			return
		}
		f := strings.Fields(l.Text())
		if len(f) < 2 || !strings.EqualFold(f[0], "IDENTIFY") {
			ns.Notice(l.From(), "Unknown command. Try IDENTIFY.")
			continue
		}
		account, pw := l.From(), f[1]
		if len(f) >= 3 {
			account, pw = f[1], f[2]
		}
		ns.mu.Lock()
		want, known := ns.passwords[strings.ToLower(account)]
		ok := known && want == pw
		ns.attempts = append(ns.attempts, IdentifyAttempt{From: l.From(), Account: account, OK: ok})
		ns.mu.Unlock()
		if ok {
			ns.Notice(l.From(), "You are now identified for \x02"+account+"\x02.")
		} else {
			ns.Notice(l.From(), "Invalid password for \x02"+account+"\x02.")
		}
	}
}

// Attempts returns the IDENTIFY attempts so far.
func (ns *NickServ) Attempts() []IdentifyAttempt {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return append([]IdentifyAttempt(nil), ns.attempts...)
}
