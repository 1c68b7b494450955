package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func mustKey(t *testing.T, secret, purpose string) *Key {
	t.Helper()
	k, err := NewKey(secret, purpose)
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	k := mustKey(t, testSecret, "otr-private-key")
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("key material "), 1000)} {
		sealed := k.Seal(pt, []byte("@alice:example.org\x00libera"))
		if len(sealed) != 1+24+len(pt)+16 {
			t.Errorf("sealed length %d for %d bytes", len(sealed), len(pt))
		}
		if len(pt) > 4 && bytes.Contains(sealed, pt[:5]) {
			t.Errorf("sealed value contains the plaintext")
		}
		got, err := k.Open(sealed, []byte("@alice:example.org\x00libera"))
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, %v", got, err)
		}
	}
}

func TestNoncesDiffer(t *testing.T) {
	k := mustKey(t, testSecret, "p")
	a, b := k.Seal([]byte("same"), nil), k.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal")
	}
}

func TestSecretChecks(t *testing.T) {
	for _, tc := range []struct{ secret, purpose string }{
		{"", "p"},
		{"S3cr3t!", "p"},
		{strings.Repeat("x", MinSecretLength-1), "p"},
		{testSecret, ""},
	} {
		if k, err := NewKey(tc.secret, tc.purpose); err == nil || k != nil {
			t.Errorf("NewKey(%d-byte secret, %q) succeeded", len(tc.secret), tc.purpose)
		} else if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
			t.Errorf("error %q reveals the secret", err)
		}
	}
	if _, err := NewKey(strings.Repeat("x", MinSecretLength), "p"); err != nil {
		t.Errorf("NewKey with a minimal secret: %v", err)
	}
}

func TestOpenFailures(t *testing.T) {
	k := mustKey(t, testSecret, "password")
	sealed := k.Seal([]byte("hunter2"), []byte("ad"))

	check := func(name string, key *Key, v, ad []byte, want error) {
		t.Helper()
		got, err := key.Open(v, ad)
		if !errors.Is(err, want) || got != nil {
			t.Errorf("%s: Open = %q, %v; want error %v", name, got, err, want)
		}
	}
	check("wrong ad", k, sealed, []byte("other"), ErrOpen)
	check("missing ad", k, sealed, nil, ErrOpen)
	check("other purpose", mustKey(t, testSecret, "otr-private-key"), sealed, []byte("ad"), ErrOpen)
	check("other secret", mustKey(t, testSecret+"!", "password"), sealed, []byte("ad"), ErrOpen)
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		want := ErrOpen
		if i == 0 {
			want = ErrFormat
		}
		check("flipped bit", k, tampered, []byte("ad"), want)
	}
	check("truncated", k, sealed[:len(sealed)-1], []byte("ad"), ErrOpen)
	check("too short", k, sealed[:1+24+15], []byte("ad"), ErrFormat)
	check("empty", k, nil, []byte("ad"), ErrFormat)
	check("unknown version", k, append([]byte{2}, sealed[1:]...), []byte("ad"), ErrFormat)
}

func TestStrings(t *testing.T) {
	k := mustKey(t, testSecret, "password")
	s := k.SealString("correct horse", "@bob:example.org/libera")
	if strings.Contains(s, "horse") {
		t.Fatal("sealed string contains the plaintext")
	}
	got, err := k.OpenString(s, "@bob:example.org/libera")
	if err != nil || got != "correct horse" {
		t.Fatalf("OpenString = %q, %v", got, err)
	}
	if _, err := k.OpenString(s, "@eve:example.org/libera"); !errors.Is(err, ErrOpen) {
		t.Errorf("OpenString with other ad: %v", err)
	}
	if _, err := k.OpenString("not base64!", ""); !errors.Is(err, ErrFormat) {
		t.Errorf("OpenString of bad base64: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	k := mustKey(t, testSecret, "p")
	done := make(chan error)
	for range 8 {
		go func() {
			for range 100 {
				if _, err := k.Open(k.Seal([]byte("v"), nil), nil); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	k, err := NewKey(testSecret, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.Seal([]byte("plaintext"), []byte("ad")), []byte("ad"))
	f.Add([]byte{1}, []byte(nil))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := k.Open(sealed, ad)
		if err == nil {
			// Only a genuine seal opens; the fuzzer cannot forge one, so a
			// success must be the seed itself.
			if string(pt) != "plaintext" || string(ad) != "ad" {
				t.Fatalf("forged value opened: %q", pt)
			}
		} else if pt != nil {
			t.Fatal("Open returned plaintext with an error")
		}
	})
}
