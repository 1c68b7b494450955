package ircfmt

import (
	"strings"
	"unicode/utf8"
)

// minBudget is the smallest budget Split works with: one UTF-8 sequence
// must fit in a piece.
const minBudget = utf8.UTFMax

// Split cuts text into pieces of at most budget bytes, one IRC message each.
// It cuts at spaces (dropping the spaces at the cut), and inside a word only
// when the word alone is longer than budget, never inside a UTF-8 sequence or
// a formatting code. Every line break ("\n", "\r\n" or "\r") ends a piece.
// Formatting still open at the end of a piece is opened again at the start of
// the next one. Pieces with nothing but spaces are left out, and NUL bytes
// (which no IRC line can carry) are dropped, so every piece can be sent as
// it is. A budget below 4 is treated as 4. Pass a whole multi-line message,
// not its lines one by one, so that formatting carries over line breaks
// (HTMLToIRC writes a <pre> block or a bold paragraph with one set of codes
// around several lines).
func Split(text string, budget int) []string {
	budget = max(budget, minBudget)
	if len(text) <= budget && !strings.ContainsAny(text, "\r\n\x00") {
		if strings.Trim(Strip(text), " ") == "" {
			return nil
		}
		return []string{text}
	}
	sp := splitter{budget: budget}
	var carried state
	for len(text) > 0 {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		// A lone "\r" also ends a line; "\r\n" leaves an empty segment.
		for seg := range strings.SplitSeq(line, "\r") {
			carried = sp.line(seg, carried)
		}
	}
	return sp.out
}

// SplitLines splits each logical line of a message (lines without line
// breaks, as the Matrix side produces them) with Split.
func SplitLines(lines []string, budget int) []string {
	var out []string
	for _, l := range lines {
		out = append(out, Split(l, budget)...)
	}
	return out
}

type splitter struct {
	budget int
	out    []string
	buf    []byte
	// emitted is the state a client has reached after reading buf.
	emitted state
	visible bool
}

// line splits one line and returns the formatting state at its end.
func (sp *splitter) line(line string, st state) state {
	sc := scanner{s: line, cur: st}
	toks := make([]token, 0, len(line))
	for {
		t, ok := sc.next()
		if !ok {
			break
		}
		if t.text != "" && t.text != "\x00" {
			toks = append(toks, t)
		}
	}
	for i := 0; i < len(toks); {
		start := i
		for i < len(toks) && toks[i].text == " " {
			i++
		}
		word := i
		for i < len(toks) && toks[i].text != " " {
			i++
		}
		if sp.tryAppend(toks[start:i]) {
			continue
		}
		if len(appendTokens(nil, state{}, toks[word:i])) <= sp.budget {
			// The word fits in a piece of its own: it starts the next piece
			// and the spaces before it are dropped.
			sp.flush()
			sp.tryAppend(toks[word:i])
			continue
		}
		// Longer than a whole piece: cut inside the word, filling the
		// current piece first.
		if len(sp.buf) == 0 {
			start = word
		}
		for _, t := range toks[start:i] {
			if t.text == " " && len(sp.buf) == 0 {
				continue // no spaces at the start of a piece cut from a line
			}
			if !sp.tryAppend([]token{t}) {
				sp.flush()
				if !sp.tryAppend([]token{t}) && t.text != " " {
					// Not even the formatting codes fit beside the
					// character: send it unformatted.
					sp.buf = append(sp.buf, t.text...)
					sp.visible = true
				}
			}
		}
	}
	sp.flush()
	return sc.cur
}

// appendTokens appends the tokens to b, where a client is in state emitted.
func appendTokens(b []byte, emitted state, toks []token) []byte {
	for _, t := range toks {
		b = appendTransition(b, emitted, t.st, t.text)
		emitted = t.st
		b = append(b, t.text...)
	}
	return b
}

// tryAppend adds the tokens to the current piece if they all fit, otherwise
// it leaves the piece unchanged.
func (sp *splitter) tryAppend(toks []token) bool {
	n, emitted := len(sp.buf), sp.emitted
	for _, t := range toks {
		sp.buf = appendTransition(sp.buf, sp.emitted, t.st, t.text)
		sp.emitted = t.st
		sp.buf = append(sp.buf, t.text...)
		if len(sp.buf) > sp.budget {
			sp.buf, sp.emitted = sp.buf[:n], emitted
			return false
		}
	}
	for _, t := range toks {
		if t.text != " " {
			sp.visible = true
			break
		}
	}
	return true
}

func (sp *splitter) flush() {
	if sp.visible {
		sp.out = append(sp.out, string(sp.buf))
	}
	sp.buf, sp.emitted, sp.visible = sp.buf[:0], state{}, false
}
