package otr_test

// Session lifecycle with libotr 4.1.1: ending, restarts on either side,
// and the require-encryption policy on both sides.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

func TestLibotrDisconnect(t *testing.T) {
	t.Run("libotr ends", func(t *testing.T) {
		l := newLink(t, defaultOurConfig(), otrtest.Options{})
		establish(t, l, ourQuery, 3)
		x := l.libDo(l.lib.End())
		if _, ok := ourEvent[otr.PeerEnded](x); !ok || l.us.conv.Info().State != otr.Finished {
			t.Fatalf("we are not FINISHED (%v):\n%s", l.us.conv.Info().State, x)
		}
		// Fail closed: sending fails with a typed error and nothing at all
		// goes on the wire.
		out, err := l.us.call("send " + hexs("this must not leak"))
		if !errors.Is(err, otr.ErrFinished) || len(out.Wire) != 0 {
			t.Fatalf("send in FINISHED: err %v, wire %q", err, out.Wire)
		}
		// Ending our side returns to plaintext; a new AKE works.
		x = l.do("end")
		if len(x.toLib) != 0 {
			t.Errorf("ending a FINISHED session sent %q", x.toLib)
		}
		if l.us.conv.Info().State != otr.Plaintext {
			t.Errorf("after End: %v", l.us.conv.Info().State)
		}
		establish(t, l, libQuery, 3)
		ourSend(t, l, "back again")
	})
	t.Run("we end", func(t *testing.T) {
		l := newLink(t, defaultOurConfig(), otrtest.Options{})
		establish(t, l, ourQuery, 3)
		x := l.do("end")
		if !x.lib.Has("state", "finished") {
			t.Fatalf("libotr not FINISHED:\n%s", x)
		}
		if _, ok := ourEvent[otr.GoneInsecure](x); !ok {
			t.Errorf("no GoneInsecure event:\n%s", x)
		}
		r := l.lib.Send("should not leave")
		if len(r.Wire()) != 0 || !r.Has("msg", "CONNECTION_ENDED") {
			t.Fatalf("libotr sent in FINISHED: %s", r)
		}
	})
}

func TestLibotrRestartNewInstance(t *testing.T) {
	cfg := defaultOurConfig()
	l := newLink(t, cfg, otrtest.Options{InstanceTag: 0x11110001})
	establish(t, l, ourQuery, 3)
	libSend(t, l, "before the restart")

	// libotr restarts: same key, new instance tag, no session.
	l.lib.Close()
	l.lib = otrtest.StartLibotr(t, otrtest.Options{InstanceTag: 0x22220002})

	// Our message is for the old instance: the new client must not show
	// it, and nothing is decrypted by anyone.
	x := l.do("send " + hexs("lost in the restart"))
	if len(x.lib.Messages()) != 0 {
		t.Fatalf("new libotr instance showed a message for the old one:\n%s", x)
	}
	// Recovery: the restarted client asks for OTR again.
	x = establish(t, l, libQuery, 3)
	if got := l.us.conv.Info().TheirInstance; uint32(got) != 0x22220002 {
		t.Fatalf("after recovery we talk to %v", got)
	}
	ourSend(t, l, "after the restart")
	libSend(t, l, "and back")
}

func TestLibotrRecoveryByWhitespaceTag(t *testing.T) {
	l := newLink(t, defaultOurConfig(), otrtest.Options{InstanceTag: 0x11110001})
	establish(t, l, ourQuery, 3)
	l.lib.Close()
	l.lib = otrtest.StartLibotr(t, otrtest.Options{InstanceTag: 0x33330003})
	// The new client sends plaintext, whitespace-tagged by its policy. We
	// show it marked as unencrypted and, like libotr (WHITESPACE_START_AKE
	// applies in any state), the tag starts an AKE with the new instance.
	x := l.libDo(l.lib.Send("I restarted"))
	if len(x.us.Messages) != 1 || x.us.Messages[0].Encrypted || x.us.Messages[0].Text != "I restarted" {
		t.Fatalf("plaintext from restarted peer:\n%s", x)
	}
	if _, ok := ourEvent[otr.UnencryptedReceived](x); !ok {
		t.Errorf("plaintext during a private conversation not marked:\n%s", x)
	}
	checkSecure(t, l, x, 3)
	if got := l.us.conv.Info().TheirInstance; uint32(got) != 0x33330003 {
		t.Fatalf("we talk to %v after recovery", got)
	}
	ourSend(t, l, "recovered")
	libSend(t, l, "recovered too")
}

// TestLibotrOurRestart: we lose our session state (a bridge restart) while
// libotr is still private. libotr's next message is unreadable to us; our
// error reply makes libotr (ERROR_START_AKE) ask for a new AKE.
func TestLibotrOurRestart(t *testing.T) {
	cfg := defaultOurConfig()
	l := newLink(t, cfg, otrtest.Options{})
	establish(t, l, ourQuery, 3)
	libSend(t, l, "before our restart")

	cfg.Seed = "after restart"
	l.us = newOurs(t, cfg)
	x := l.libDo(l.lib.Send("sent into the void"))
	if len(x.us.Messages) != 0 {
		t.Fatalf("delivered a message we cannot have read:\n%s", x)
	}
	if _, ok := ourEvent[otr.Unreadable](x); !ok {
		t.Errorf("no Unreadable event:\n%s", x)
	}
	if len(x.toLib) == 0 || !strings.Contains(strings.Join(x.toLib, ""), "?OTR Error:") {
		t.Errorf("no error sent to libotr:\n%s", x)
	}
	checkSecure(t, l, x, 3)
	libSend(t, l, "after our restart")
	ourSend(t, l, "and ours")
}

