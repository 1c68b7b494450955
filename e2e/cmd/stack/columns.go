package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The OTR transcript has two columns that fit an 80-column terminal: on
// the left what the IRC side saw (the raw wire lines of the libotr
// client's connection and what libotr showed), on the right what the
// Matrix user saw.
const (
	leftWidth  = 36
	rightWidth = 38
)

// row prints left and right side by side, each wrapped to its column.
func row(left, right string) {
	l, r := wrap(left, leftWidth), wrap(right, rightWidth)
	for i := 0; i < len(l) || i < len(r); i++ {
		var a, b string
		if i < len(l) {
			a = l[i]
		}
		if i < len(r) {
			b = r[i]
		}
		line := "  " + a + strings.Repeat(" ", max(0, leftWidth-width(a))) + " │ " + b
		fmt.Println(strings.TrimRight(line, " "))
	}
}

func left(s string) { row(s, "") }

// heading prints a step title across both columns.
func heading(title string) {
	fmt.Println("  " + strings.Repeat("─", leftWidth+1) + "┼" + strings.Repeat("─", rightWidth+1))
	for _, l := range wrap(title, leftWidth+rightWidth) {
		fmt.Println("  " + l)
	}
}

// wrap breaks s into lines of at most w columns, at spaces where it can.
func wrap(s string, w int) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		// A paragraph's own indentation is kept; its continuation lines
		// are indented two more.
		lead := para[:len(para)-len(strings.TrimLeft(para, " "))]
		cur, first := "", true
		for _, word := range strings.Fields(para) {
			switch {
			case cur == "" && first:
				cur = lead + word
			case cur == "":
				cur = lead + "  " + word
			case width(cur)+1+width(word) <= w:
				cur += " " + word
				continue
			default:
				out, first = append(out, cur), false
				cur = lead + "  " + word
			}
			for width(cur) > w { // a word longer than the line
				head, tail := cutWidth(cur, w)
				out, first = append(out, head), false
				cur = lead + "  " + tail
			}
		}
		if cur != "" {
			out = append(out, cur)
		}
	}
	return out
}

// cutWidth splits s after at most w columns.
func cutWidth(s string, w int) (string, string) {
	n := 0
	for i, r := range s {
		if n+runeWidth(r) > w {
			return s[:i], s[i:]
		}
		n += runeWidth(r)
	}
	return s, ""
}

// width is the number of terminal columns s takes: emoji and CJK take
// two, variation selectors and zero-width joiners none. Good enough for
// the demo's texts.
func width(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

func runeWidth(r rune) int {
	switch {
	case r == 0x200d || r >= 0xfe00 && r <= 0xfe0f || r < 0x20:
		return 0
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf, r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff, r >= 0xff00 && r <= 0xff60, r >= 0x1f300 && r <= 0x1faff,
		r == 0x2705, r == 0x274c, r == 0x231b, r == 0x23f3:
		return 2
	}
	return 1
}

// shorten keeps the start and end of s with an ellipsis in between when
// it has more than n characters.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	tail := n / 3
	return string(r[:n-tail-1]) + "…" + string(r[len(r)-tail:])
}
