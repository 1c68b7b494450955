package b64

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"
)

func TestEncodeMatchesStd(t *testing.T) {
	for n := range 200 {
		src := make([]byte, n)
		rand.Read(src)
		got := AppendEncode([]byte("prefix"), src)
		want := append([]byte("prefix"), base64.StdEncoding.EncodeToString(src)...)
		if !bytes.Equal(got, want) {
			t.Fatalf("len %d: got %q, want %q", n, got, want)
		}
		dec, err := AppendDecodeString([]byte("x"), string(want[6:]))
		if err != nil || !bytes.Equal(dec, append([]byte("x"), src...)) {
			t.Fatalf("len %d: decode %x, %v", n, dec, err)
		}
	}
}

func TestDecodeMatchesStd(t *testing.T) {
	for _, s := range []string{
		"", "=", "QQ", "QQ=", "QQ==", "QUJD", "QUJDRA==", "QUJDREVGR0hJSks=",
		"QUJDREVG\nR0hJSktM", "QUJDREVGR0hJSktM\r\n", "QUJD*EVGR0hJSktM", "QUJDREVGR0hJSktMTk9Q===",
		"QUJDREVGR0hJSktMTk9QUVJT", "QUJDREVGR0hJ=ktMTk9QUVJT", "QUJDREVGR0hJSktMTk9QUVJTVA",
	} {
		checkDecode(t, s)
	}
}

func checkDecode(t *testing.T, s string) {
	t.Helper()
	want, wantErr := base64.StdEncoding.DecodeString(s)
	got, err := AppendDecodeString(nil, s)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, std says %v", s, err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("%q: %x, std says %x", s, got, want)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("QUJDREVGR0hJSktMTk9QUVJT")
	f.Add("QUJDREVGR0hJSktM\nTk9Q==")
	f.Fuzz(checkDecode)
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte("hello, world"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if got, want := AppendEncode(nil, src), base64.StdEncoding.EncodeToString(src); string(got) != want {
			t.Fatalf("%x: %q, std says %q", src, got, want)
		}
		checkDecode(t, base64.StdEncoding.EncodeToString(src))
	})
}

var benchSrc = func() []byte { b := make([]byte, 360); rand.Read(b); return b }()

func BenchmarkEncode(b *testing.B) {
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(benchSrc)))
	for b.Loop() {
		dst = AppendEncode(dst[:0], benchSrc)
	}
}

func BenchmarkEncodeStd(b *testing.B) {
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(benchSrc)))
	for b.Loop() {
		dst = base64.StdEncoding.AppendEncode(dst[:0], benchSrc)
	}
}

func BenchmarkDecode(b *testing.B) {
	s := base64.StdEncoding.EncodeToString(benchSrc)
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(benchSrc)))
	for b.Loop() {
		dst, _ = AppendDecodeString(dst[:0], s)
	}
}

func BenchmarkDecodeStd(b *testing.B) {
	s := base64.StdEncoding.EncodeToString(benchSrc)
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(benchSrc)))
	for b.Loop() {
		dst, _ = base64.StdEncoding.AppendDecode(dst[:0], []byte(s))
	}
}
