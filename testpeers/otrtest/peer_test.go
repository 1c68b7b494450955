package otrtest

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// relay delivers wire lines back and forth between two libotr peers until
// both are quiet, and returns everything each side produced.
func relay(t *testing.T, a, b *LibotrPeer, fromA []string) (outA, outB Result) {
	t.Helper()
	toB, toA := fromA, []string(nil)
	for rounds := 0; len(toA)+len(toB) > 0; rounds++ {
		if rounds > 20 {
			t.Fatal("relay: peers did not settle")
		}
		rb := b.Recv(toB...)
		outB.Lines = append(outB.Lines, rb.Lines...)
		toB = nil
		toA = append(toA, rb.Wire()...)
		ra := a.Recv(toA...)
		outA.Lines = append(outA.Lines, ra.Lines...)
		toA = nil
		toB = ra.Wire()
	}
	return outA, outB
}

func startPair(t *testing.T) (alice, bob *LibotrPeer) {
	alice = StartLibotr(t, Options{Account: "alice", Peer: "bob", KeyFile: Testdata("libotr-alice.key")})
	bob = StartLibotr(t, Options{Account: "bob", Peer: "alice", KeyFile: Testdata("libotr-bob.key")})
	return alice, bob
}

// TestLibotrPeersTalk checks the harness itself with libotr on both sides:
// AKE from a query, messages both ways with fragmentation, SMP, the extra
// symmetric key, the heartbeat clock and the disconnect.
func TestLibotrPeersTalk(t *testing.T) {
	alice, bob := startPair(t)
	if alice.Fingerprint != "521e2b34c395c992839ea9ace2842a823b6265fb" || bob.HumanFP != "AB815962 9D7CB8E6 E9F383AF E442AB20 0039D47A" {
		t.Fatalf("stored keys not used: %s / %s", alice.Fingerprint, bob.HumanFP)
	}

	q := alice.Query()
	if w := q.Wire(); len(w) != 1 || !strings.HasPrefix(w[0], "?OTRv23?\n") {
		t.Fatalf("query: %q", w)
	}
	outA, outB := relay(t, alice, bob, q.Wire())
	if !outA.Has("gone_secure", "") || !outB.Has("gone_secure", "") {
		t.Fatalf("no AKE:\nalice:\n%s\nbob:\n%s", outA, outB)
	}
	ia, ib := alice.Info(), bob.Info()
	if ia.State != "encrypted" || ia.Version != 3 || ia.TheirFP != bob.Fingerprint || ib.TheirFP != alice.Fingerprint || ia.SSID != ib.SSID {
		t.Fatalf("after AKE: alice %+v bob %+v", ia, ib)
	}
	if ia.TheirInstance != bob.InstanceTag || ib.TheirInstance != alice.InstanceTag {
		t.Fatalf("instance tags: alice sees %08x (bob %08x), bob sees %08x (alice %08x)", ia.TheirInstance, bob.InstanceTag, ib.TheirInstance, alice.InstanceTag)
	}

	big := strings.Repeat("ünïcødé ", 100<<10/10)
	for _, text := range []string{"hello, bob", big} {
		s := alice.Send(text)
		if strings.Contains(strings.Join(s.Wire(), ""), "hello") {
			t.Fatal("plaintext on the wire")
		}
		for _, w := range s.Wire() {
			if len(w) > 400 {
				t.Fatalf("fragment of %d bytes", len(w))
			}
		}
		_, outB = relay(t, alice, bob, s.Wire())
		msgs := outB.Messages()
		if len(msgs) != 1 || msgs[0].Name != "enc" || msgs[0].Text != text {
			t.Fatalf("bob got %d messages (want the %d-byte text encrypted)", len(msgs), len(text))
		}
	}
	r := bob.Send("hi alice")
	_, outA = relay(t, bob, alice, r.Wire())
	if m := outA.Messages(); len(m) != 1 || m[0].Text != "hi alice" {
		t.Fatalf("alice got %v", m)
	}

	// SMP with a question, answered correctly.
	s := alice.SMPQuestion("colour?", "blue")
	_, outB = relay(t, alice, bob, s.Wire())
	ask, ok := outB.Event("smp", "ASK_FOR_ANSWER")
	if !ok || ask.Args["question"] != hex.EncodeToString([]byte("colour?")) {
		t.Fatalf("bob was not asked: %s", outB)
	}
	s = bob.SMPAnswer("blue")
	outB, outA = relay(t, bob, alice, s.Wire())
	if !outA.Has("smp", "SUCCESS") || !outB.Has("smp", "SUCCESS") {
		t.Fatalf("SMP did not succeed:\nalice:\n%s\nbob:\n%s", outA, outB)
	}
	if alice.Info().Trust != "smp" {
		t.Fatalf("initiator not trusting after SMP: %+v", alice.Info())
	}

	// Extra symmetric key: both sides see the same key.
	key, s := alice.SymKey(7, []byte("file-1"))
	_, outB = relay(t, alice, bob, s.Wire())
	ev, ok := outB.Event("symkey_received", "")
	if !ok || ev.Args["use"] != "7" || ev.Args["usedata"] != "66696c652d31" || ev.Args["key"] != hex.EncodeToString(key) {
		t.Fatalf("symkey: alice %x, bob %s", key, outB)
	}

	// Heartbeat: after a minute of silence, bob answers a message with an
	// empty data message.
	bob.Advance(61 * time.Second)
	s = alice.Send("are you there?")
	rb := bob.Recv(s.Wire()...)
	if !rb.Has("msg", "LOG_HEARTBEAT_SENT") || len(rb.Wire()) != 1 {
		t.Fatalf("no heartbeat after 61 s:\n%s", rb)
	}
	ra := alice.Recv(rb.Wire()...)
	if !ra.Has("msg", "LOG_HEARTBEAT_RCVD") || len(ra.Messages()) != 0 {
		t.Fatalf("heartbeat not silent:\n%s", ra)
	}

	// Disconnect: bob goes FINISHED and refuses to send.
	e := alice.End()
	rb = bob.Recv(e.Wire()...)
	if !rb.Has("state", "finished") {
		t.Fatalf("bob not finished:\n%s", rb)
	}
	s = bob.Send("still there?")
	if len(s.Wire()) != 0 || !s.Has("msg", "CONNECTION_ENDED") {
		t.Fatalf("finished peer sent %q", s.Wire())
	}
}

