package plaintext

import (
	"os"
	"strings"
	"testing"
)

// testdata/libotr-plaintext.txt records, for tricky lines, libotr 4.1.1's
// message type and the versions its query and whitespace tag parsers
// found. FindQuery must agree where libotr sees a query or plain text, and
// FindWhitespaceTag everywhere; FindError must agree with the ERROR type.
func TestMatchesLibotr(t *testing.T) {
	data, err := os.ReadFile("testdata/libotr-plaintext.txt")
	if err != nil {
		t.Fatal(err)
	}
	unescape := strings.NewReplacer(`\t`, "\t", `\s`, " ")
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		in, res, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		text := unescape.Replace(in)
		f := strings.Fields(res)
		typ, q2, q3, w2, w3 := f[0], f[1] == "1", f[2] == "1", f[3] == "1", f[4] == "1"

		v, _ := FindQuery(text)
		if typ == "QUERY" || typ == "NOTOTR" || typ == "TAGGED" {
			if v.Has(V2) != q2 || v.Has(V3) != q3 {
				t.Errorf("FindQuery(%q) = %b, libotr: v2 %v v3 %v", in, v, q2, q3)
			}
		}
		_, wv, found := FindWhitespaceTag(text)
		if wv.Has(V2) != w2 || wv.Has(V3) != w3 {
			t.Errorf("FindWhitespaceTag(%q) = %b, libotr: v2 %v v3 %v", in, wv, w2, w3)
		}
		if typ == "TAGGED" && !found {
			t.Errorf("FindWhitespaceTag(%q) found no tag, libotr did", in)
		}
		if _, isErr := FindError(text); isErr != (typ == "ERROR") {
			t.Errorf("FindError(%q) = %v, libotr type %s", in, isErr, typ)
		}
		n++
	}
	if n < 40 {
		t.Errorf("only %d lines checked", n)
	}
}
