package ircfmt

import (
	"strings"
	"testing"
)

// A 20 KB message, the size the OTR e2e tests send.
var benchText = strings.Repeat("Some \x02bold\x02 and \x0304coloured\x03 words, then plain ones — ünïcödé too. ", 250)

func BenchmarkSplit20KB(b *testing.B) {
	budget := typicalBudget
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		Split(benchText, budget)
	}
}

func BenchmarkHTMLToIRC(b *testing.B) {
	in := strings.Repeat(`<p>Some <b>bold</b> and <font data-mx-color="#ff0000">red</font> <a href="https://example.org">link</a></p>`, 100)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		HTMLToIRC(in)
	}
}

func BenchmarkIRCToMatrix(b *testing.B) {
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		IRCToMatrix(benchText)
	}
}
