package otr

import "testing"

func TestStripWhitespaceTag(t *testing.T) {
	const base, v2, v3 = " \t  \t\t\t\t \t \t \t  ", "  \t\t  \t ", "  \t\t  \t\t"
	for in, want := range map[string]string{
		"hello" + base + v2 + v3:          "hello",
		"hello" + base + v3 + " and more": "hello and more",
		base + "  \t \t \t\t" + "x":       "x", // a block of an unknown version goes too
		"no tag here":                     "no tag here",
		"hello " + base[:8]:               "hello " + base[:8], // half a base is not a tag
	} {
		if got := StripWhitespaceTag(in); got != want {
			t.Errorf("StripWhitespaceTag(%q) = %q, want %q", in, got, want)
		}
	}
}
