package otrsession

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

func TestInitThenMessagesBothWays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "opportunistic", "opportunistic")
		p.secure(t)
		for _, n := range []string{"Private conversation with bob started", "Private conversation with alice started"} {
			if !p.la.hasNotice(n) && !p.lb.hasNotice(n) {
				t.Errorf("no notice %q", n)
			}
		}
		// The secure notice carries both fingerprints and how to verify.
		bobFP := loadKey(t, "libotr-bob.key").Public().Fingerprint().String()
		aliceFP := loadKey(t, "otrbridge.key").Public().Fingerprint().String()
		if !p.la.hasNotice(bobFP) || !p.la.hasNotice(aliceFP) || !p.la.hasNotice("!otr auth") {
			t.Errorf("secure notice lacks fingerprints or instructions: %q", p.la.notices)
		}

		const secret1, secret2 = "the eagle lands at midnight", "ünïcödé reply ✓"
		if err := send(p.a, p.la, ircconn.Privmsg, secret1); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob gets the message", func() bool { return contains(p.lb.deliveredTexts(), secret1) })
		if err := send(p.b, p.lb, ircconn.Privmsg, secret2); err != nil {
			t.Fatal(err)
		}
		settled(t, "alice gets the reply", func() bool { return contains(p.la.deliveredTexts(), secret2) })
		// Emotes travel as "/me" inside OTR and come back as emotes.
		if err := send(p.a, p.la, ircconn.Action, "waves"); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob gets the emote", func() bool {
			_, d, _, _ := p.lb.snapshot()
			for _, m := range d {
				if m.Kind == ircconn.Action && m.Text == "waves" {
					return true
				}
			}
			return false
		})
		for _, l := range []*fakeLink{p.la, p.lb} {
			for _, s := range []string{secret1, secret2, "waves", "/me"} {
				if l.wireContains(s) {
					t.Errorf("plaintext %q on the wire", s)
				}
			}
			w, _, _, _ := l.snapshot()
			for _, line := range w {
				if !strings.HasPrefix(line, "?OTR") {
					t.Errorf("non-OTR line on the wire: %q", line)
				}
			}
			_, d, _, _ := l.snapshot()
			for _, m := range d {
				if strings.Contains(m.Text, "?OTR") || m.Annotation != "" {
					t.Errorf("delivered %+v", m)
				}
			}
		}
		// Fingerprints are in the trust store, untrusted.
		fps, err := p.da.Fingerprints.List(context.Background(), "@alice:example.org", "net", "net.bob")
		if err != nil || len(fps) != 1 || fps[0].Trust != db.TrustNone || fps[0].Nicks[0] != "bob" {
			t.Fatalf("trust store: %+v, %v", fps, err)
		}
		// And the private marker is set for the restart notice.
		m, _ := p.da.Private.List(context.Background(), "@alice:example.org")
		if len(m) != 1 || m[0].Peer != "net.bob" {
			t.Fatalf("markers: %+v", m)
		}
	})
}

func TestLongMessageFragmentedToBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "opportunistic", "opportunistic")
		p.la.budget = 300
		p.secure(t)
		long := strings.Repeat("0123456789 abcdefghij ", 150) // 3300 bytes
		if err := send(p.a, p.la, ircconn.Privmsg, long); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob gets the long message", func() bool { return contains(p.lb.deliveredTexts(), long) })
		w, _, _, _ := p.la.snapshot()
		frags := 0
		for _, l := range w {
			if len(l) > 300 {
				t.Fatalf("line of %d bytes over the budget", len(l))
			}
			if strings.HasPrefix(l, "?OTR|") {
				frags++
			}
		}
		if frags < 10 {
			t.Fatalf("only %d fragments", frags)
		}
		// 20 KB the other way, several lines in one message.
		big := strings.Repeat(strings.Repeat("ünïcode ✓ text ", 60)+"\n", 25)
		big = strings.TrimSuffix(big, "\n")
		if err := send(p.b, p.lb, ircconn.Privmsg, big); err != nil {
			t.Fatal(err)
		}
		want := strings.Split(big, "\n")
		settled(t, "alice gets every line", func() bool {
			got := p.la.deliveredTexts()
			return len(got) == len(want) && strings.Join(got, "\n") == big
		})
		if p.lb.wireContains("ünïcode") {
			t.Fatal("plaintext on the wire")
		}
	})
}