// TestLibotrV2Restart: without instance tags, a restarted libotr gets data
// it cannot read and stays silent (message.c: "could just be a message
// intended for another v2 instance"); its user's new query recovers.
func TestLibotrV2Restart(t *testing.T) {
	v2 := otrtest.Options{Policy: otrtest.PolicyAllowV2 | otrtest.PolicyWhitespaceStart | otrtest.PolicyErrorStart}
	l := newLink(t, defaultOurConfig(), v2)
	establish(t, l, ourQuery, 2)
	l.lib.Close()
	l.lib = otrtest.StartLibotr(t, v2)
	x := l.do("send " + hexs("lost in the restart"))
	if len(x.lib.Messages()) != 0 || !x.lib.Has("msg", "RCVDMSG_NOT_IN_PRIVATE") {
		t.Fatalf("restarted libotr did not drop our message:\n%s", x)
	}
	establish(t, l, libQuery, 2)
	ourSend(t, l, "recovered")
	libSend(t, l, "recovered too")
}

// TestLibotrIgnoreUnreadable: after we lost our session, libotr's
// disconnect (flagged IGNORE_UNREADABLE) must not make us send an error.
func TestLibotrIgnoreUnreadable(t *testing.T) {
	cfg := defaultOurConfig()
	l := newLink(t, cfg, otrtest.Options{})
	establish(t, l, ourQuery, 3)
	cfg.Seed = "restarted"
	l.us = newOurs(t, cfg)
	r := l.lib.End()
	for _, line := range r.Wire() {
		out, _ := l.us.call("recv " + otrtest.Escape(line))
		if len(out.Wire) != 0 || len(out.Messages) != 0 {
			t.Fatalf("reaction to an unreadable IGNORE_UNREADABLE message: %+v", out)
		}
	}
}

func TestLibotrRequireEncryption(t *testing.T) {
	cfg := defaultOurConfig()
	cfg.Policy = otr.PolicyAlways
	l := newLink(t, cfg, otrtest.Options{})
	x := l.do("send " + hexs("held until private"))
	if _, ok := ourEvent[otr.HeldMessage](x); !ok {
		t.Fatalf("message not held:\n%s", x)
	}
	for _, w := range x.toLib {
		if strings.Contains(w, "held until") {
			t.Fatalf("held message leaked in plaintext: %q", w)
		}
	}
	if _, ok := ourEvent[otr.HeldSent](x); !ok {
		t.Fatalf("held message not sent after the AKE:\n%s", x)
	}
	m := x.lib.Messages()
	if len(m) != 1 || m[0].Text != "held until private" || m[0].Name != "enc" {
		t.Fatalf("libotr got %v", m)
	}
}

// TestLibotrHeldByLibotr: libotr under its "always" policy holds the first
// message, asks for OTR, and sends the message encrypted once private.
func TestLibotrHeldByLibotr(t *testing.T) {
	l := newLink(t, defaultOurConfig(), otrtest.Options{Policy: otrtest.PolicyAlways})
	x := l.libDo(l.lib.Send("held by libotr"))
	if !x.lib.Has("msg", "ENCRYPTION_REQUIRED") {
		t.Fatalf("libotr did not hold the message:\n%s", x)
	}
	checkSecure(t, l, x, 3)
	var got []string
	for _, m := range x.us.Messages {
		if !m.Encrypted {
			t.Errorf("plaintext delivered: %q", m.Text)
		}
		got = append(got, m.Text)
	}
	if len(got) != 1 || !strings.HasSuffix(got[0], "held by libotr") {
		t.Fatalf("held message arrived as %q:\n%s", got, x)
	}
}

// TestLibotrRequireEncryptionNoOTR: under "always", a peer whose client
// has OTR switched off never answers the query; the held message expires
// and nothing but the query ever reached the wire.
func TestLibotrRequireEncryptionNoOTR(t *testing.T) {
	cfg := defaultOurConfig()
	cfg.Policy = otr.PolicyAlways
	l := newLink(t, cfg, otrtest.Options{})
	l.lib.SetPolicy(0) // libotr's "never"
	x := l.do("send " + hexs("must stay private"))
	if _, ok := ourEvent[otr.HeldMessage](x); !ok {
		t.Fatalf("not held:\n%s", x)
	}
	if m := x.lib.Messages(); len(m) != 1 || !strings.HasPrefix(m[0].Text, "?OTRv") || m[0].Name != "plain" {
		t.Fatalf("libotr (OTR off) should just see our query: %v", m)
	}
	l.us.advance(2 * time.Minute)
	x = l.do("tick")
	if _, ok := ourEvent[otr.HeldExpired](x); !ok {
		t.Fatalf("held message did not expire:\n%s", x)
	}
	for _, w := range append(x.toLib, l.us.log...) {
		if strings.Contains(w, "must stay private") {
			t.Fatalf("held text reached the wire: %q", w)
		}
	}
}
