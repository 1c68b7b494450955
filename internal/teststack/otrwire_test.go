package teststack

import (
	"encoding/base64"
	"testing"
)

func TestOTRMessageType(t *testing.T) {
	for typ, want := range map[byte]string{0x02: "DH-commit", 0x0a: "DH-key", 0x11: "reveal-signature",
		0x12: "signature", 0x03: "encrypted data", 0x42: "OTR message type 0x42"} {
		b64 := base64.StdEncoding.EncodeToString(append([]byte{0, 3, typ}, make([]byte, 20)...))
		if got := OTRMessageType(b64); got != want {
			t.Errorf("type 0x%02x: %q, want %q", typ, got, want)
		}
	}
	for _, short := range []string{"", "A", "AA=", "!!!!"} {
		if got := OTRMessageType(short); got != "OTR message" {
			t.Errorf("OTRMessageType(%q) = %q", short, got)
		}
	}
}

func TestSplitOTRFragment(t *testing.T) {
	for line, want := range map[string][3]string{
		"?OTR|bc33eca5|ba8cf28f,00001,00002,?OTR:AAMD,": {"1", "2", "?OTR:AAMD,"},
		"?OTR,2,2,AAID.,":        {"2", "2", "AAID.,"},
		"?OTR|bc33eca5|ba8cf28f": {"?", "?", ""},
		"?OTR,1,":                {"?", "?", ""},
	} {
		k, n, piece := SplitOTRFragment(line)
		if got := [3]string{k, n, piece}; got != want {
			t.Errorf("SplitOTRFragment(%q) = %q, want %q", line, got, want)
		}
	}
	if !IsOTRFragment("?OTR,1,2,x,") || !IsOTRFragment("?OTR|a|b,1,2,x,") || IsOTRFragment("?OTR:AAMD.") {
		t.Error("IsOTRFragment")
	}
}