func TestWhitespaceTagStartsAKE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "opportunistic", "opportunistic")
		rep, err := p.b.Send(context.Background(), p.lb, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"hi there"}})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Unencrypted || rep.Encrypted {
			t.Errorf("report %+v, want unencrypted", rep)
		}
		if w, _, _, _ := p.lb.snapshot(); len(w) != 1 || otr.StripWhitespaceTag(w[0]) != "hi there" || w[0] == "hi there" {
			t.Fatalf("wire %q, want the message with a whitespace tag", w)
		}
		if !p.lb.hasNotice("UNENCRYPTED") {
			t.Error("no notice that the message went out unencrypted")
		}
		settled(t, "AKE from the tag", func() bool {
			return p.la.state() == StatePrivateUnverified && p.lb.state() == StatePrivateUnverified
		})
		if got := p.la.deliveredTexts(); len(got) != 1 || got[0] != "hi there" {
			t.Fatalf("alice got %q (tag must be stripped)", got)
		}
	})
}

func TestRequireHoldsUntilPrivate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "always", "opportunistic")
		var rep SendResult
		done := make(chan error, 1)
		go func() {
			var err error
			rep, err = p.a.Send(context.Background(), p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"held secret"}})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("held message never sent")
		}
		if !rep.Held || !rep.Encrypted {
			t.Errorf("report %+v", rep)
		}
		settled(t, "bob gets the held message", func() bool { return contains(p.lb.deliveredTexts(), "held secret") })
		if p.la.wireContains("held secret") {
			t.Fatal("held message on the wire in plaintext")
		}
	})
}

func TestRequireToNonOTRPeerFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDB(t)
		f := newManager(t, d, "@alice:example.org", managerOpts{policy: "always", keys: []string{"otrbridge.key"}})
		l := newLink("net", "carol") // carol has no OTR: nothing answers
		done := make(chan error, 1)
		go func() { done <- send(f, l, ircconn.Privmsg, "must not leak") }()
		settled(t, "query sent", func() bool { return l.wireContains("?OTRv") })
		time.Sleep(61 * time.Second) // the hold timeout passes
		var err error
		select {
		case err = <-done:
		case <-time.After(waitTimeout):
			t.Fatal("Send did not fail")
		}
		var se *SendError
		if !errors.As(err, &se) || !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "nothing was sent") ||
			!strings.Contains(err.Error(), "key exchange with carol did not complete") || !strings.Contains(err.Error(), "`!otr init` again") {
			t.Fatalf("err = %v", err)
		}
		if l.wireContains("must not leak") {
			t.Fatal("plaintext on the wire")
		}
		w, _, _, _ := l.snapshot()
		for _, line := range w {
			if line != "?OTRv23?" {
				t.Fatalf("unexpected wire line %q", line)
			}
		}
	})
}

func TestPeerEndedRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "opportunistic", "opportunistic")
		p.secure(t)
		if _, err := p.b.Finish(context.Background(), p.lb); err != nil {
			t.Fatal(err)
		}
		settled(t, "alice sees finished", func() bool { return p.la.state() == StateFinished })
		if !p.la.hasNotice("has ended the private conversation") {
			t.Error("no ended notice")
		}
		before, _, _, _ := p.la.snapshot()
		err := send(p.a, p.la, ircconn.Privmsg, "after the end")
		if !errors.Is(err, ErrFinished) || !strings.Contains(err.Error(), "!otr finish") || !strings.Contains(err.Error(), "!otr init") {
			t.Fatalf("err = %v", err)
		}
		synctest.Wait()
		if after, _, _, _ := p.la.snapshot(); len(after) != len(before) {
			t.Fatalf("wire output after refusal: %q", after[len(before):])
		}
		// `finish` returns to plaintext; then messages go out (unencrypted).
		if _, err := p.a.Finish(context.Background(), p.la); err != nil {
			t.Fatal(err)
		}
		if err := send(p.a, p.la, ircconn.Privmsg, "plain now"); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob gets plaintext", func() bool { return contains(p.lb.deliveredTexts(), "plain now") })
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestInitHoldsMessagesUntilPrivate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDB(t)
		f := newManager(t, d, "@alice:example.org", managerOpts{policy: "opportunistic", keys: []string{"otrbridge.key"}})
		l := newLink("net", "carol") // never answers
		if _, err := f.Init(context.Background(), l); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- send(f, l, ircconn.Privmsg, "thought this was private") }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Send returned %v before a private conversation existed", err)
		default:
		}
		time.Sleep(61 * time.Second) // the request expires
		if err := <-done; !errors.Is(err, ErrNotPrivate) {
			t.Fatalf("err = %v", err)
		}
		if w, _, _, _ := l.snapshot(); len(w) != 1 || w[0] != "?OTRv23?" {
			t.Fatalf("wire %q", w)
		}
		// Once the request has expired, opportunistic sending is plain again.
		if err := send(f, l, ircconn.Privmsg, "now in plaintext"); err != nil {
			t.Fatal(err)
		}
		if !l.wireContains("now in plaintext") {
			t.Fatal("plaintext not sent after the request expired")
		}
	})
}

