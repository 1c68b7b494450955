package otr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLargeMessagesFragmented(t *testing.T) {
	for _, v := range []Policy{PolicyManual, AllowV2} {
		a, b := newPair(t, v, v)
		a.c.cfg.FragmentSize = 400
		b.c.cfg.FragmentSize = 400
		establish(t, a, b)
		for _, size := range []int{3000, 100 << 10, 150 << 10} {
			text := strings.Repeat("é", size/2)
			o, err := a.c.Send(t0, text)
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Wire) < 2 {
				t.Fatal("not fragmented")
			}
			for _, l := range o.Wire {
				if len(l) > 400 {
					t.Fatalf("line of %d bytes", len(l))
				}
			}
			var got []Received
			for _, l := range o.Wire {
				r, err := b.c.Receive(t0, l)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r.Messages...)
			}
			if len(got) != 1 || got[0].Text != text {
				t.Fatalf("%v %d: reassembled %d messages", v, size, len(got))
			}
		}
	}
}

func TestTooManyFragments(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	a.c.SetFragmentSize(40) // 3 characters per fragment
	o, err := a.c.Send(t0, strings.Repeat("z", 200<<10))
	if !errors.Is(err, ErrMessageTooLarge) || len(o.Wire) != 0 {
		t.Fatalf("%d lines, %v", len(o.Wire), err)
	}
}

// TestRawSplitMessage: an IRC hop split an encoded message over several
// lines without OTR fragment headers.
func TestRawSplitMessage(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	o, _ := a.c.Send(t0, strings.Repeat("split me ", 40))
	line := o.Wire[0]
	parts := []string{line[:100], line[100:250], line[250:]}
	var got []Received
	for _, p := range parts {
		r, err := b.c.Receive(t0, p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Messages...)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0].Text, "split me") {
		t.Fatalf("%+v", got)
	}
}

// weechatCut cuts a line as WeeChat does a PRIVMSG text longer than what
// its split_msg_max_length leaves (about 390 bytes on InspIRCd): at the
// last space before max, or at max where there is none.
func weechatCut(line string, max int) []string {
	var out []string
	for len(line) > max {
		cut, skip := max, 0
		if i := strings.LastIndexByte(line[:max+1], ' '); i > 0 {
			cut, skip = i, 1
		}
		out = append(out, line[:cut])
		line = line[cut+skip:]
	}
	return append(out, line)
}

// TestCutLinesJoined: the peer's IRC client cut fragment lines (and
// unfragmented data lines) in two; the rest is joined, never shown.
func TestCutLinesJoined(t *testing.T) {
	for _, c := range []struct {
		name   string
		policy Policy
		size   int
	}{{"v3 fragments", PolicyManual, 400}, {"v2 fragments", AllowV2, 400}, {"unfragmented", PolicyManual, 0}} {
		t.Run(c.name, func(t *testing.T) {
			a, b := newPair(t, c.policy, c.policy)
			a.c.SetFragmentSize(c.size)
			establish(t, a, b)
			text := strings.Repeat("a long line that does not fit ", 40)
			o, err := a.c.Send(t0, text)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, l := range o.Wire {
				lines = append(lines, weechatCut(l, 388)...)
			}
			if len(lines) <= len(o.Wire) {
				t.Fatal("nothing was cut")
			}
			var got Output
			for _, l := range lines {
				r, err := b.c.Receive(t0, l)
				if err != nil {
					t.Fatalf("line %.20q: %v", l, err)
				}
				got.Messages = append(got.Messages, r.Messages...)
				got.Events = append(got.Events, r.Events...)
			}
			if len(got.Messages) != 1 || got.Messages[0].Text != text || !got.Messages[0].Encrypted || len(got.Events) != 0 {
				t.Fatalf("got %d messages, events %v", len(got.Messages), got.Events)
			}
		})
	}
}

func TestFragmentLimitEvent(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	// A message whose fragments exceed what one conversation may hold.
	line := "?OTR|00001000|00002000,00001,65535," + strings.Repeat("A", 300) + ","
	var events []Event
	var err error
	for k := 1; k <= 1000 && err == nil; k++ {
		var o Output
		o, err = b.c.Receive(t0, strings.Replace(line, ",00001,", fmt.Sprintf(",%05d,", k), 1))
		events = append(events, o.Events...)
	}
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("%v, want ErrMessageTooLarge", err)
	}
	if m, ok := hasEvent[Malformed](events); !ok || m.Reason != "fragment limit" || len(events) != 1 {
		t.Fatalf("events %v, want one Malformed fragment limit", events)
	}
	if b.c.reasm.Pending() != 0 {
		t.Error("the refused message is still held")
	}
	send(t, t0, a, b, "still private")
}

