package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// wireMessage is one message on the IRC wire: a single line, or the
// lines that carry the fragments of one OTR message.
type wireMessage struct {
	at    time.Time // when its first line arrived
	from  string
	lines []string
}

// complete reports whether a fragmented message has all its pieces.
func (m *wireMessage) complete() bool {
	k, n, _ := teststack.SplitOTRFragment(m.lines[len(m.lines)-1])
	return k == n
}

// kind says what the message is, without decrypting anything: the type of
// an OTR message is in the clear.
func (m *wireMessage) kind() string {
	first := m.lines[0]
	switch {
	case strings.HasPrefix(first, "?OTR:"):
		return teststack.OTRMessageType(first[len("?OTR:"):])
	case teststack.IsOTRFragment(first):
		if k, _, piece := teststack.SplitOTRFragment(first); k == "1" && strings.HasPrefix(piece, "?OTR:") {
			return teststack.OTRMessageType(piece[len("?OTR:"):])
		}
		return "fragments"
	case strings.HasPrefix(first, "?OTR Error:"):
		return "OTR error"
	case strings.HasPrefix(first, "?OTR"):
		return "OTR query"
	}
	return "NOT an OTR message"
}

// String shortens the message for the transcript to the left column: its
// first line and, indented below, what it is.
func (m *wireMessage) String() string {
	first := m.lines[0]
	who := "<" + m.from + "> "
	var shown string
	switch {
	case strings.HasPrefix(first, "?OTR:"), teststack.IsOTRFragment(first):
		shown = shorten(first, leftWidth-len(who))
	case strings.HasPrefix(first, "?OTR") && !strings.HasPrefix(first, "?OTR Error:"):
		shown, _, _ = strings.Cut(first, " ") // the version tag; the rest is prose
	default:
		shown = visible(shorten(first, 40))
	}
	detail := fmt.Sprintf("%s, %d chars", m.kind(), len(first))
	if teststack.IsOTRFragment(first) {
		detail = fmt.Sprintf("%s, %d lines", m.kind(), len(m.lines))
		if _, n, _ := teststack.SplitOTRFragment(m.lines[len(m.lines)-1]); !m.complete() {
			detail = fmt.Sprintf("%s, %d of %s lines", m.kind(), len(m.lines), n)
		}
	}
	return who + shown + "\n  (" + detail + ")"
}

// assembler groups wire lines into messages, per sender.
type assembler struct {
	pending map[string]*wireMessage
}

// add takes the next line from a sender and returns the message it
// completes, if any.
func (a *assembler) add(at time.Time, from, text string) *wireMessage {
	if a.pending == nil {
		a.pending = map[string]*wireMessage{}
	}
	if !teststack.IsOTRFragment(text) {
		return &wireMessage{at: at, from: from, lines: []string{text}}
	}
	m := a.pending[from]
	if k, _, _ := teststack.SplitOTRFragment(text); k == "1" || m == nil {
		m = &wireMessage{at: at, from: from}
		a.pending[from] = m
	}
	m.lines = append(m.lines, text)
	if m.complete() {
		delete(a.pending, from)
		return m
	}
	return nil
}

// incomplete returns and forgets the messages still missing pieces.
func (a *assembler) incomplete() []*wireMessage {
	var out []*wireMessage
	for from, m := range a.pending {
		out = append(out, m)
		delete(a.pending, from)
	}
	return out
}
