package otrsession

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
)

// A peer in a private conversation renames itself to a nick ending in
// "serv" and then to a name on the services list: the conversation stays
// private and every message goes out encrypted.
func TestServiceNameNeverDowngrades(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := &pair{da: newDB(t), db: newDB(t)}
		p.a = newManager(t, p.da, "@alice:example.org", managerOpts{policy: "always", keys: []string{"otrbridge.key"}, services: []string{"BotServ"}})
		p.b = newManager(t, p.db, "@bob:example.org", managerOpts{policy: "manual", keys: []string{"libotr-bob.key"}})
		p.la, p.lb = newLink("net", "bob"), newLink("net", "alice")
		p.connect()
		p.secure(t)
		for _, nick := range []string{"erinserv", "BotServ"} {
			p.la.setNick(nick)
			p.a.PeerRenamed(ctx, p.la, "bob is now known as "+p.la.Nick()+".")
			text := "to " + nick
			res, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{text}})
			if err != nil {
				t.Fatalf("send after the rename to %s: %v", nick, err)
			}
			if !res.Encrypted || res.Unencrypted {
				t.Errorf("after the rename to %s: %+v", nick, res)
			}
			settled(t, "bob reads it", func() bool { return slices.Contains(p.lb.deliveredTexts(), text) })
			if p.la.wireContains(text) {
				t.Fatalf("plaintext on the wire after the rename to %s", nick)
			}
			if !p.la.hasNotice("continues with " + nick) {
				t.Errorf("no notice that the conversation continues with %s", nick)
			}
		}
	})
}

// A name on the services list is exempt from OTR only for a peer the user
// never had OTR with: a stored fingerprint (after a restart: no
// conversation in memory) or a policy of its own keeps OTR on.
func TestServiceExemptionNeedsNoHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		d := newDB(t)
		opts := managerOpts{policy: "always", keys: []string{"otrbridge.key"}, services: []string{"BotServ", "Global"}}
		f := newManager(t, d, "@alice:example.org", opts)

		// BotServ's peer ID has a stored fingerprint (it was someone we
		// talked to privately, under another nick).
		known := newLink("net", "BotServ")
		known.uid = "net.erin"
		if _, err := d.Fingerprints.Seen(ctx, "@alice:example.org", "net", "net.erin", "erin", make([]byte, 20), time.Now()); err != nil {
			t.Fatal(err)
		}
		// Global has a policy of its own.
		own := newLink("net", "Global")
		if err := d.Policies.Set(ctx, "@alice:example.org", "net", string(own.uid), db.PolicyAlways, time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, l := range []*fakeLink{known, own} {
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			res, err := f.Send(sctx, l, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"private " + l.nick}})
			cancel()
			if err == nil || res.Unencrypted {
				t.Errorf("%s: sent (%+v), want held for a private conversation", l.nick, res)
			}
			if l.wireContains("private " + l.nick) {
				t.Errorf("%s: plaintext on the wire", l.nick)
			}
			if w, _, _, _ := l.snapshot(); len(w) == 0 || !strings.HasPrefix(w[0], "?OTR") {
				t.Errorf("%s: no OTR query on the wire: %q", l.nick, w)
			}
		}

		// A service without history: plaintext, reported as such.
		svc := newLink("net", "BotServ")
		res, err := f.Send(ctx, svc, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"HELP"}})
		if err != nil || !res.Unencrypted {
			t.Fatalf("to a service: %+v %v", res, err)
		}
		synctest.Wait()
		if !svc.hasNotice("UNENCRYPTED") {
			t.Error("no notice that messages to the service are sent unencrypted")
		}
	})
}

// Policy never by any means (the peer's, the default) does not downgrade
// a private or finished conversation; a restart's cut-off conversation
// stays closed until `finish`.
func TestPolicyNeverFailsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPair(t, "manual", "manual")
		p.secure(t)
		r, err := p.a.SetDefaultPolicy(ctx, "never")
		if err != nil || !strings.Contains(r, "not affected") {
			t.Fatalf("default never: %q %v", r, err)
		}
		res, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"private still"}})
		if err != nil || !res.Encrypted {
			t.Fatalf("send while private under never: %+v %v", res, err)
		}
		if p.la.wireContains("private still") {
			t.Fatal("plaintext on the wire")
		}
		// The peer ends: refused, whatever the policy.
		if _, err := p.b.Finish(ctx, p.lb); err != nil {
			t.Fatal(err)
		}
		settled(t, "alice finished", func() bool { return p.la.state() == StateFinished })
		if _, err := p.a.Send(ctx, p.la, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"after the end"}}); err == nil {
			t.Fatal("sent after the peer ended the conversation under policy never")
		}
		if p.la.wireContains("after the end") {
			t.Fatal("plaintext on the wire after the peer ended")
		}

		// A restart during a private conversation, and policy never
		// after it: refused until `finish`.
		d := newDB(t)
		if err := d.Private.Mark(ctx, "@alice:example.org", "net", "net.carol", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := d.Policies.Set(ctx, "@alice:example.org", "net", db.DefaultPeer, db.PolicyNever, time.Now()); err != nil {
			t.Fatal(err)
		}
		f := newManager(t, d, "@alice:example.org", managerOpts{policy: "manual", keys: []string{"otrbridge.key"}})
		carol := newLink("net", "carol")
		if _, err := f.Send(ctx, carol, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"after restart"}}); err == nil || !strings.Contains(err.Error(), "finish") {
			t.Fatalf("send after a restart under never: %v", err)
		}
		if carol.wireContains("after restart") {
			t.Fatal("plaintext on the wire after the restart")
		}
		if _, err := f.Finish(ctx, carol); err != nil {
			t.Fatal(err)
		}
		res, err = f.Send(ctx, carol, OutgoingText{Kind: ircconn.Privmsg, Lines: []string{"after finish"}})
		if err != nil || !res.Unencrypted {
			t.Fatalf("send after finish: %+v %v", res, err)
		}
	})
}
