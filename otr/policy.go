package otr

import (
	"fmt"
	"strings"
)

// Policy is a set of libotr policy bits. The values match libotr's
// OTRL_POLICY_* constants so settings can be carried over from other clients.
type Policy uint32

const (
	// AllowV2 allows OTR protocol version 2.
	AllowV2 Policy = 0x02
	// AllowV3 allows OTR protocol version 3.
	AllowV3 Policy = 0x04
	// RequireEncryption refuses to send plaintext: messages are held while
	// a session is negotiated.
	RequireEncryption Policy = 0x08
	// SendWhitespaceTag advertises OTR by appending a whitespace tag to
	// plaintext messages until the peer answers in plaintext.
	SendWhitespaceTag Policy = 0x10
	// WhitespaceStartAKE starts the AKE when a whitespace tag is received.
	WhitespaceStartAKE Policy = 0x20
	// ErrorStartAKE answers a received OTR error message with a query.
	ErrorStartAKE Policy = 0x40
)

// The libotr presets.
const (
	PolicyNever         Policy = 0
	PolicyManual        Policy = AllowV2 | AllowV3
	PolicyOpportunistic Policy = PolicyManual | SendWhitespaceTag | WhitespaceStartAKE | ErrorStartAKE
	PolicyAlways        Policy = AllowV2 | AllowV3 | RequireEncryption | WhitespaceStartAKE | ErrorStartAKE
)

var presetNames = []struct {
	name string
	p    Policy
}{
	{"never", PolicyNever},
	{"manual", PolicyManual},
	{"opportunistic", PolicyOpportunistic},
	{"always", PolicyAlways},
}

var bitNames = []struct {
	name string
	p    Policy
}{
	{"allow-v2", AllowV2},
	{"allow-v3", AllowV3},
	{"require-encryption", RequireEncryption},
	{"send-whitespace-tag", SendWhitespaceTag},
	{"whitespace-start-ake", WhitespaceStartAKE},
	{"error-start-ake", ErrorStartAKE},
}

// ParsePolicy parses a preset name ("never", "manual", "opportunistic",
// "always") or a "|"-separated list of bit names such as
// "allow-v3|require-encryption". Case and surrounding spaces are ignored.
func ParsePolicy(name string) (Policy, error) {
	s := strings.ToLower(strings.TrimSpace(name))
	for _, pn := range presetNames {
		if s == pn.name {
			return pn.p, nil
		}
	}
	var p Policy
	for _, part := range strings.Split(s, "|") {
		part = strings.TrimSpace(part)
		found := false
		for _, bn := range bitNames {
			if part == bn.name {
				p |= bn.p
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("otr: unknown policy %q", part)
		}
	}
	return p, nil
}

// String returns the preset name when p is a preset, else the bit names
// joined by "|".
func (p Policy) String() string {
	for _, pn := range presetNames {
		if p == pn.p {
			return pn.name
		}
	}
	var parts []string
	rest := p
	for _, bn := range bitNames {
		if p&bn.p != 0 {
			parts = append(parts, bn.name)
			rest &^= bn.p
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint32(rest)))
	}
	return strings.Join(parts, "|")
}

// allows reports whether p allows protocol version 2 or 3.
func (p Policy) allows(version int) bool {
	switch version {
	case 2:
		return p&AllowV2 != 0
	case 3:
		return p&AllowV3 != 0
	}
	return false
}
