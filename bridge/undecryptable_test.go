package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// scriptedCrypto answers Decrypt from a per-event list of results.
type scriptedCrypto struct {
	matrix.Crypto
	mu      sync.Mutex
	results map[id.EventID][]error
}

func (c *scriptedCrypto) Decrypt(_ context.Context, evt *event.Event) (*event.Event, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	errs := c.results[evt.ID]
	err := errs[0]
	c.results[evt.ID] = errs[1:]
	if err != nil {
		return nil, err
	}
	return evt, nil
}

func TestDecryptWatch(t *testing.T) {
	errBroken := errors.New("unknown message index")
	fake := &scriptedCrypto{results: map[id.EventID][]error{
		"$ok":         {nil},
		"$late-key":   {matrix.NoSessionFound, nil},
		"$broken":     {errBroken},
		"$never":      {matrix.NoSessionFound, matrix.NoSessionFound},
		"$key-broken": {matrix.NoSessionFound, errBroken},
	}}
	reported := make(chan string, 10)
	w := newDecryptWatch(fake, func(evt *event.Event, err error) { reported <- fmt.Sprintf("%s %v", evt.ID, err) })
	w.after = 200 * time.Millisecond

	decrypt := func(ev id.EventID) {
		t.Helper()
		_, _ = w.Decrypt(context.Background(), &event.Event{ID: ev, RoomID: "!r:x", Sender: "@u:x"})
	}
	for _, ev := range []id.EventID{"$ok", "$late-key", "$broken", "$never", "$key-broken"} {
		decrypt(ev)
	}
	decrypt("$late-key")   // the key arrived in time
	decrypt("$never")      // bridgev2's retry after a key that was not this one
	decrypt("$key-broken") // the key arrived, the event still does not decrypt

	var got []string
	timeout := time.After(5 * time.Second)
	for len(got) < 3 {
		select {
		case r := <-reported:
			got = append(got, r)
		case <-timeout:
			t.Fatalf("reported %q, want 3 reports", got)
		}
	}
	select {
	case r := <-reported:
		t.Fatalf("reported also %q", r)
	case <-time.After(2 * w.after):
	}
	want := map[string]bool{
		"$broken " + errBroken.Error():            true,
		"$key-broken " + errBroken.Error():        true,
		"$never " + matrix.NoSessionFound.Error(): true,
	}
	for _, r := range got {
		if !want[r] {
			t.Errorf("unexpected report %q (all: %q)", r, got)
		}
		delete(want, r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.waiting) != 0 {
		t.Errorf("%d events still followed", len(w.waiting))
	}
}

// TestDecryptWatchCap: beyond the cap a missing key is reported at once,
// and the number of events followed stays at the cap.
func TestDecryptWatchCap(t *testing.T) {
	fake := &scriptedCrypto{results: map[id.EventID][]error{}}
	for i := range maxUndecryptableWaiting + 5 {
		fake.results[id.EventID(fmt.Sprint("$", i))] = []error{matrix.NoSessionFound}
	}
	var mu sync.Mutex
	var reported []id.EventID
	done := make(chan struct{}, maxUndecryptableWaiting+5)
	w := newDecryptWatch(fake, func(evt *event.Event, _ error) {
		mu.Lock()
		reported = append(reported, evt.ID)
		mu.Unlock()
		done <- struct{}{}
	})
	w.after = time.Hour
	for i := range maxUndecryptableWaiting + 5 {
		_, _ = w.Decrypt(context.Background(), &event.Event{ID: id.EventID(fmt.Sprint("$", i))})
	}
	for range 5 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the events beyond the cap were not reported")
		}
	}
	w.mu.Lock()
	n := len(w.waiting)
	for _, tm := range w.waiting {
		tm.Stop()
	}
	w.mu.Unlock()
	if n != maxUndecryptableWaiting {
		t.Errorf("%d events followed, want the cap %d", n, maxUndecryptableWaiting)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 5 {
		t.Errorf("reported %d, want 5", len(reported))
	}
}
