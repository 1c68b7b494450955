package bridge

import (
	"fmt"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"
)

// Identifiers.
//
//   - Login: "<network>/<Matrix user ID>", so each Matrix user has at most one
//     login per network and logins of different users never collide.
//   - Ghost and DM portal: "<network>.<casemapped nick>", with ".<n>" appended
//     when the nick was taken over by someone else after its first owner
//     changed nick (the first owner keeps the original ID, see client.go).
//     IRC nicks never contain ".", so the ID splits unambiguously.
//   - The DM portal key's receiver is the login, so every user has their own
//     room with a peer even when two users talk to the same nick.

func makeLoginID(network string, mxid id.UserID) networkid.UserLoginID {
	return networkid.UserLoginID(network + "/" + string(mxid))
}

func makeUserID(network, foldedNick string, n int) networkid.UserID {
	if n > 1 {
		return networkid.UserID(fmt.Sprintf("%s.%s.%d", network, foldedNick, n))
	}
	return networkid.UserID(network + "." + foldedNick)
}

// parseUserID splits a ghost ID into network and casemapped nick.
func parseUserID(uid networkid.UserID) (network, foldedNick string, ok bool) {
	parts := strings.Split(string(uid), ".")
	switch len(parts) {
	case 2:
	case 3:
		if n, err := strconv.Atoi(parts[2]); err != nil || n < 2 || strconv.Itoa(n) != parts[2] {
			return "", "", false
		}
	default:
		return "", "", false
	}
	if !networkKeyRegex.MatchString(parts[0]) || validateNick(parts[1]) != nil {
		return "", "", false
	}
	return parts[0], parts[1], true
}

func portalKeyFor(uid networkid.UserID, login networkid.UserLoginID) networkid.PortalKey {
	return networkid.PortalKey{ID: networkid.PortalID(uid), Receiver: login}
}

// maxNickLen bounds nicks typed by users; the server's NICKLEN decides the rest.
const maxNickLen = 64

// validateNick accepts RFC 2812 nicks plus the usual extensions: a letter or
// one of []\`_^{|} first, then letters, digits, those specials and "-".
func validateNick(nick string) error {
	if nick == "" {
		return fmt.Errorf("nick is empty")
	}
	if len(nick) > maxNickLen {
		return fmt.Errorf("nick is longer than %d characters", maxNickLen)
	}
	for i := 0; i < len(nick); i++ {
		c := nick[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case strings.IndexByte("[]\\`_^{|}~", c) >= 0:
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return fmt.Errorf("nick %q: character %q is not allowed on IRC", nick, c)
		}
	}
	return nil
}
