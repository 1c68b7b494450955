package main

import (
	"strings"
	"testing"
)

func TestWrap(t *testing.T) {
	text := "[bridge] 🔒 Private conversation with bob started (OTR v3). Their fingerprint: " +
		"4BFBFD79 CBAE47C7 0DE0D014 E3DAA887 85B48DA1. " + strings.Repeat("x", 90) + " end"
	for _, w := range []int{leftWidth, rightWidth, 60} {
		lines := wrap(text, w)
		var words []string
		for i, l := range lines {
			if width(l) > w {
				t.Errorf("w=%d: line %d is %d columns: %q", w, i, width(l), l)
			}
			if i > 0 && !strings.HasPrefix(l, "  ") {
				t.Errorf("w=%d: continuation line %d not indented: %q", w, i, l)
			}
			words = append(words, strings.Fields(l)...)
		}
		// Only the over-long word is split; joining its pieces restores it.
		got := strings.Join(words, " ")
		got = strings.ReplaceAll(got, "x x", "xx")
		for strings.Contains(got, "x x") {
			got = strings.ReplaceAll(got, "x x", "xx")
		}
		if got != strings.Join(strings.Fields(text), " ") {
			t.Errorf("w=%d: words changed:\n%s", w, strings.Join(lines, "\n"))
		}
	}
}

func TestWrapParagraphs(t *testing.T) {
	got := wrap("<bob> ?OTR:AAMC\n  (DH-commit, 338 chars)", leftWidth)
	want := []string{"<bob> ?OTR:AAMC", "  (DH-commit, 338 chars)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrap = %q, want %q", got, want)
	}
	if wrap("", 10) != nil {
		t.Errorf("wrap of nothing is not empty")
	}
}

func TestWidth(t *testing.T) {
	for s, want := range map[string]int{"abc": 3, "🔒 x": 4, "✅": 2, "⚠️": 1, "Ça ✓ —": 6} {
		if got := width(s); got != want {
			t.Errorf("width(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestShorten(t *testing.T) {
	long := "?OTR:" + strings.Repeat("A", 300) + "BCDEFGHIJ."
	s := shorten(long, 28)
	if n := len([]rune(s)); n != 28 || !strings.HasPrefix(s, "?OTR:AAA") || !strings.HasSuffix(s, "FGHIJ.") || !strings.Contains(s, "…") {
		t.Errorf("shorten = %q (%d runes)", s, n)
	}
	if got := shorten("?OTRv23?", 28); got != "?OTRv23?" {
		t.Errorf("short text changed: %q", got)
	}
}
