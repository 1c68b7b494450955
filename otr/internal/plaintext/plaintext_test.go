package plaintext

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestQueryMessage(t *testing.T) {
	for v, want := range map[Versions]string{V2 | V3: "?OTRv23?", V2: "?OTRv2?", V3: "?OTRv3?", 0: "", 1 << 1: ""} {
		if got := QueryMessage(v); got != want {
			t.Errorf("QueryMessage(%b) = %q, want %q", v, got, want)
		}
	}
}

func TestFindQuery(t *testing.T) {
	for _, c := range []struct {
		text string
		v    Versions
		ok   bool
	}{
		{"?OTRv23?", V2 | V3, true},
		{"?OTRv2?", V2, true},
		{"?OTRv3?", V3, true},
		{"?OTRv32?", V2 | V3, true},
		{"?OTR?v23?", V2 | V3, true},
		{"?OTR?v2?", V2, true},
		{"?OTRv43?", V3, true},
		{"?OTRv4?", 0, false},
		{"?OTR?", 0, false},
		{"?OTR?v?", 0, false},
		{"?OTRv?", 0, false},
		{"?OTRv23", V2 | V3, true}, // libotr reads to the end without a closing "?"
		{"<b>?OTRv23?</b>\nBob has requested an Off-the-Record private conversation", V2 | V3, true},
		{"I want to talk privately ?OTRv3? please", V3, true},
		{"?OTR:AAMDabc. ?OTRv2?", 0, false},
		{"?OTR Error: x", 0, false},
		{"hello", 0, false},
		{"", 0, false},
		{"?OTRv5? then ?OTRv3?", 0, false}, // only the first marker counts, as in libotr
		{"?OTR:AAMD ?OTRv3?", 0, false},
	} {
		v, ok := FindQuery(c.text)
		if v != c.v || ok != c.ok {
			t.Errorf("FindQuery(%q) = %b, %v; want %b, %v", c.text, v, ok, c.v, c.ok)
		}
	}
}

func TestWhitespaceTagBytes(t *testing.T) {
	base := []byte{0x20, 0x09, 0x20, 0x20, 0x09, 0x09, 0x09, 0x09, 0x20, 0x09, 0x20, 0x09, 0x20, 0x09, 0x20, 0x20}
	v2 := []byte{0x20, 0x20, 0x09, 0x09, 0x20, 0x20, 0x09, 0x20}
	v3 := []byte{0x20, 0x20, 0x09, 0x09, 0x20, 0x20, 0x09, 0x09}
	cat := func(parts ...[]byte) string {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return string(b)
	}
	for v, want := range map[Versions]string{V2 | V3: cat(base, v2, v3), V2: cat(base, v2), V3: cat(base, v3), 0: ""} {
		if got := WhitespaceTag(v); got != want {
			t.Errorf("WhitespaceTag(%b) = %q, want %q", v, got, want)
		}
	}
	if len(WhitespaceTag(V2|V3)) != 32 {
		t.Errorf("tag for v2+v3 is %d bytes, want 16+8+8", len(WhitespaceTag(V2|V3)))
	}
}

func TestFindWhitespaceTag(t *testing.T) {
	v1 := " \t \t  \t "
	unknown := "\t\t\t\t\t\t\t\t"
	for _, c := range []struct {
		text, stripped string
		v              Versions
		found          bool
	}{
		{"hello" + WhitespaceTag(V2|V3), "hello", V2 | V3, true},
		{"hi" + WhitespaceTag(V3) + " there", "hi there", V3, true},
		{WhitespaceTag(V2) + "x", "x", V2, true},
		{"a" + tagBase + v1 + tagV3 + unknown + "b", "ab", V3, true},
		{"a" + tagBase + v1, "a", 0, true},
		{"a" + tagBase + "  \t", "a  \t", 0, true},
		{"plain text  \t ", "plain text  \t ", 0, false},
		{"", "", 0, false},
	} {
		s, v, found := FindWhitespaceTag(c.text)
		if s != c.stripped || v != c.v || found != c.found {
			t.Errorf("FindWhitespaceTag(%q) = %q, %b, %v; want %q, %b, %v", c.text, s, v, found, c.stripped, c.v, c.found)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	m := ErrorMessage("You sent encrypted data which was unexpected")
	if m != "?OTR Error: You sent encrypted data which was unexpected" {
		t.Errorf("ErrorMessage = %q", m)
	}
	if got, ok := FindError(m); !ok || got != "You sent encrypted data which was unexpected" {
		t.Errorf("FindError(own) = %q, %v", got, ok)
	}
	for text, want := range map[string]string{
		"<b>?OTR Error:</b> oops": "</b> oops",
		"?OTR Error:x":            "x",
		"note: ?OTR Error: late":  "late",
	} {
		if got, ok := FindError(text); !ok || got != want {
			t.Errorf("FindError(%q) = %q, %v; want %q", text, got, ok, want)
		}
	}
	for _, text := range []string{"?OTR error: x", "OTR Error: x", "?OTRv2?"} {
		if _, ok := FindError(text); ok {
			t.Errorf("FindError(%q) found an error", text)
		}
	}
}

func FuzzFind(f *testing.F) {
	f.Add("?OTRv23?")
	f.Add("?OTR?v2?")
	f.Add("hello" + WhitespaceTag(V2|V3))
	f.Add("?OTR Error: x")
	f.Add("?OTR?" + WhitespaceTag(V3) + "?OTRv")
	// Plaintext lines (queries, tagged text, errors) from the recorded
	// libotr transcripts of the otr package.
	paths, _ := filepath.Glob("../../testdata/*.transcript")
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			for _, prefix := range []string{"recv ", "wire "} {
				if s, ok := strings.CutPrefix(l, prefix); ok && !strings.HasPrefix(s, "?OTR:") && !strings.HasPrefix(s, "?OTR|") {
					f.Add(s)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, ok := FindQuery(text)
		if ok != (v != 0) || v&^(V2|V3) != 0 {
			t.Fatalf("FindQuery: %b, %v", v, ok)
		}
		if ok && !strings.Contains(text, "?OTR") {
			t.Fatal("query found without marker")
		}
		s, wv, found := FindWhitespaceTag(text)
		if !found && s != text || found && len(s) > len(text)-16 || wv&^(V2|V3) != 0 {
			t.Fatalf("FindWhitespaceTag: %q %b %v", s, wv, found)
		}
		if m, ok := FindError(text); ok && !strings.Contains(text, errorPrefix+m) && !strings.Contains(text, errorPrefix+" "+m) {
			t.Fatalf("FindError: %q", m)
		}
		// What we generate must be found again.
		for _, v := range []Versions{V2, V3, V2 | V3} {
			if got, ok := FindQuery(QueryMessage(v)); !ok || got != v {
				t.Fatalf("own query %b not found", v)
			}
			tagged := text + WhitespaceTag(v)
			s, got, found := FindWhitespaceTag(tagged)
			if !found {
				t.Fatalf("own tag %b not found after %q", v, text)
			}
			// The first tag in the text wins, as in libotr; when that is
			// ours, exactly it is removed.
			if strings.Index(tagged, tagBase) == len(text) && (got != v || s != text) {
				t.Fatalf("own tag %b after %q: stripped %q, versions %b", v, text, s, got)
			}
		}
	})
}
