package ircconn

import (
	"strings"
	"testing"
)

func TestTextBudget(t *testing.T) {
	// ":alice!~alice@host.example.org PRIVMSG bob :" + "\r\n" = 46 bytes.
	if got := TextBudget("alice", "~alice", "host.example.org", "bob", Privmsg); got != 512-46 {
		t.Errorf("PRIVMSG budget = %d, want %d", got, 512-46)
	}
	if got := TextBudget("alice", "~alice", "host.example.org", "bob", Notice); got != 512-45 {
		t.Errorf("NOTICE budget = %d, want %d", got, 512-45)
	}
	if got := TextBudget("alice", "~alice", "host.example.org", "bob", Action); got != 512-46-len("\x01ACTION \x01") {
		t.Errorf("ACTION budget = %d", got)
	}
	if got, want := TextBudget("alice", "~alice", "", "bob", Privmsg), 512-46+len("host.example.org")-63; got != want {
		t.Errorf("budget with an unknown host = %d, want %d (a 63-byte host)", got, want)
	}
	if got := TextBudget(strings.Repeat("n", 600), "u", "h", "t", Privmsg); got >= 0 {
		t.Errorf("a prefix longer than a line leaves %d bytes", got)
	}
}
