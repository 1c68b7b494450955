package libotrfile

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// human formats the libotr fingerprint of a key: SHA-1 over the MPIs of
// p, q, g, y (the PUBKEY without its type), in 5 groups of 8 hex digits.
func human(k PrivateKey) string {
	var b []byte
	for _, v := range []*big.Int{k.P, k.Q, k.G, k.Y} {
		b = wire.AppendMPI(b, v)
	}
	h := fmt.Sprintf("%X", sha1.Sum(b))
	return strings.Join([]string{h[0:8], h[8:16], h[16:24], h[24:32], h[32:40]}, " ")
}

// testdata/otr.private_key was written by libotr 4.1.1's
// otrl_privkey_generate; fingerprints-human.txt holds what
// otrl_privkey_fingerprint printed for each account.
func TestParseLibotrPrivateKeys(t *testing.T) {
	data := read(t, "testdata/otr.private_key")
	keys, err := ParsePrivateKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(read(t, "testdata/fingerprints-human.txt"))), "\n") {
		acct, fp, _ := strings.Cut(line, "\t")
		want[acct] = fp
	}
	if len(keys) != 3 {
		t.Fatalf("%d accounts, want 3", len(keys))
	}
	protos := map[string]string{"alice@irc.example.org": "prpl-irc", `bob "the" builder`: "irc", "zoë": "matrix"}
	for _, k := range keys {
		if protos[k.Account] != k.Protocol {
			t.Errorf("account %q protocol %q", k.Account, k.Protocol)
		}
		if got := human(k); got != want[k.Account] {
			t.Errorf("%q: fingerprint %s, libotr says %s", k.Account, got, want[k.Account])
		}
		if k.P.BitLen() != 1024 || k.Q.BitLen() != 160 {
			t.Errorf("%q: %d/%d-bit DSA, want 1024/160", k.Account, k.P.BitLen(), k.Q.BitLen())
		}
	}
}

// The key files the libotr test peer generated, with the fingerprints
// libotr printed.
func TestParseTestpeerKeys(t *testing.T) {
	var want = map[string]string{}
	for _, line := range strings.Split(string(read(t, "../../testdata/fingerprints.txt")), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		file, fp, _ := strings.Cut(line, " ")
		want[file] = fp
	}
	if len(want) == 0 {
		t.Fatal("no fingerprints listed")
	}
	for file, fp := range want {
		data := read(t, "../../testdata/"+file)
		keys, err := ParsePrivateKeys(data)
		if err != nil || len(keys) != 1 {
			t.Fatalf("%s: %d keys, %v", file, len(keys), err)
		}
		if got := human(keys[0]); got != fp {
			t.Errorf("%s: fingerprint %s, libotr says %s", file, got, fp)
		}
	}
}

func TestOtherSexpForms(t *testing.T) {
	keys, err := ParsePrivateKeys(read(t, "testdata/otr.private_key"))
	if err != nil {
		t.Fatal(err)
	}
	k := keys[1]
	num := func(v *big.Int) string { return fmt.Sprintf("%d:%s", len(v.Bytes()), v.Bytes()) }
	// Canonical form, fields in another order, a base64 protocol.
	canon := fmt.Sprintf("(8:privkeys(7:account(8:protocol|aXJj|)(4:name%d:%s)(11:private-key(3:dsa(1:x%s)(1:p%s)(1:q%s)(1:g%s)(1:y%s)))))",
		len(k.Account), k.Account, num(k.X), num(k.P), num(k.Q), num(k.G), num(k.Y))
	got, err := ParsePrivateKeys([]byte(canon))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Account != k.Account || got[0].Protocol != "irc" || got[0].X.Cmp(k.X) != 0 || got[0].P.Cmp(k.P) != 0 {
		t.Errorf("canonical form parsed to %+v", got)
	}
	// Escapes and hex strings.
	for in, want := range map[string]string{
		`"a\tb\x41\101\"\'\\"`:  "a\tbAA\"'\\",
		"\"line\\\ncontinued\"": "linecontinued",
		"#61 62#":               "ab",
		"tok.en-1":              "tok.en-1",
		`""`:                    "",
	} {
		n, err := parseSexp([]byte("(" + in + ")"))
		if err != nil || len(n.list) != 1 || string(n.list[0].atom) != want {
			t.Errorf("%s: %v %v", in, n, err)
		}
	}
}

