package main

import (
	"errors"
	"strings"
	"testing"
)

func TestHarnessFatalBecomesError(t *testing.T) {
	h := &harness{}
	var order []int
	h.Cleanup(func() { order = append(order, 1) })
	h.Cleanup(func() { order = append(order, 2) })
	err := h.run(func() error {
		h.Fatalf("peer %s failed", "libotr")
		return nil
	})
	if err == nil || err.Error() != "peer libotr failed" {
		t.Errorf("run = %v, want the Fatalf message", err)
	}
	if len(order) != 2 || order[0] != 2 || order[1] != 1 {
		t.Errorf("cleanups ran as %v, want [2 1]", order)
	}
}

func TestHarnessSkipIsFailure(t *testing.T) {
	h := &harness{}
	err := h.run(func() error { h.Skipf("libotr missing"); return nil })
	if err == nil || !strings.Contains(err.Error(), "libotr missing") {
		t.Errorf("run = %v, want the skip reason as an error", err)
	}
}

func TestHarnessErrorsFromCleanup(t *testing.T) {
	h := &harness{}
	h.Cleanup(func() { h.Errorf("glue: %v", errors.New("send failed")) })
	if err := h.run(func() error { return nil }); err == nil || !strings.Contains(err.Error(), "send failed") {
		t.Errorf("run = %v, want the error reported at cleanup", err)
	}
	want := errors.New("step failed")
	if err := (&harness{}).run(func() error { return want }); !errors.Is(err, want) {
		t.Errorf("run = %v, want %v", err, want)
	}
}