// TestLibotrPeersWhitespaceV2 checks the whitespace-tag start and forced v2.
func TestLibotrPeersWhitespaceV2(t *testing.T) {
	alice, bob := startPair(t)
	alice.SetPolicy(PolicyAllowV2 | PolicySendWhitespaceTag | PolicyWhitespaceStart)
	s := alice.Send("hi")
	w := s.Wire()
	if len(w) != 1 || !strings.HasPrefix(w[0], "hi \t  \t\t\t\t \t \t \t  ") {
		t.Fatalf("no whitespace tag: %q", w)
	}
	outA, outB := relay(t, alice, bob, w)
	if m := outB.Messages(); len(m) != 1 || m[0].Text != "hi" || m[0].Name != "plain" {
		t.Fatalf("bob shows %v", m)
	}
	if !outA.Has("gone_secure", "") || bob.Info().Version != 2 {
		t.Fatalf("no v2 AKE:\n%s", outA)
	}
}

func TestEscape(t *testing.T) {
	for _, s := range []string{"", `a\b`, "x\ny\r\\n", "?OTRv23?\n<b>"} {
		if got := Unescape(Escape(s)); got != s {
			t.Errorf("round trip %q → %q", s, got)
		}
		if strings.ContainsAny(Escape(s), "\r\n") {
			t.Errorf("escaped %q still has a line break", s)
		}
	}
}
