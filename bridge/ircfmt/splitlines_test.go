package ircfmt

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitLinesRespectsBudget(t *testing.T) {
	long := strings.Repeat("word ", 200) + strings.Repeat("ü", 300)
	lines := SplitLines([]string{long, "short"}, 100)
	var joined strings.Builder
	for _, l := range lines {
		if len(l) > 100 {
			t.Fatalf("line of %d bytes exceeds the budget", len(l))
		}
		if !utf8.ValidString(l) {
			t.Fatalf("line splits a UTF-8 sequence: %q", l)
		}
		joined.WriteString(l)
	}
	if lines[len(lines)-1] != "short" {
		t.Errorf("last line = %q, want the second logical line on its own", lines[len(lines)-1])
	}
	noSpace := func(r rune) rune {
		if r == ' ' {
			return -1
		}
		return r
	}
	if strings.Map(noSpace, joined.String()) != strings.Map(noSpace, long+"short") {
		t.Error("splitting lost or reordered text")
	}
}
