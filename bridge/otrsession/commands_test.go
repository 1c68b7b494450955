package otrsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// resolver maps nicks to links for control-room commands.
func resolver(links ...*fakeLink) func(context.Context, string) (PeerLink, error) {
	return func(_ context.Context, nick string) (PeerLink, error) {
		for _, l := range links {
			if strings.EqualFold(l.Nick(), nick) {
				return l, nil
			}
		}
		if strings.ContainsAny(nick, " .") {
			return nil, errors.New("not a nick")
		}
		return newLink("net", nick), nil
	}
}

func TestInfoContextsPolicyCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "opportunistic", "opportunistic")
		p.a.cfg.Resolve = resolver(p.la)
		p.secure(t)

		info, err := p.a.Info(ctx, p.la)
		if err != nil {
			t.Fatal(err)
		}
		bobFP := loadKey(t, "libotr-bob.key").Public().Fingerprint().String()
		for _, want := range []string{"private (unverified)", "OTR v3", bobFP, "NOT verified", "Session ID", "Policy: opportunistic (network default)", "Known fingerprints"} {
			if !strings.Contains(info, want) {
				t.Errorf("info lacks %q:\n%s", want, info)
			}
		}
		ctxs := p.a.Contexts()
		if !strings.Contains(ctxs, "bob: private (unverified)") || !strings.Contains(ctxs, "encrypted, v3") {
			t.Errorf("contexts:\n%s", ctxs)
		}

		// Policy: per peer (portal and control room), user default, reset.
		if r, err := p.a.SetPolicy(ctx, p.la, "always"); err != nil || !strings.Contains(r, "now always") {
			t.Fatalf("policy always: %q %v", r, err)
		}
		pol, scope, _ := p.da.Policies.Effective(ctx, "@alice:example.org", "net", "net.bob")
		if pol != db.PolicyAlways || scope != db.ScopePeer {
			t.Fatalf("stored policy %s %v", pol, scope)
		}
		if r, _ := p.a.Policy(ctx, p.la); !strings.Contains(r, "always (set for this chat)") {
			t.Fatalf("policy show: %q", r)
		}
		if r, err := p.a.SetDefaultPolicy(ctx, "manual"); err != nil || !strings.Contains(r, "now manual") {
			t.Fatalf("policy default: %q %v", r, err)
		}
		if r, _ := p.a.DefaultPolicy(ctx); !strings.Contains(r, "manual (network default: opportunistic)") {
			t.Fatalf("default show: %q", r)
		}
		if _, err := p.a.SetPolicy(ctx, p.la, "reset"); err != nil {
			t.Fatal(err)
		}
		if r, _ := p.a.Policy(ctx, p.la); !strings.Contains(r, "manual (your default)") {
			t.Fatalf("after reset: %q", r)
		}
		if _, err := p.a.SetPolicy(ctx, p.la, "sometimes"); err == nil {
			t.Fatal("bad policy accepted")
		}
		// Turning OTR off does not end the private conversation: it stays
		// private (and messages encrypted) until the user finishes it.
		if r, err := p.a.SetPolicy(ctx, p.la, "never"); err != nil || !strings.Contains(r, "not affected") {
			t.Fatalf("policy never while private: %q %v", r, err)
		}
		if err := send(p.a, p.la, ircconn.Privmsg, "still private"); err != nil {
			t.Fatal(err)
		}
		settled(t, "bob reads it", func() bool { return slices.Contains(p.lb.deliveredTexts(), "still private") })
		if p.la.wireContains("still private") || p.la.state() != StatePrivateUnverified {
			t.Fatalf("policy never downgraded the conversation (state %s)", p.la.state())
		}
		if _, err := p.a.Finish(ctx, p.la); err != nil {
			t.Fatal(err)
		}
		settled(t, "plaintext", func() bool { return p.la.state() == StatePlaintext })
		settled(t, "bob finished", func() bool { return p.lb.state() == StateFinished })
		if err := send(p.a, p.la, ircconn.Privmsg, "no otr"); err != nil {
			t.Fatal(err)
		}
		if w, _, _, _ := p.la.snapshot(); w[len(w)-1] != "no otr" {
			t.Fatalf("policy never sent %q", w[len(w)-1])
		}
		if _, err := p.a.Init(ctx, p.la); err == nil || !strings.Contains(err.Error(), "policy never") {
			t.Fatalf("init under never: %v", err)
		}
	})
}

func TestTrustForgetAndFinishAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "opportunistic", "opportunistic")
		p.a.cfg.Resolve = resolver(p.la)
		p.secure(t)
		bobFP := loadKey(t, "libotr-bob.key").Public().Fingerprint()
		if _, err := p.a.Trust(ctx, p.la, strings.ToLower(bobFP.String())); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if p.la.state() != StatePrivateVerified || trustOf(t, p.da, "@alice:example.org", "net.bob", bobFP) != db.TrustManual {
			t.Fatal("trust by fingerprint failed")
		}
		if _, err := p.a.Trust(ctx, p.la, "0000000000000000000000000000000000000000"); err == nil {
			t.Fatal("trusted an unknown fingerprint")
		}
		if _, err := p.a.Forget(ctx, p.la, ""); err == nil || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("forgot the fingerprint in use: %v", err)
		}
		if r := p.a.FinishAll(ctx); !strings.Contains(r, "Ended 1") {
			t.Fatalf("finish *: %q", r)
		}
		settled(t, "bob finished", func() bool { return p.lb.state() == StateFinished })
		if _, err := p.a.Forget(ctx, p.la, ""); err != nil {
			t.Fatal(err)
		}
		if fps, _ := p.da.Fingerprints.List(ctx, "@alice:example.org", "net", "net.bob"); len(fps) != 0 {
			t.Fatalf("forget left %d", len(fps))
		}
		if _, err := p.a.AnswerSMP(ctx, p.la, "x"); err == nil || !strings.Contains(err.Error(), "no private conversation") {
			t.Fatalf("auth without a session: %v", err)
		}
	})
}

func TestGenkeyImportExport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "opportunistic", "opportunistic")
		p.a.cfg.Resolve = resolver(p.la)
		p.secure(t)
		p.a.cfg.GenerateKey = keys(t, "libotr-alice.key") // for genkey
		oldFP := loadKey(t, "otrbridge.key").Public().Fingerprint().String()
		if r, _ := p.a.Fingerprint(ctx); !strings.Contains(r, oldFP) {
			t.Fatalf("fingerprint: %q", r)
		}
		newFP := loadKey(t, "libotr-alice.key").Public().Fingerprint().String()
		if r, err := p.a.GenerateKey(ctx); err != nil || !strings.Contains(r, newFP) {
			t.Fatalf("genkey confirm: %q %v", r, err)
		}
		settled(t, "old session ended", func() bool { return p.lb.state() == StateFinished && p.la.state() == StatePlaintext })
		// A new session uses the new key; bob sees a new-key warning.
		if _, err := p.b.Finish(ctx, p.lb); err != nil {
			t.Fatal(err)
		}
		p.secure(t)
		settled(t, "bob's warning", func() bool { return p.lb.hasNotice("alice is using a NEW OTR key") })

		// Import a libotr key file: it becomes the identity.
		keyFile, err := os.ReadFile(otrtest.Testdata("libotr-bob.key"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.a.ImportLibotrKey(ctx, []byte("(privkeys"), ""); err == nil {
			t.Fatal("broken key file accepted")
		}
		r, err := p.a.ImportLibotrKey(ctx, keyFile, "")
		bobFP := loadKey(t, "libotr-bob.key").Public().Fingerprint()
		if err != nil || !strings.Contains(r, bobFP.String()) {
			t.Fatalf("import: %q %v", r, err)
		}
		ident, _ := p.da.Identity.Get(ctx, "@alice:example.org", "net")
		if ident == nil {
			t.Fatal("imported key not stored")
		}

		// Fingerprints: import (trust kept) and export round trip.
		ourFP := loadKey(t, "otrbridge.key").Public().Fingerprint()
		fpFile := fmt.Sprintf("carol\tme@net\tprpl-irc\t%x\tsmp\ndave@irc.example\tme@net\tprpl-irc\t%x\t\nbad.nick\tme@net\tprpl-irc\t%x\tverified\n",
			bobFP[:], ourFP[:], bobFP[:])
		r, err = p.a.ImportLibotrFingerprints(ctx, []byte(fpFile), "")
		if err != nil || !strings.Contains(r, "Imported 2 fingerprint(s), 1 of them verified") || !strings.Contains(r, "Skipped 1") {
			t.Fatalf("import fingerprints: %q %v", r, err)
		}
		if got := trustOf(t, p.da, "@alice:example.org", "net.carol", bobFP); got != db.TrustManual {
			t.Fatalf("imported trust %s", got)
		}
		out, err := p.a.ExportFingerprints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := otr.ParseLibotrFingerprints(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("export is not a libotr file: %v\n%s", err, out)
		}
		seen := map[string]string{}
		for _, kf := range parsed {
			seen[kf.Username] = kf.Trust
			if kf.Account != "me@net" || kf.Protocol != "prpl-irc" {
				t.Errorf("exported %+v", kf)
			}
		}
		if seen["carol"] != "verified" || seen["dave"] != "" || len(seen) != 3 {
			t.Fatalf("exported %v", seen)
		}
	})
}

func TestUnreadableStoredKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		d := newDB(t)
		f := newManager(t, d, "@alice:example.org", managerOpts{keys: []string{"otrbridge.key"}})
		if _, err := f.Fingerprint(ctx); err != nil {
			t.Fatal(err)
		}
		f.Close()
		// The config secret changed: the stored key does not open.
		f2 := newManager(t, d, "@alice:example.org", managerOpts{keys: []string{"libotr-alice.key"}, secret: "another secret, also long enough"})
		l := newLink("net", "bob")
		err := send(f2, l, ircconn.Privmsg, "hello")
		if err == nil || !strings.Contains(err.Error(), "cannot be decrypted") || !strings.Contains(err.Error(), "genkey confirm") {
			t.Fatalf("send with an unreadable key: %v", err)
		}
		f2.Receive(ctx, l, IncomingText{Text: "?OTRv23?"})
		f2.Receive(ctx, l, IncomingText{Text: "plain words"})
		synctest.Wait()
		if got := l.deliveredTexts(); len(got) != 1 || got[0] != "plain words" || !l.hasNotice("OTR key is unusable") {
			t.Fatalf("delivered %q, notices %q", got, l.notices)
		}
		if w, _, _, _ := l.snapshot(); len(w) != 0 {
			t.Fatalf("wire %q", w)
		}
		// genkey recovers.
		if _, err := f2.GenerateKey(ctx); err != nil {
			t.Fatal(err)
		}
		if err := send(f2, l, ircconn.Privmsg, "hello again"); err != nil {
			t.Fatal(err)
		}
		// One peer's policy leaves another's alone.
		carol := newLink("net", "carol")
		if r, err := f2.SetPolicy(ctx, l, "always"); err != nil || !strings.Contains(r, "bob is now always") {
			t.Fatalf("policy for bob: %q %v", r, err)
		}
		if r, _ := f2.Policy(ctx, carol); !strings.Contains(r, "carol: opportunistic") {
			t.Fatalf("carol's policy changed: %q", r)
		}
	})
}

// `finish` while a message waits for a private conversation: the message
// fails at once (saying why), and the reply tells what happens to new
// messages as it will happen: unencrypted under manual, still held under
// always.
func TestFinishWhileHeld(t *testing.T) {
	for _, policy := range []string{"manual", "always"} {
		t.Run(policy, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: policy, keys: []string{"otrbridge.key"}})
				l := newLink("net", "carol") // no OTR: nothing answers
				if _, err := f.Init(ctx, l); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- send(f, l, ircconn.Privmsg, "held") }()
				synctest.Wait()
				reply, err := f.Finish(ctx, l)
				if err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				var held error
				select {
				case held = <-done:
				default:
					t.Fatal("the held message still waits after finish")
				}
				if held == nil || !strings.Contains(held.Error(), "you ran `!otr finish`") {
					t.Errorf("held message: %v", held)
				}
				next := send(f, l, ircconn.Privmsg, "next")
				switch policy {
				case "manual":
					if !strings.Contains(reply, "New messages are sent unencrypted") || next != nil || !l.wireContains("next") {
						t.Errorf("reply %q; next message: %v", reply, next)
					}
				case "always":
					if strings.Contains(reply, "sent unencrypted") || !strings.Contains(reply, "sends nothing unencrypted") {
						t.Errorf("reply %q", reply)
					}
				}
				if l.wireContains("held") {
					t.Error("the held message reached the wire")
				}
			})
		})
	}
}

// TestInPortalReplies: `init` and `refresh` given in the portal add
// nothing when the key exchange is done within akeReplyDelay (the notice
// that follows says it all), and say that they asked when it is still
// pending then.
func TestInPortalReplies(t *testing.T) {
	count := func(l *fakeLink, prefix string) int {
		_, _, notices, _ := l.snapshot()
		n := 0
		for _, s := range notices {
			if strings.HasPrefix(s, prefix) {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name, reply string
		// done is the notice that ends the key exchange ("" for the
		// private state alone).
		done string
		// before brings the pair to where the command applies.
		before func(*testing.T, *pair)
		run    func(context.Context, *pair) error
	}{
		{"init", "Asked bob for a private conversation", "", func(*testing.T, *pair) {},
			func(ctx context.Context, p *pair) error { return p.a.InitInPortal(ctx, p.la) }},
		{"refresh", "Renewing the keys of the private conversation with bob", "was refreshed", func(t *testing.T, p *pair) { p.secure(t) },
			func(ctx context.Context, p *pair) error { return p.a.RefreshInPortal(ctx, p.la) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()

				answered := newPair(t, "manual", "manual")
				tc.before(t, answered)
				if err := tc.run(ctx, answered); err != nil {
					t.Fatal(err)
				}
				settled(t, "secure", func() bool {
					return answered.la.state() == StatePrivateUnverified && (tc.done == "" || answered.la.hasNotice(tc.done))
				})
				time.Sleep(3 * akeReplyDelay)
				synctest.Wait()
				if n := count(answered.la, tc.reply); n != 0 {
					t.Errorf("%d replies to %s after the key exchange was done", n, tc.name)
				}

				silent := newPair(t, "manual", "manual")
				tc.before(t, silent)
				silent.la.mu.Lock()
				silent.la.remote = nil // bob's client stops answering
				silent.la.mu.Unlock()
				if err := tc.run(ctx, silent); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if n := count(silent.la, tc.reply); n != 0 {
					t.Fatalf("the reply came before %s", akeReplyDelay)
				}
				time.Sleep(3 * akeReplyDelay)
				synctest.Wait()
				if n := count(silent.la, tc.reply); n != 1 {
					t.Errorf("%d replies to %s while the key exchange is pending, want 1", n, tc.name)
				}
			})
		})
	}
}