// A link to a file is content outside OTR: in a private conversation it is
// refused once with the explanation and goes out (encrypted) when sent
// again; a new private session asks again; under policy always it is
// never sent.
func TestLinkOutsideOTR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "opportunistic", "opportunistic")
		p.secure(t)
		file := OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"report.pdf: https://bridge.example/media/x"}, OutsideOTR: "the file report.pdf"}
		_, err := p.a.Send(context.Background(), p.la, file)
		if !errors.Is(err, ErrOutsideOTR) || !strings.Contains(err.Error(), "Send it again") || !strings.Contains(err.Error(), "report.pdf") {
			t.Fatalf("first send: %v", err)
		}
		if p.la.wireContains("https://") || len(p.lb.deliveredTexts()) != 0 {
			t.Fatal("the refused link went out")
		}
		if rep, err := p.a.Send(context.Background(), p.la, file); err != nil || !rep.Encrypted {
			t.Fatalf("second send: %+v, %v", rep, err)
		}
		settled(t, "bob gets the link", func() bool { return contains(p.lb.deliveredTexts(), file.Lines[0]) })
		if p.la.wireContains("https://") {
			t.Fatal("the link went out in plaintext")
		}
		// A plain message is not affected.
		if err := send(p.a, p.la, ircconn.Privmsg, "just text"); err != nil {
			t.Fatal(err)
		}
		// New keys, a new private session: asked again.
		if _, err := p.a.Refresh(context.Background(), p.la); err != nil {
			t.Fatal(err)
		}
		settled(t, "refreshed", func() bool { return p.la.hasNotice("was refreshed") })
		if _, err := p.a.Send(context.Background(), p.la, file); !errors.Is(err, ErrOutsideOTR) {
			t.Fatalf("after a refresh: %v, want asked again", err)
		}
	})
}

func TestLinkOutsideOTRPolicyAlways(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "always", "opportunistic")
		p.secure(t)
		file := OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"report.pdf: https://bridge.example/media/x"}, OutsideOTR: "the file report.pdf"}
		for range 2 {
			_, err := p.a.Send(context.Background(), p.la, file)
			if !errors.Is(err, ErrOutsideOTR) || !strings.Contains(err.Error(), "always") {
				t.Fatalf("send under policy always: %v", err)
			}
		}
		if p.la.wireContains("https://") || len(p.lb.deliveredTexts()) != 0 {
			t.Fatal("a link went out under policy always")
		}
	})
}

// CheckOutsideOTR answers before the link exists, as Send would: nothing to
// say without a private conversation, once the explanation in one, then
// the link goes out.
func TestCheckOutsideOTR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, "manual", "manual")
		ctx := context.Background()
		if err := p.a.CheckOutsideOTR(ctx, p.la, "the file a.png"); err != nil {
			t.Fatalf("without a private conversation: %v", err)
		}
		p.secure(t)
		if err := p.a.CheckOutsideOTR(ctx, p.la, "the file a.png"); !errors.Is(err, ErrOutsideOTR) {
			t.Fatalf("in a private conversation: %v", err)
		}
		if err := p.a.CheckOutsideOTR(ctx, p.la, "the file a.png"); err != nil {
			t.Fatalf("after the explanation: %v", err)
		}
		file := OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"a.png: https://bridge.example/media/y"}, OutsideOTR: "the file a.png"}
		if rep, err := p.a.Send(ctx, p.la, file); err != nil || !rep.Encrypted {
			t.Fatalf("send: %+v, %v", rep, err)
		}
	})
}
