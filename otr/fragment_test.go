package otr

import (
	"errors"
	"strings"
	"testing"
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
