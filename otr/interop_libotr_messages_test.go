package otr_test

// Data messages between libotr 4.1.1 and us: fragmentation, heartbeats,
// the extra symmetric key, and lines that arrive damaged, twice, split,
// crossed or looking like protocol.

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

func TestLibotrFragments(t *testing.T) {
	for _, version := range []int{3, 2} {
		t.Run("v"+string(rune('0'+version)), func(t *testing.T) {
			cfg := defaultOurConfig()
			opts := otrtest.Options{}
			if version == 2 {
				opts.Policy = otrtest.PolicyAllowV2 | otrtest.PolicyWhitespaceStart
			}
			l := newLink(t, cfg, opts)
			establish(t, l, ourQuery, version)
			long := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz-ünï ", 3000/40+1)[:3000]
			huge := strings.Repeat("The quick brown fox jumps over the lazy dog; ", 100<<10/45+1)[:100<<10]
			for _, text := range []string{long, huge} {
				x := ourSend(t, l, text)
				y := libSend(t, l, text)
				// libotr and we must cut the same message into the same
				// number of fragments (same header sizes, same piece length).
				if len(x.toLib) != len(y.fromLib) {
					t.Errorf("%d-byte message: we sent %d fragments, libotr %d", len(text), len(x.toLib), len(y.fromLib))
				}
				if len(text) == 3000 && version == 3 && len(x.toLib) != 12 {
					t.Errorf("3000-char message: %d fragments, libotr's table says 12", len(x.toLib))
				}
			}
		})
	}
}

// TestLibotrFragmentBoundaries sweeps message lengths around fragment
// boundaries: in the same session state our fragments must be exactly as
// many as libotr's for the same text, none empty, none over the limit.
func TestLibotrFragmentBoundaries(t *testing.T) {
	for _, version := range []int{3, 2} {
		t.Run("v"+string(rune('0'+version)), func(t *testing.T) {
			opts := otrtest.Options{}
			header := 37
			if version == 2 {
				opts.Policy = otrtest.PolicyAllowV2
				header = 19
			}
			l := newLink(t, defaultOurConfig(), opts)
			establish(t, l, ourQuery, version)
			for range 2 {
				ourSend(t, l, "warm")
				libSend(t, l, "up")
			}
			// Encoded lines are 6 + 4k long; with pieces of 400-header
			// characters the first exact multiple (2 full pieces) is 726
			// in v3 and 762 in v2: the step-1 range crosses it.
			exact := 2 * (400 - header)
			var lengths []int
			for n := 150; n <= 1300; n += 11 {
				lengths = append(lengths, n)
			}
			for n := 240; n <= 330; n++ {
				lengths = append(lengths, n)
			}
			hitExact := false
			for _, n := range lengths {
				text := strings.Repeat("é", n/2) + strings.Repeat("x", n%2)
				x := ourSend(t, l, text)
				y := libSend(t, l, text)
				pieces := 0
				if len(x.toLib) != len(y.fromLib) {
					t.Errorf("%d-byte text: we sent %d fragments, libotr %d", len(text), len(x.toLib), len(y.fromLib))
				}
				for _, f := range x.toLib {
					if len(x.toLib) == 1 {
						break
					}
					body := strings.TrimSuffix(f, ",")
					piece := body[strings.LastIndexByte(body, ',')+1:]
					if piece == "" || len(f) > 400 || len(f) < header+1 {
						t.Fatalf("%d-byte text: bad fragment %q", len(text), f)
					}
					pieces += len(piece)
				}
				if len(x.toLib) == 2 && pieces == exact {
					hitExact = true
				}
			}
			if !hitExact {
				t.Errorf("the sweep never produced a message of exactly two full fragments (%d characters)", exact)
			}
		})
	}
}

func TestLibotrHeartbeat(t *testing.T) {
	t.Run("ours", func(t *testing.T) {
		l := newLink(t, defaultOurConfig(), otrtest.Options{})
		establish(t, l, ourQuery, 3)
		ourSend(t, l, "first")
		// Less than 60 s of silence: no heartbeat.
		l.us.advance(30 * time.Second)
		x := libSend(t, l, "after 30 s")
		if _, ok := ourEvent[otr.HeartbeatSent](x); ok {
			t.Fatalf("heartbeat after 30 s:\n%s", x)
		}
		l.us.advance(61 * time.Second)
		x = libSend(t, l, "after 91 s")
		if _, ok := ourEvent[otr.HeartbeatSent](x); !ok || !x.lib.Has("msg", "LOG_HEARTBEAT_RCVD") {
			t.Fatalf("no heartbeat after 61 s of our silence:\n%s", x)
		}
		if len(x.lib.Messages()) != 0 {
			t.Fatalf("libotr showed the heartbeat: %v", x.lib.Messages())
		}
		// and it was a real, decryptable data message: the session goes on
		ourSend(t, l, "after the heartbeat")
	})
	t.Run("libotr's", func(t *testing.T) {
		l := newLink(t, defaultOurConfig(), otrtest.Options{})
		establish(t, l, ourQuery, 3)
		libSend(t, l, "first")
		l.lib.Advance(61 * time.Second)
		x := ourSend(t, l, "wake up")
		if !x.lib.Has("msg", "LOG_HEARTBEAT_SENT") {
			t.Fatalf("libotr sent no heartbeat:\n%s", x)
		}
		if len(x.us.Messages) != 0 || len(x.errs) != 0 {
			t.Fatalf("libotr's heartbeat was shown or failed:\n%s", x)
		}
		libSend(t, l, "after the heartbeat")
	})
}