func TestPrivateKeyErrors(t *testing.T) {
	good := string(read(t, "testdata/otr.private_key"))
	keys, _ := ParsePrivateKeys([]byte(good))
	xHex := fmt.Sprintf("%X", keys[0].X.Bytes())
	for name, c := range map[string]struct {
		in   string
		want error
	}{
		"empty":              {"", ErrMalformed},
		"not a list":         {"privkeys", ErrMalformed},
		"wrong head":         {"(pubkeys)", ErrMalformed},
		"unclosed":           {good[:len(good)-3], ErrMalformed},
		"trailing":           {good + "(", ErrMalformed},
		"bad char":           {"(privkeys @)", ErrMalformed},
		"bad hex":            {"(privkeys #0G#)", ErrMalformed},
		"odd hex":            {"(privkeys #012#)", ErrMalformed},
		"bad base64":         {"(privkeys |!!|)", ErrMalformed},
		"verbatim too long":  {"(privkeys 99:abc)", ErrMalformed},
		"verbatim no colon":  {"(privkeys 12abc)", ErrMalformed},
		"huge verbatim":      {"(privkeys 99999999999999999999:a)", ErrMalformed},
		"unterminated str":   {`(privkeys "abc)`, ErrMalformed},
		"bad escape":         {`(privkeys "\q")`, ErrMalformed},
		"short x escape":     {`(privkeys "\x4`, ErrMalformed},
		"deep":               {strings.Repeat("(", 100) + strings.Repeat(")", 100), ErrTooLarge},
		"not account":        {"(privkeys (foo))", ErrMalformed},
		"no name":            {"(privkeys (account (protocol irc)))", ErrMalformed},
		"list name":          {"(privkeys (account (name (a)) (protocol irc)))", ErrMalformed},
		"no protocol":        {"(privkeys (account (name a)))", ErrMalformed},
		"no key":             {"(privkeys (account (name a) (protocol irc)))", ErrMalformed},
		"rsa key":            {"(privkeys (account (name a) (protocol irc) (private-key (rsa (n #01#)))))", ErrMalformed},
		"missing x":          {strings.Replace(good, "(x #"+xHex, "(z #"+xHex, 1), ErrMalformed},
		"huge number":        {"(privkeys (account (name a) (protocol irc) (private-key (dsa (p #" + strings.Repeat("11", 2000) + "#)))))", ErrTooLarge},
		"wrong x":            {strings.Replace(good, "(x #"+xHex, "(x #"+xHex[:len(xHex)-1]+"0", 1), ErrInvalidKey},
		"zero numbers":       {"(privkeys (account (name a) (protocol irc) (private-key (dsa (p #00#) (q #00#) (g #00#) (y #00#) (x #00#)))))", ErrInvalidKey},
		"even p":             {"(privkeys (account (name a) (protocol irc) (private-key (dsa (p #10#) (q #03#) (g #02#) (y #04#) (x #02#)))))", ErrInvalidKey},
		"x not below q":      {"(privkeys (account (name a) (protocol irc) (private-key (dsa (p #17#) (q #0B#) (g #04#) (y #04#) (x #0B#)))))", ErrInvalidKey},
		"many nodes":         {"(privkeys " + strings.Repeat("a ", maxNodes+1) + ")", ErrTooLarge},
		"too large":          {"(" + strings.Repeat(" ", MaxFileSize) + ")", ErrTooLarge},
		"octal out of range": {`(privkeys "\777")`, ErrMalformed},
	} {
		if _, err := ParsePrivateKeys([]byte(c.in)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// A tiny but consistent key passes: p=23, q=11, g=4, x=3, y=4^3 mod 23=18.
	tiny := "(privkeys (account (name a) (protocol irc) (private-key (dsa (p #17#) (q #0B#) (g #04#) (y #12#) (x #03#)))))"
	if k, err := ParsePrivateKeys([]byte(tiny)); err != nil || k[0].Y.Int64() != 18 {
		t.Errorf("tiny key: %v", err)
	}
}

func TestFingerprintsFile(t *testing.T) {
	data := read(t, "testdata/otr.fingerprints")
	fps, err := ParseFingerprints(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(fps) != 4 {
		t.Fatalf("%d entries, want 4", len(fps))
	}
	// Written by gen.c from fingerprint bytes seed + 11*i.
	f := fps[1]
	if f.Username != "carol" || f.Account != "alice@irc.example.org" || f.Protocol != "prpl-irc" || f.Trust != "smp" {
		t.Errorf("entry 2: %+v", f)
	}
	for i := range 20 {
		if f.Fingerprint[i] != byte(0x01+11*i) {
			t.Fatalf("entry 2 fingerprint %x", f.Fingerprint)
		}
	}
	if fps[0].Trust != "" || fps[3].Trust != "" || fps[2].Trust != "verified" || fps[3].Account != `bob "the" builder` {
		t.Errorf("trust/account fields: %+v", fps)
	}
	out, err := MarshalFingerprints(fps)
	if err != nil || !bytes.Equal(out, data) {
		t.Errorf("rewritten file differs (%v):\n%s", err, out)
	}
	// libotr also reads lines without a trust field, CRLF and upper case hex.
	fps, err = ParseFingerprints([]byte("u\ta\tp\t" + strings.Repeat("AB", 20) + "\r\n\nu2\ta\tp\t" + strings.Repeat("00", 20) + "\tsmp\twith tab\n"))
	if err != nil || len(fps) != 2 || fps[0].Trust != "" || fps[0].Fingerprint[0] != 0xab || fps[1].Trust != "smp\twith tab" {
		t.Errorf("lenient forms: %+v %v", fps, err)
	}
	for _, bad := range []string{"u\ta\tp\n", "u\ta\tp\t" + strings.Repeat("a", 39) + "\t\n", "u\ta\tp\t" + strings.Repeat("g", 40) + "\t\n", "justtext\n"} {
		if _, err := ParseFingerprints([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := MarshalFingerprints([]Fingerprint{{Username: "a\tb"}}); !errors.Is(err, ErrInvalidField) {
		t.Errorf("tab in user name: %v", err)
	}
	if _, err := MarshalFingerprints([]Fingerprint{{Username: "a", Trust: "x\ny"}}); !errors.Is(err, ErrInvalidField) {
		t.Errorf("newline in trust: %v", err)
	}
}
