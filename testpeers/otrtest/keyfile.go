package otrtest

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"os"
	"regexp"
	"strings"
)

// dsaField matches "(p #00FC...#)" in a libotr private key file. The test
// keys are written by libotr itself, so this deliberately small reader is
// enough; the product's importer is otr/internal/libotrfile.
var dsaField = regexp.MustCompile(`\((p|q|g|y|x) #([0-9A-Fa-f]+)#\)`)

// dsaNames are the key's numbers in the order of both encodings.
var dsaNames = []string{"p", "q", "g", "y", "x"}

// KeyBinary reads the first DSA key of a libotr private key file and
// returns it in the encoding of otr.PrivateKey.MarshalBinary (a version
// byte 1, then MPIs p, q, g, y, x), so tests can load the stored keys with
// UnmarshalBinary independently of the importer under test.
func KeyBinary(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	vals := map[string]*big.Int{}
	for _, m := range dsaField.FindAllSubmatch(b, -1) {
		name := string(m[1])
		if _, dup := vals[name]; dup {
			break // second key in the file
		}
		v, ok := new(big.Int).SetString(string(m[2]), 16)
		if !ok {
			return nil, fmt.Errorf("bad %s in %s", name, path)
		}
		vals[name] = v
	}
	out := []byte{1}
	for _, name := range dsaNames {
		v, ok := vals[name]
		if !ok {
			return nil, fmt.Errorf("no DSA %s in %s", name, path)
		}
		// MPI: 4-byte big-endian length, then the minimal big-endian value
		out = binary.BigEndian.AppendUint32(out, uint32(len(v.Bytes())))
		out = append(out, v.Bytes()...)
	}
	return out, nil
}

// WriteKeyFile writes key, in the encoding of otr.PrivateKey.MarshalBinary,
// as a libotr private key file for account on protocol "irc", laid out as
// libotr writes it, so a libotr peer can be started with a key the engine
// generated.
func WriteKeyFile(path, account string, key []byte) error {
	if len(key) == 0 || key[0] != 1 {
		return fmt.Errorf("not a marshalled OTR private key")
	}
	rest := key[1:]
	var b strings.Builder
	fmt.Fprintf(&b, "(privkeys\n (account\n(name %q)\n(protocol irc)\n(private-key \n (dsa \n", account)
	for _, name := range dsaNames {
		if len(rest) < 4 || uint32(len(rest)-4) < binary.BigEndian.Uint32(rest) {
			return fmt.Errorf("truncated DSA %s", name)
		}
		n := binary.BigEndian.Uint32(rest)
		v := rest[4 : 4+n]
		rest = rest[4+n:]
		if len(v) > 0 && v[0]&0x80 != 0 {
			v = append([]byte{0}, v...) // libgcrypt writes MPIs signed
		}
		fmt.Fprintf(&b, "  (%s #%X#)\n", name, v)
	}
	b.WriteString("  )\n )\n )\n)\n")
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