func TestLibotrExtraSymmetricKey(t *testing.T) {
	l := newLink(t, defaultOurConfig(), otrtest.Options{})
	establish(t, l, ourQuery, 3)
	ourSend(t, l, "some traffic")
	libSend(t, l, "to rotate keys")

	key, out, err := l.us.conv.ExtraSymmetricKey(l.us.now, 42, []byte("transfer-1"))
	if err != nil {
		t.Fatal(err)
	}
	var x exchange
	l.pump(&x, out.Wire, nil)
	ev, ok := x.lib.Event("symkey_received", "")
	if !ok || ev.Args["key"] != hex.EncodeToString(key[:]) || ev.Args["use"] != "42" || ev.Args["usedata"] != hexs("transfer-1") {
		t.Fatalf("libotr's key differs from ours (%x):\n%s", key, x)
	}

	libKey, r := l.lib.SymKey(7, []byte{1, 2, 3})
	x = l.libDo(r)
	got, ok := ourEvent[otr.ExtraSymmetricKeyReceived](x)
	if !ok || hex.EncodeToString(got.Key[:]) != hex.EncodeToString(libKey) || got.Use != 7 || string(got.UseData) != "\x01\x02\x03" {
		t.Fatalf("our key differs from libotr's (%x):\n%s", libKey, x)
	}
	if len(x.us.Messages) != 0 {
		t.Errorf("symkey message shown: %v", x.us.Messages)
	}
}

// TestLibotrPlaintextWhileEncrypted: libotr's user sends plaintext in a
// private conversation only if its policy allows; we must mark it.
func TestLibotrUnencryptedWhileEncrypted(t *testing.T) {
	l := newLink(t, defaultOurConfig(), otrtest.Options{})
	establish(t, l, ourQuery, 3)
	// Simulate the peer's client sending raw plaintext (e.g. a second
	// client without OTR) by injecting it as a received line.
	out, err := l.us.call("recv " + otrtest.Escape("plain words"))
	if err != nil {
		t.Fatal(err)
	}
	var sawEvent bool
	for _, e := range out.Events {
		if _, ok := e.(otr.UnencryptedReceived); ok {
			sawEvent = true
		}
	}
	if len(out.Messages) != 1 || out.Messages[0].Encrypted || !sawEvent {
		t.Fatalf("plaintext in a private conversation: %+v", out)
	}
}

// TestLibotrCrossingMessages: both sides type at the same time, so
// messages cross on the wire, each encrypted before the other's (with its
// new DH key) arrived. Everything must still decrypt, in order.
func TestLibotrCrossingMessages(t *testing.T) {
	l := newLink(t, defaultOurConfig(), otrtest.Options{})
	establish(t, l, ourQuery, 3)
	for round := range 6 {
		var ourLines, libLines []string
		var ourTexts, libTexts []string
		for i := range 1 + round%3 {
			text := fmt.Sprintf("ours %d.%d", round, i)
			out, err := l.us.call("send " + hexs(text))
			if err != nil {
				t.Fatal(err)
			}
			ourLines = append(ourLines, out.Wire...)
			ourTexts = append(ourTexts, text)
		}
		for i := range 1 + (round+1)%3 {
			text := fmt.Sprintf("libotr %d.%d", round, i)
			libLines = append(libLines, l.lib.Send(text).Wire()...)
			libTexts = append(libTexts, text)
		}
		var x exchange
		l.pump(&x, ourLines, libLines)
		var got []string
		for _, m := range x.us.Messages {
			if !m.Encrypted {
				t.Fatalf("round %d: plaintext %q", round, m.Text)
			}
			got = append(got, m.Text)
		}
		if strings.Join(got, "|") != strings.Join(libTexts, "|") {
			t.Fatalf("round %d: we got %q, libotr sent %q:\n%s", round, got, libTexts, x)
		}
		got = nil
		for _, m := range x.lib.Messages() {
			got = append(got, m.Text)
		}
		if strings.Join(got, "|") != strings.Join(ourTexts, "|") {
			t.Fatalf("round %d: libotr got %q, we sent %q:\n%s", round, got, ourTexts, x)
		}
	}
}

