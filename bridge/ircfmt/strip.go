package ircfmt

import "strings"

// Strip removes IRC formatting codes (with their colour parameters) and
// keeps everything else, including other control characters such as CTCP's
// \x01.
func Strip(text string) string {
	if !strings.ContainsAny(text, "\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f") {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	sc := scanner{s: text}
	for {
		t, ok := sc.next()
		if !ok {
			return b.String()
		}
		b.WriteString(t.text)
	}
}
