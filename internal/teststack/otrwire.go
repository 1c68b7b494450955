package teststack

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// What an OTR line on the IRC wire is, read from the parts OTR leaves in
// the clear (the version and type bytes of an encoded message, a
// fragment's header) without decrypting anything. The demo's transcript
// and the load test's post-mortem label lines with these.

// otrMessageTypes names the OTR message types (the third byte of an
// encoded message, after the two-byte protocol version).
var otrMessageTypes = map[byte]string{
	0x02: "DH-commit",
	0x0a: "DH-key",
	0x11: "reveal-signature",
	0x12: "signature",
	0x03: "encrypted data",
}

// OTRMessageType names the type of an encoded OTR message from its base64
// data (what follows "?OTR:"): "DH-commit", "encrypted data", ...; "OTR
// message" when the data is too short to tell.
func OTRMessageType(b64 string) string {
	if len(b64) < 4 {
		return "OTR message"
	}
	head, err := base64.StdEncoding.DecodeString(b64[:4])
	if err != nil || len(head) < 3 {
		return "OTR message"
	}
	if name, ok := otrMessageTypes[head[2]]; ok {
		return name
	}
	return fmt.Sprintf("OTR message type 0x%02x", head[2])
}

// IsOTRFragment reports whether line starts like a v3 or v2 OTR fragment.
func IsOTRFragment(line string) bool {
	return strings.HasPrefix(line, "?OTR|") || strings.HasPrefix(line, "?OTR,")
}

// SplitOTRFragment splits a v3 ("?OTR|sender|receiver,k,n,piece,") or v2
// ("?OTR,k,n,piece,") fragment into its number and total (leading zeros
// removed) and the piece with its closing comma; "?", "?", "" when the
// header is incomplete.
func SplitOTRFragment(line string) (k, total, piece string) {
	rest := line[len("?OTR"):]
	if strings.HasPrefix(rest, "|") {
		_, rest, _ = strings.Cut(rest, ",")
	} else {
		rest = strings.TrimPrefix(rest, ",")
	}
	parts := strings.SplitN(rest, ",", 3)
	if len(parts) < 3 {
		return "?", "?", ""
	}
	return strings.TrimLeft(parts[0], "0"), strings.TrimLeft(parts[1], "0"), parts[2]
}
