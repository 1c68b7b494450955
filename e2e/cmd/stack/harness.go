package main

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// harness lets the demo drive the test peers of testpeers/otrtest, whose
// API takes a testing.TB, outside a test binary. Only the methods otrtest
// calls are implemented; the embedded nil TB would panic on any other,
// which run turns into an error like a failed step.
type harness struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
	errs     []error
}

// failure is what Fatalf panics with; run recovers it.
type failure struct{ err error }

func (h *harness) Helper()      {}
func (h *harness) Name() string { return "demo" }

func (h *harness) Fatalf(format string, args ...any) {
	panic(failure{fmt.Errorf(format, args...)})
}

func (h *harness) Fatal(args ...any) { panic(failure{errors.New(fmt.Sprint(args...))}) }

// Skipf is how otrtest reports a missing libotr or gcc; for the demo that
// is a failure like any other.
func (h *harness) Skipf(format string, args ...any) {
	panic(failure{fmt.Errorf(format, args...)})
}

func (h *harness) Errorf(format string, args ...any) {
	h.mu.Lock()
	h.errs = append(h.errs, fmt.Errorf(format, args...))
	h.mu.Unlock()
}

func (h *harness) Logf(string, ...any) {}

func (h *harness) Cleanup(f func()) {
	h.mu.Lock()
	h.cleanups = append(h.cleanups, f)
	h.mu.Unlock()
}

// run calls f, turning a Fatalf (or any panic) into an error, then runs
// the cleanups in reverse order and reports what they found.
func (h *harness) run(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if fl, ok := r.(failure); ok {
				err = fl.err
			} else {
				err = fmt.Errorf("demo crashed: %v", r)
			}
		}
		h.mu.Lock()
		cleanups := h.cleanups
		h.cleanups = nil
		h.mu.Unlock()
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if err == nil && len(h.errs) > 0 {
			err = errors.Join(h.errs...)
		}
	}()
	return f()
}
