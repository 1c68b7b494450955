package otr_test

// libotr's file formats, checked against libotr itself: key files it wrote
// import with the fingerprint it printed, and the fingerprints file we
// write (export-fingerprints) is read by libotr with the same meaning.

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

func TestImportLibotrKeyFiles(t *testing.T) {
	accounts := map[string]string{"libotr-alice.key": "alice", "libotr-bob.key": "bob", "otrbridge.key": "otrbridge"}
	for file, want := range libotrFingerprints(t) {
		f, err := os.Open(otrtest.Testdata(file))
		if err != nil {
			t.Fatal(err)
		}
		keys, err := otr.ImportLibotrPrivateKeys(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(keys) != 1 || keys[0].Account != accounts[file] || keys[0].Protocol != "irc" {
			t.Fatalf("%s: imported %d keys (%+v)", file, len(keys), keys)
		}
		if fp := keys[0].Key.Public().Fingerprint(); fp.String() != want {
			t.Errorf("%s: imported key has fingerprint %s, libotr printed %s", file, fp, want)
		}
		if !keys[0].Key.Public().Equal(loadKey(t, file).Public()) {
			t.Errorf("%s: importer and the test's own reader disagree", file)
		}
	}
}

// TestLibotrReadsOurFiles gives libotr a key we generated and a trusted
// fingerprint in the file we write, and has it use them.
func TestLibotrReadsOurFiles(t *testing.T) {
	dir := t.TempDir()
	key, err := otr.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := key.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "otr.private_key")
	if err := otrtest.WriteKeyFile(keyFile, "libotr", kb); err != nil {
		t.Fatal(err)
	}

	ourKey := loadKey(t, "otrbridge.key")
	var fb bytes.Buffer
	if err := otr.WriteLibotrFingerprints(&fb, []otr.KnownFingerprint{{
		Username: "otrbridge", Account: "libotr", Protocol: "irc",
		Fingerprint: ourKey.Public().Fingerprint(), Trust: "verified",
	}}); err != nil {
		t.Fatal(err)
	}
	fpFile := filepath.Join(dir, "otr.fingerprints")
	writeFile(t, fpFile, fb.Bytes())

	lib := otrtest.StartLibotr(t, otrtest.Options{KeyFile: keyFile, FingerprintsFile: fpFile, InstanceTag: 0x1234abcd})
	if lib.Fingerprint != hexFP(key.Public().Fingerprint()) {
		t.Fatalf("libotr reads our key file with fingerprint %s, ours is %s", lib.HumanFP, key.Public().Fingerprint())
	}
	l := &link{t: t, us: newOurs(t, defaultOurConfig()), lib: lib}
	x := establish(t, l, ourQuery, 3)
	if x.lib.Has("new_fingerprint", "") {
		t.Errorf("libotr did not know our fingerprint from the file we wrote:\n%s", x)
	}
	if tr := lib.Info().Trust; tr != "verified" {
		t.Errorf("libotr trust from our file: %q", tr)
	}
	if gs, _ := ourEvent[otr.GoneSecure](x); hexFP(gs.Fingerprint) != lib.Fingerprint {
		t.Errorf("we see %s, libotr uses %s", gs.Fingerprint, lib.HumanFP)
	}

}

// TestReadLibotrFiles lets libotr write its fingerprints file (after an
// SMP, with trust "smp") and imports it.
func TestReadLibotrFiles(t *testing.T) {
	fpFile := filepath.Join(t.TempDir(), "otr.fingerprints")
	lib := otrtest.StartLibotr(t, otrtest.Options{FingerprintsFile: fpFile})
	l := &link{t: t, us: newOurs(t, defaultOurConfig()), lib: lib}
	establish(t, l, ourQuery, 3)
	l.libDo(lib.SMP("s3cret"))
	x := l.do("answer " + hexs("s3cret"))
	if !x.lib.Has("smp", "SUCCESS") {
		t.Fatalf("SMP failed:\n%s", x)
	}

	f, err := os.Open(fpFile)
	if err != nil {
		t.Fatalf("libotr wrote no fingerprints file: %v", err)
	}
	fps, err := otr.ParseLibotrFingerprints(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ourFP := loadKey(t, "otrbridge.key").Public().Fingerprint()
	if len(fps) != 1 || fps[0].Username != "otrbridge" || fps[0].Account != "libotr" || fps[0].Protocol != "irc" ||
		fps[0].Fingerprint != ourFP || fps[0].Trust != "smp" {
		t.Fatalf("libotr's fingerprints file reads as %+v", fps)
	}
	var b bytes.Buffer
	orig, _ := os.ReadFile(fpFile)
	if err := otr.WriteLibotrFingerprints(&b, fps); err != nil || !bytes.Equal(b.Bytes(), orig) {
		t.Errorf("written fingerprints differ from libotr's file (%v):\n%q\n%q", err, b.String(), orig)
	}

}

func hexFP(f otr.Fingerprint) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 40)
	for _, c := range f {
		b = append(b, digits[c>>4], digits[c&15])
	}
	return string(b)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
