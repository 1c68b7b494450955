package main

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// encoded returns an OTR v3 message of the given type, base64 as on the wire.
func encoded(typ byte, n int) string {
	b := append([]byte{0, 3, typ}, make([]byte, n)...)
	return "?OTR:" + base64.StdEncoding.EncodeToString(b) + "."
}

func TestEncodedType(t *testing.T) {
	for typ, want := range map[byte]string{0x02: "DH-commit", 0x0a: "DH-key", 0x11: "reveal-signature",
		0x12: "signature", 0x03: "encrypted data", 0x42: "OTR message type 0x42"} {
		m := &wireMessage{from: "bob", lines: []string{encoded(typ, 100)}}
		if got := m.kind(); got != want {
			t.Errorf("type 0x%02x: kind %q, want %q", typ, got, want)
		}
	}
}

func TestAssembleFragments(t *testing.T) {
	msg := encoded(0x03, 600)
	var pieces []string
	for i, n := 0, 3; i < n; i++ {
		part := msg[i*len(msg)/n : (i+1)*len(msg)/n]
		pieces = append(pieces, fmt.Sprintf("?OTR|0000abcd|0000ef01,%05d,%05d,%s,", i+1, n, part))
	}
	var a assembler
	now := time.Now()
	// Another sender's line in between does not disturb the pieces.
	if m := a.add(now, "alice", pieces[0]); m != nil {
		t.Fatalf("complete after one piece: %v", m)
	}
	if m := a.add(now, "bob", "?OTRv23?"); m == nil || m.kind() != "OTR query" {
		t.Fatalf("query: %v", m)
	}
	if m := a.add(now, "alice", pieces[1]); m != nil {
		t.Fatalf("complete after two pieces")
	}
	m := a.add(now, "alice", pieces[2])
	if m == nil {
		t.Fatal("not complete after the last piece")
	}
	if m.kind() != "encrypted data" || len(m.lines) != 3 || !m.at.Equal(now) {
		t.Errorf("assembled %s from %d lines", m.kind(), len(m.lines))
	}
	s := m.String()
	if !strings.Contains(s, "encrypted data, 3 lines)") || !strings.HasPrefix(s, "<alice> ?OTR|0000abcd") {
		t.Errorf("String = %q", s)
	}
	for _, l := range wrap(s, leftWidth) {
		if width(l) > leftWidth {
			t.Errorf("line wider than the column: %q", l)
		}
	}
	// A message cut short is still shown, marked as such.
	a.add(now, "bob", pieces[0])
	inc := a.incomplete()
	if len(inc) != 1 || !strings.Contains(inc[0].String(), "(encrypted data, 1 of 3 lines)") {
		t.Errorf("incomplete = %v", inc)
	}
	if len(a.incomplete()) != 0 {
		t.Errorf("incomplete messages returned twice")
	}
}

func TestWireMessageNotOTR(t *testing.T) {
	m := &wireMessage{from: "alice", lines: []string{"hello in \x02bold\x02"}}
	if m.kind() != "NOT an OTR message" || !strings.Contains(m.String(), "hello in ^Bbold^B") {
		t.Errorf("plaintext shown as %q (%s)", m.String(), m.kind())
	}
}
