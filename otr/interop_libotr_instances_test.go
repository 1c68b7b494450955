package otr_test

// Several libotr instances of one account (v3 instance tags).

import (
	"errors"
	"testing"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// TestLibotrTwoInstances: the same account logged in twice (two libotr
// clients with the same key, different instance tags), both seeing all our
// lines as two IRC clients behind one nick would. Each gets its own
// session; replies go to the instance that spoke last, and the other
// instance ignores data meant for its sibling.
func TestLibotrTwoInstances(t *testing.T) {
	a := otrtest.StartLibotr(t, otrtest.Options{InstanceTag: 0xaaaa0001})
	b := otrtest.StartLibotr(t, otrtest.Options{InstanceTag: 0xbbbb0002})
	runTwoInstances(t, newOurs(t, defaultOurConfig()), a, b)
}

// runTwoInstances is the scenario of TestLibotrTwoInstances; the
// transcript recorder runs it too.
func runTwoInstances(t *testing.T, us *ours, a, b *otrtest.LibotrPeer) {
	libs := []*otrtest.LibotrPeer{a, b}

	pump := func(fromUs []string, from *otrtest.LibotrPeer, fromLib []string) (exchange, [2]otrtest.Result) {
		return pumpMany(t, us, libs, fromUs, fromLib)
	}
	libSays := func(l *otrtest.LibotrPeer, r otrtest.Result) (exchange, [2]otrtest.Result) {
		return pump(nil, l, r.Wire())
	}
	weSay := func(text string) [2]otrtest.Result {
		out, err := us.call("send " + hexs(text))
		if err != nil {
			t.Fatal(err)
		}
		_, per := pump(out.Wire, nil, nil)
		return per
	}

	// Both instances start an AKE with us. (Our D-H Commit goes to
	// receiver tag 0, so an instance that is already private answers it
	// too and refreshes its session, as libotr does.)
	for i, l := range libs {
		x, _ := libSays(l, l.QueryBare())
		found := false
		for _, e := range x.us.Events {
			if gs, ok := e.(otr.GoneSecure); ok && uint32(gs.Instance) == l.InstanceTag {
				found = true
			}
		}
		if !found {
			t.Fatalf("instance %d: no session:\n%s", i, x)
		}
	}
	if n := len(us.conv.Instances()); n != 2 {
		t.Errorf("we know %d instances, want 2", n)
	}
	for i, l := range libs {
		if st := l.Info().State; st != "encrypted" {
			t.Fatalf("instance %d is %s", i, st)
		}
	}
	// Replies follow the instance that spoke last.
	for _, speaker := range []int{1, 0, 1} {
		l := libs[speaker]
		x, _ := libSays(l, l.Send("from instance"))
		if len(x.us.Messages) != 1 || uint32(x.us.Messages[0].Instance) != l.InstanceTag || !x.us.Messages[0].Encrypted {
			t.Fatalf("message from instance %08x delivered as %+v", l.InstanceTag, x.us.Messages)
		}
		per := weSay("reply")
		got, other := per[speaker].Messages(), per[1-speaker].Messages()
		if len(got) != 1 || got[0].Text != "reply" || got[0].Name != "enc" || len(other) != 0 {
			t.Fatalf("reply after instance %08x spoke: it shows %v, the other %v", l.InstanceTag, got, other)
		}
		if !per[1-speaker].Has("msg", "RCVDMSG_FOR_OTHER_INSTANCE") {
			t.Errorf("the other instance did not see a message for its sibling:\n%s", per[1-speaker])
		}
	}
}

// pumpMany carries our lines to every libotr instance (as IRC delivers a
// nick's messages to all its clients) and theirs to us until all are quiet.
func pumpMany(t *testing.T, us *ours, libs []*otrtest.LibotrPeer, fromUs, fromLib []string) (x exchange, perLib [2]otrtest.Result) {
	t.Helper()
	toUs := fromLib
	for round := 0; len(fromUs)+len(toUs) > 0; round++ {
		if round > 30 {
			t.Fatalf("did not settle:\n%s", x)
		}
		for i, l := range libs {
			r := l.Recv(fromUs...)
			perLib[i].Lines = append(perLib[i].Lines, r.Lines...)
			toUs = append(toUs, r.Wire()...)
		}
		fromUs = nil
		for _, line := range toUs {
			out, err := us.call("recv " + otrtest.Escape(line))
			x.addOurs(out, err)
			fromUs = append(fromUs, out.Wire...)
		}
		toUs = nil
	}
	return x, perLib
}

// TestLibotrSelectInstance: the user pins one instance; our messages go
// there even when the other spoke last, until the pin is lifted.
func TestLibotrSelectInstance(t *testing.T) {
	us := newOurs(t, defaultOurConfig())
	a := otrtest.StartLibotr(t, otrtest.Options{InstanceTag: 0xaaaa0001})
	b := otrtest.StartLibotr(t, otrtest.Options{InstanceTag: 0xbbbb0002})
	libs := []*otrtest.LibotrPeer{a, b}
	for _, l := range libs {
		pumpMany(t, us, libs, nil, l.QueryBare().Wire())
		if l.Info().State != "encrypted" {
			t.Fatalf("instance %08x not private", l.InstanceTag)
		}
	}
	send := func(text string) [2]otrtest.Result {
		out, err := us.call("send " + hexs(text))
		if err != nil {
			t.Fatal(err)
		}
		_, per := pumpMany(t, us, libs, out.Wire, nil)
		return per
	}
	if err := us.conv.SelectInstance(0x12345678); !errors.Is(err, otr.ErrUnknownInstance) {
		t.Errorf("SelectInstance(unknown) = %v", err)
	}
	pumpMany(t, us, libs, nil, b.Send("b speaks last").Wire())
	if err := us.conv.SelectInstance(otr.InstanceTag(a.InstanceTag)); err != nil {
		t.Fatal(err)
	}
	per := send("pinned to a")
	if m := per[0].Messages(); len(m) != 1 || m[0].Text != "pinned to a" || len(per[1].Messages()) != 0 {
		t.Fatalf("pinned message: a shows %v, b %v", per[0].Messages(), per[1].Messages())
	}
	us.conv.SelectInstance(0)
	per = send("automatic again")
	if m := per[1].Messages(); len(m) != 1 || m[0].Text != "automatic again" || len(per[0].Messages()) != 0 {
		t.Fatalf("unpinned message: a shows %v, b %v", per[0].Messages(), per[1].Messages())
	}
}