func TestTickReportsIncompleteMessage(t *testing.T) {
	a, b := newPair(t, PolicyManual, PolicyManual)
	establish(t, a, b)
	a.c.SetFragmentSize(100)
	o, err := a.c.Send(t0, "never completes")
	if err != nil || len(o.Wire) < 2 {
		t.Fatalf("%d lines, %v", len(o.Wire), err)
	}
	if b.c.Waiting() {
		t.Fatal("waiting before any piece arrived")
	}
	if r, err := b.c.Receive(t0, o.Wire[0]); err != nil || len(r.Events) != 0 {
		t.Fatalf("first piece: %v %v", r.Events, err)
	}
	if !b.c.Waiting() {
		t.Fatal("an incomplete message does not ask for Tick")
	}
	if out := b.c.Tick(t0.Add(4 * time.Minute)); len(out.Events) != 0 {
		t.Fatalf("reported before the deadline: %v", out.Events)
	}
	out := b.c.Tick(t0.Add(5*time.Minute + time.Second))
	if m, ok := hasEvent[Malformed](out.Events); !ok || m.Reason != "incomplete message dropped" {
		t.Fatalf("expiry not reported: %v", out.Events)
	}
	if b.c.Waiting() {
		t.Fatal("still waiting after the expiry")
	}
}

// TestFragmentBudgetSharedByLogin: strangers flood one login with pieces
// of messages that never complete while a peer of the same login holds a
// private conversation with fragmented messages. The login's budget
// holds, and the peer's messages arrive.
func TestFragmentBudgetSharedByLogin(t *testing.T) {
	const limit = 256 << 10
	budget := NewFragmentBudget(limit)
	key := testKey(t, testKeyBob)
	newConv := func() *Conversation {
		c, err := NewConversation(Config{PrivateKey: key, InstanceTag: 0x2000, Policy: PolicyManual, Rand: detRand(9), FragmentBudget: budget})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice := newPeer(t, "alice", testKeyAlice, 0x1000, PolicyManual, 1)
	bob := &peer{name: "bob", c: newConv()}
	alice.c.SetFragmentSize(300)
	bob.c.SetFragmentSize(300)
	strangers := make([]*Conversation, 20)
	for i := range strangers {
		strangers[i] = newConv()
	}
	// Each stranger begins a new message (from a new instance tag) every
	// round, so its conversation is always full of fresh pieces.
	rounds := 0
	flood := func() {
		rounds++
		for _, c := range strangers {
			for k := 1; k <= 10; k++ {
				c.Receive(t0, fmt.Sprintf("?OTR|%x|0,%d,65535,%s,", 0x3000+rounds, k, strings.Repeat("Q", 350)))
			}
			if used := budget.InUse(); used > limit {
				t.Fatalf("budget holds %d bytes, limit %d", used, limit)
			}
		}
	}
	flood()
	q, _ := alice.c.Start(t0)
	lines := q.Wire
	for round := 1; len(lines) > 0; round++ {
		if round > 10 {
			t.Fatal("AKE does not settle")
		}
		var next []string
		for _, l := range lines {
			flood() // the strangers' pieces between every two lines
			o, err := bob.c.Receive(t0, l)
			if err != nil {
				t.Fatalf("bob: %v", err)
			}
			for _, w := range o.Wire {
				r, err := alice.c.Receive(t0, w)
				if err != nil {
					t.Fatalf("alice: %v", err)
				}
				next = append(next, r.Wire...)
			}
		}
		lines = next
	}
	if bob.c.Info().State != Encrypted {
		t.Fatal("no private conversation during the flood")
	}
	text := strings.Repeat("paragraph ", 200)
	o, err := alice.c.Send(t0, text)
	if err != nil || len(o.Wire) < 5 {
		t.Fatalf("%d lines, %v", len(o.Wire), err)
	}
	var got []Received
	for _, l := range o.Wire {
		flood()
		r, err := bob.c.Receive(t0, l)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Messages...)
	}
	if len(got) != 1 || got[0].Text != text {
		t.Fatalf("the peer's fragmented message did not arrive during the flood (%d messages)", len(got))
	}
	lost := 0
	for _, c := range strangers {
		lost += c.reasm.TakeDropped()
	}
	if lost == 0 || rounds*len(strangers)*10*350 < 4*limit {
		t.Errorf("the flood (%d rounds) did not press on the budget: %d messages lost", rounds, lost)
	}
}
