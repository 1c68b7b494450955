package otrtest

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"os"
	"regexp"
)

// dsaField matches "(p #00FC...#)" in a libotr private key file. The test
// keys are written by libotr itself, so this deliberately small reader is
// enough; the product's importer is otr/internal/libotrfile.
var dsaField = regexp.MustCompile(`\((p|q|g|y|x) #([0-9A-Fa-f]+)#\)`)

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
	for _, name := range []string{"p", "q", "g", "y", "x"} {
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