// TestLibotrReplayedDataMessage: a data message delivered twice (an IRC
// bouncer replaying its buffer) is shown once.
func TestLibotrReplayedDataMessage(t *testing.T) {
	l := newLink(t, defaultOurConfig(), otrtest.Options{})
	establish(t, l, ourQuery, 3)
	x := libSend(t, l, "only once")
	var again exchange
	for _, line := range x.fromLib {
		out, err := l.us.call("recv " + otrtest.Escape(line))
		again.addOurs(out, err)
	}
	if len(again.us.Messages) != 0 {
		t.Fatalf("replayed data message delivered again: %+v", again.us.Messages)
	}
	var y exchange
	l.pump(&y, again.us.Wire, nil) // whatever we answered (an error, a re-AKE)
	libSend(t, l, "next one")
	ourSend(t, l, "and ours")
}

// TestLibotrOTRLookingText: text that looks like OTR protocol, sent inside
// an encrypted message, is just text on both sides. (A user typing a query
// into libotr is the exception: libotr sends its query in the clear
// instead, to refresh the session, so that one is only sent by us.)
func TestLibotrOTRLookingText(t *testing.T) {
	l := newLink(t, defaultOurConfig(), otrtest.Options{})
	establish(t, l, ourQuery, 3)
	for _, text := range []string{"?OTRv23?", "?OTR Error: not really", "?OTR:AAMD.", " \t  \t\t\t\t \t \t \t    \t\t  \t\t"} {
		if !strings.HasPrefix(text, "?OTRv") {
			x := libSend(t, l, text)
			if _, ok := ourEvent[otr.GoneSecure](x); ok || len(x.toLib) != 0 {
				t.Errorf("encrypted text %q made us act:\n%s", text, x)
			}
		}
		y := ourSend(t, l, text)
		if y.lib.Has("gone_secure", "") || y.lib.Has("still_secure", "") || len(y.fromLib) != 0 {
			t.Errorf("encrypted text %q made libotr act:\n%s", text, y)
		}
	}
}

// TestLibotrCorruptedMessages: a data message damaged on the way is
// reported by the receiver, never shown, and the session survives (the
// error reply may trigger a new AKE, per ERROR_START_AKE).
func TestLibotrCorruptedMessages(t *testing.T) {
	corrupt := func(line string) string {
		b := []byte(line)
		i := len(b) / 2
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	t.Run("ours to libotr", func(t *testing.T) {
		l := newLink(t, defaultOurConfig(), otrtest.Options{})
		establish(t, l, ourQuery, 3)
		out, err := l.us.call("send " + hexs("damaged"))
		if err != nil || len(out.Wire) != 1 {
			t.Fatalf("send: %v %q", err, out.Wire)
		}
		var x exchange
		l.pump(&x, []string{corrupt(out.Wire[0])}, nil)
		if !x.lib.Has("msg", "RCVDMSG_UNREADABLE") && !x.lib.Has("msg", "RCVDMSG_MALFORMED") {
			t.Fatalf("libotr did not report the damaged message:\n%s", x)
		}
		// libotr answers with an OTR error; our re-AKE may resend the
		// message (libotr's "[resent]" convention, same fingerprint), but
		// the damaged line itself never decrypts.
		for _, m := range x.lib.Messages() {
			if m.Name != "enc" || m.Text != "[resent] damaged" {
				t.Fatalf("libotr showed %q (%s)", m.Text, m.Name)
			}
		}
		ourSend(t, l, "intact")
		libSend(t, l, "intact too")
	})
	t.Run("libotr to us", func(t *testing.T) {
		l := newLink(t, defaultOurConfig(), otrtest.Options{})
		establish(t, l, ourQuery, 3)
		r := l.lib.Send("damaged")
		var x exchange
		l.pump(&x, nil, []string{corrupt(r.Wire()[0])})
		if len(x.us.Messages) != 0 {
			t.Fatalf("damaged message delivered:\n%s", x)
		}
		_, unreadable := ourEvent[otr.Unreadable](x)
		_, malformed := ourEvent[otr.Malformed](x)
		if !unreadable && !malformed {
			t.Fatalf("damaged message not reported:\n%s", x)
		}
		libSend(t, l, "intact")
		ourSend(t, l, "intact too")
	})
}

// TestLibotrSmallFragments: a tiny line budget (60 bytes, 23 characters of
// payload per v3 fragment) means thousands of fragments for 20 KB, both
// ways.
func TestLibotrSmallFragments(t *testing.T) {
	cfg := defaultOurConfig()
	cfg.FragmentSize = 60
	l := newLink(t, cfg, otrtest.Options{MaxMessageSize: 60})
	establish(t, l, ourQuery, 3)
	text := strings.Repeat("small pieces, many of them; ", 20000/28)
	x := ourSend(t, l, text)
	y := libSend(t, l, text)
	if len(x.toLib) < 1000 || len(x.toLib) != len(y.fromLib) {
		t.Fatalf("%d-byte message: %d fragments from us, %d from libotr", len(text), len(x.toLib), len(y.fromLib))
	}
}
