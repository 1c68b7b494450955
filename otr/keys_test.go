package otr

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

// TestLibotrKeyFingerprints imports key files written by libotr 4.1.1 and
// checks our fingerprints against the ones libotr printed for them.
func TestLibotrKeyFingerprints(t *testing.T) {
	f, err := os.Open("testdata/fingerprints.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		file, human, _ := strings.Cut(line, " ")
		kf, err := os.Open("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := ImportLibotrPrivateKeys(kf)
		kf.Close()
		if err != nil || len(keys) != 1 {
			t.Fatalf("%s: %d keys, %v", file, len(keys), err)
		}
		fp := keys[0].Key.Public().Fingerprint()
		if fp.String() != human {
			t.Errorf("%s: fingerprint %s, libotr says %s", file, fp, human)
		}
		parsed, err := ParseFingerprint(strings.ToLower(human))
		if err != nil || parsed != fp {
			t.Errorf("ParseFingerprint(%q) = %v, %v", human, parsed, err)
		}
		n++
	}
	if n < 2 {
		t.Fatalf("only %d keys checked", n)
	}
}

func TestKeyEncodingsRoundTrip(t *testing.T) {
	k := testKey(t, testKeyAlice)
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var k2 PrivateKey
	if err := k2.UnmarshalBinary(b); err != nil || !k2.Public().Equal(k.Public()) {
		t.Fatal("MarshalBinary round trip", err)
	}
	for _, bad := range [][]byte{nil, {1}, b[:len(b)-1], append(append([]byte(nil), b...), 0), append([]byte{2}, b[1:]...)} {
		if err := new(PrivateKey).UnmarshalBinary(bad); err == nil {
			t.Errorf("accepted bad encoding of %d bytes", len(bad))
		}
	}

	var buf bytes.Buffer
	fps := []KnownFingerprint{{Username: "bob", Account: "me@irc", Protocol: "irc", Fingerprint: k.Public().Fingerprint(), Trust: "smp"}}
	if err := WriteLibotrFingerprints(&buf, fps); err != nil {
		t.Fatal(err)
	}
	got, err := ParseLibotrFingerprints(&buf)
	if err != nil || len(got) != 1 || got[0] != fps[0] {
		t.Fatalf("fingerprints round trip: %+v %v", got, err)
	}
}

func TestSignatureVerifies(t *testing.T) {
	k := testKey(t, testKeyAlice)
	hash := bytes.Repeat([]byte{0xff}, 32) // larger than q: taken mod q
	sig, err := k.sign(detRand(7), hash)
	if err != nil || len(sig) != 40 {
		t.Fatal(err)
	}
	if !k.Public().verify(hash, sig) {
		t.Fatal("own signature does not verify")
	}
	sig[5] ^= 1
	if k.Public().verify(hash, sig) {
		t.Fatal("bad signature verifies")
	}
	// Deterministic for a given randomness source.
	s1, _ := k.sign(detRand(8), hash)
	s2, _ := k.sign(detRand(8), hash)
	if !bytes.Equal(s1, s2) {
		t.Fatal("signing is not deterministic in Rand")
	}
}

func TestFingerprintFormat(t *testing.T) {
	var f Fingerprint
	for i := range f {
		f[i] = byte(i * 13)
	}
	s := f.String()
	if len(s) != 44 || strings.Count(s, " ") != 4 || strings.ToUpper(s) != s {
		t.Fatalf("format %q", s)
	}
	if g, err := ParseFingerprint(strings.ReplaceAll(s, " ", "")); err != nil || g != f {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "123", strings.Repeat("g", 40)} {
		if _, err := ParseFingerprint(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, err := parsePublicKey(wire.NewReader([]byte{0, 1})); err == nil {
		t.Error("accepted key type 1")
	}
}

func TestNewInstanceTag(t *testing.T) {
	r := detRand(3)
	for i := 0; i < 100; i++ {
		tag, err := NewInstanceTag(r)
		if err != nil || tag < 0x100 {
			t.Fatal(tag, err)
		}
	}
}
