package main

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// otrMessageTypes names the OTR message types (the third byte of an
// encoded message, after the two-byte protocol version).
var otrMessageTypes = map[byte]string{
	0x02: "DH-commit",
	0x0a: "DH-key",
	0x11: "reveal-signature",
	0x12: "signature",
	0x03: "encrypted data",
}

// wireMessage is one message on the IRC wire: a single line, or the
// lines that carry the fragments of one OTR message.
type wireMessage struct {
	at    time.Time // when its first line arrived
	from  string
	lines []string
}

// complete reports whether a fragmented message has all its pieces.
func (m *wireMessage) complete() bool {
	k, n, _ := fragment(m.lines[len(m.lines)-1])
	return k == n
}

// kind says what the message is, without decrypting anything: the type of
// an OTR message is in the clear.
func (m *wireMessage) kind() string {
	first := m.lines[0]
	switch {
	case strings.HasPrefix(first, "?OTR:"):
		return encodedType(first[len("?OTR:"):])
	case isFragment(first):
		if k, _, piece := fragment(first); k == "1" && strings.HasPrefix(piece, "?OTR:") {
			return encodedType(piece[len("?OTR:"):])
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
	case strings.HasPrefix(first, "?OTR:"), isFragment(first):
		shown = shorten(first, leftWidth-len(who))
	case strings.HasPrefix(first, "?OTR") && !strings.HasPrefix(first, "?OTR Error:"):
		shown, _, _ = strings.Cut(first, " ") // the version tag; the rest is prose
	default:
		shown = visible(shorten(first, 40))
	}
	detail := fmt.Sprintf("%s, %d chars", m.kind(), len(first))
	if isFragment(first) {
		detail = fmt.Sprintf("%s, %d lines", m.kind(), len(m.lines))
		if _, n, _ := fragment(m.lines[len(m.lines)-1]); !m.complete() {
			detail = fmt.Sprintf("%s, %d of %s lines", m.kind(), len(m.lines), n)
		}
	}
	return who + shown + "\n  (" + detail + ")"
}

func isFragment(text string) bool {
	return strings.HasPrefix(text, "?OTR|") || strings.HasPrefix(text, "?OTR,")
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
	if !isFragment(text) {
		return &wireMessage{at: at, from: from, lines: []string{text}}
	}
	m := a.pending[from]
	if k, _, _ := fragment(text); k == "1" || m == nil {
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

// encodedType reads the message type from the start of the base64 data.
func encodedType(b64 string) string {
	if len(b64) < 4 {
		return "OTR message"
	}
	head, err := base64.StdEncoding.DecodeString(b64[:4])
	if err != nil || len(head) < 3 {
		return "OTR message"
	}
	if name, ok := otrMessageTypes[head[2]]; ok {
		return name
	}
	return fmt.Sprintf("OTR message type 0x%02x", head[2])
}

// fragment splits a v3 ("?OTR|sender|receiver,k,n,piece,") or v2
// ("?OTR,k,n,piece,") fragment into its number, the total and the piece.
func fragment(text string) (k, total, piece string) {
	rest := text[len("?OTR"):]
	if strings.HasPrefix(rest, "|") {
		_, rest, _ = strings.Cut(rest, ",")
	} else {
		rest = strings.TrimPrefix(rest, ",")
	}
	parts := strings.SplitN(rest, ",", 3)
	if len(parts) < 3 {
		return "?", "?", ""
	}
	return strings.TrimLeft(parts[0], "0"), strings.TrimLeft(parts[1], "0"), parts[2]
}
