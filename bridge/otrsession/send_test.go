package otrsession

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// A message whose Lines quote an earlier private message carries the quote
// only inside the private conversation: unencrypted (after `finish`, or to
// a peer without OTR) its PlaintextLines go instead, and an empty
// plaintext form sends nothing.
func TestPlaintextLinesWhenUnencrypted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		const quote, body, bare = "> <bob> the eagle lands at midnight", "see you there", "reacted 👍"
		p := newPair(t, "manual", "manual")
		p.secure(t)
		res, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{quote, body}, PlaintextLines: []string{body}})
		if err != nil || !res.Encrypted {
			t.Fatalf("private send: %+v, %v", res, err)
		}
		settled(t, "bob gets the quote inside OTR", func() bool {
			return contains(p.lb.deliveredTexts(), quote) && contains(p.lb.deliveredTexts(), body)
		})

		if _, err := p.a.Finish(ctx, p.la); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob sees the end", func() bool { return p.lb.state() == StateFinished })
		res, err = p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Action, Lines: []string{bare + " to: the eagle"}, PlaintextLines: []string{bare}})
		if err != nil || !res.Unencrypted {
			t.Fatalf("plaintext send: %+v, %v", res, err)
		}
		settled(t, "the bare form on the wire", func() bool { return p.la.wireContains(bare) })
		if p.la.wireContains("eagle") {
			t.Error("the quoted private text went out in plaintext")
		}
		before, _, _, _ := p.la.snapshot()
		_, err = p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{quote}, PlaintextLines: []string{}})
		if !errors.Is(err, errEmpty) {
			t.Errorf("empty plaintext form: err = %v, want the empty-message error", err)
		}
		synctest.Wait()
		if after, _, _, _ := p.la.snapshot(); len(after) != len(before) {
			t.Errorf("an empty plaintext form put %q on the wire", after[len(before):])
		}
	})
}

// Under policy never (no OTR for the peer) the plaintext form goes too.
func TestPlaintextLinesPolicyNever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "never", keys: []string{"otrbridge.key"}})
		l := newLink("net", "carol")
		res, err := f.Send(context.Background(), l, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"> <carol> a private word", "hello"}, PlaintextLines: []string{"hello"}})
		if err != nil || !res.Unencrypted {
			t.Fatalf("send: %+v, %v", res, err)
		}
		synctest.Wait()
		if w, _, _, _ := l.snapshot(); len(w) != 1 || w[0] != "hello" {
			t.Errorf("wire %q, want only the plaintext form", w)
		}
	})
}
