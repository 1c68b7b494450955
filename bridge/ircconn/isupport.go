package ircconn

import (
	"maps"
	"strconv"
	"strings"

	"github.com/ergochat/irc-go/ircmsg"
)

// ISupport is what the server announced in RPL_ISUPPORT (005) that this
// package uses, with the defaults of RFC 1459 / modern IRC until the server
// says otherwise. Lengths and limits are 0 when the server did not announce
// them.
type ISupport struct {
	Network     string
	Casemapping Casemapping
	// ChanTypes are the characters a channel name starts with ("#&").
	ChanTypes string
	// StatusMsg are the prefixes that address a channel's members of a
	// given status ("@#chan"), empty if not supported.
	StatusMsg string
	// PrefixModes are the membership modes, highest first, and
	// PrefixSymbols their symbols in NAMES and WHO ("ov", "@+").
	PrefixModes, PrefixSymbols string
	// The four classes of CHANMODES: list modes (A, always a parameter:
	// "b"), parameter modes (B, a parameter to set and unset: "k"),
	// set-parameter modes (C, a parameter to set only: "l") and flags (D,
	// none: "imnpst").
	ListModes, ParamModes, SetParamModes, FlagModes string
	// Monitor is true when the server has MONITOR; MonitorLimit is the
	// number of nicks it lets us watch, 0 when it announced no limit.
	Monitor      bool
	MonitorLimit int
	// WHOX: WHO takes a field selection (%tcuhnfar) and reports accounts.
	WHOX bool
	// Lengths in bytes: NICKLEN, CHANNELLEN, TOPICLEN, KICKLEN, KEYLEN, AWAYLEN.
	NickLen, ChannelLen, TopicLen, KickLen, KeyLen, AwayLen int
	// Modes is MODES: how many parameter-taking mode changes one MODE
	// command may carry. 0: not announced (3 is the safe assumption).
	Modes int
	// TargMax is TARGMAX (and MAXTARGETS for PRIVMSG and NOTICE): the most
	// targets a command takes, by upper-case command; 0 means no limit.
	// Commands not listed have no announced limit.
	TargMax map[string]int
	// ChanLimit is CHANLIMIT: the most channels we may join, by group of
	// channel types ("#&" -> 20).
	ChanLimit map[string]int
}

// maxISupportTokens bounds what a server's 005 lines can make us keep.
const maxISupportTokens = 256

func defaultISupport() ISupport {
	return ISupport{
		Casemapping:   RFC1459,
		ChanTypes:     "#&",
		PrefixModes:   "ov",
		PrefixSymbols: "@+",
		ListModes:     "b",
		ParamModes:    "k",
		SetParamModes: "l",
		FlagModes:     "imnpst",
	}
}

// clone returns a copy that shares no map with is.
func (is ISupport) clone() ISupport {
	is.TargMax = maps.Clone(is.TargMax)
	is.ChanLimit = maps.Clone(is.ChanLimit)
	return is
}

// MaxTargets is the most targets cmd takes (TARGMAX), 0 for no limit.
func (is ISupport) MaxTargets(cmd string) int { return is.TargMax[strings.ToUpper(cmd)] }

// ModeKind classifies a channel mode letter with PREFIX and CHANMODES.
func (is ISupport) ModeKind(mode rune) ModeKind {
	switch {
	case mode > 0x7f:
		return ModeUnknown
	case strings.ContainsRune(is.PrefixModes, mode):
		return ModePrefix
	case strings.ContainsRune(is.ListModes, mode):
		return ModeList
	case strings.ContainsRune(is.ParamModes, mode):
		return ModeParam
	case strings.ContainsRune(is.SetParamModes, mode):
		return ModeSetParam
	case strings.ContainsRune(is.FlagModes, mode):
		return ModeFlag
	}
	return ModeUnknown
}

// prefixSymbol is the NAMES/WHO symbol of a membership mode, 0 if mode is
// not one.
func (is ISupport) prefixSymbol(mode rune) byte {
	if i := strings.IndexRune(is.PrefixModes, mode); i >= 0 && i < len(is.PrefixSymbols) {
		return is.PrefixSymbols[i]
	}
	return 0
}

// apply reads the tokens of one 005 line (without our nick and the
// trailing text). Unknown and malformed tokens are ignored; "-TOKEN"
// returns a token to its default.
func (is *ISupport) apply(tokens []string) {
	def := defaultISupport()
	for i, tok := range tokens {
		if i >= maxISupportTokens {
			return
		}
		// A copy of the token: what is kept of it would otherwise keep
		// the whole 005 line alive for the connection's life.
		k, v, _ := strings.Cut(strings.Clone(tok), "=")
		neg := strings.HasPrefix(k, "-")
		k = strings.ToUpper(strings.TrimPrefix(k, "-"))
		v = unescapeISupport(v)
		switch k {
		case "NETWORK":
			is.Network = v
		case "CASEMAPPING":
			is.Casemapping = ParseCasemapping(v)
		case "CHANTYPES":
			is.ChanTypes = printableSet(v)
		case "STATUSMSG":
			is.StatusMsg = printableSet(v)
		case "PREFIX":
			if m, s, ok := parsePrefix(v); ok {
				is.PrefixModes, is.PrefixSymbols = m, s
			}
		case "CHANMODES":
			c := strings.SplitN(v, ",", 5)
			for len(c) < 4 {
				c = append(c, "")
			}
			is.ListModes, is.ParamModes, is.SetParamModes, is.FlagModes =
				printableSet(c[0]), printableSet(c[1]), printableSet(c[2]), printableSet(c[3])
		case "MONITOR":
			is.Monitor, is.MonitorLimit = true, atoiOr0(v)
		case "WHOX":
			is.WHOX = true
		case "NICKLEN":
			is.NickLen = atoiOr0(v)
		case "CHANNELLEN":
			is.ChannelLen = atoiOr0(v)
		case "TOPICLEN":
			is.TopicLen = atoiOr0(v)
		case "KICKLEN":
			is.KickLen = atoiOr0(v)
		case "KEYLEN":
			is.KeyLen = atoiOr0(v)
		case "AWAYLEN":
			is.AwayLen = atoiOr0(v)
		case "MODES":
			is.Modes = atoiOr0(v)
		case "TARGMAX":
			is.TargMax = parseLimits(v, true)
		case "MAXTARGETS":
			if is.TargMax == nil {
				is.TargMax = map[string]int{}
			}
			n := atoiOr0(v)
			for _, cmd := range []string{"PRIVMSG", "NOTICE"} {
				if _, set := is.TargMax[cmd]; !set {
					is.TargMax[cmd] = n
				}
			}
		case "CHANLIMIT":
			is.ChanLimit = parseLimits(v, false)
		default:
			continue
		}
		if !neg {
			continue
		}
		// Withdrawn: back to the default.
		switch k {
		case "NETWORK":
			is.Network = def.Network
		case "CASEMAPPING":
			is.Casemapping = def.Casemapping
		case "CHANTYPES":
			is.ChanTypes = def.ChanTypes
		case "STATUSMSG":
			is.StatusMsg = def.StatusMsg
		case "PREFIX":
			is.PrefixModes, is.PrefixSymbols = def.PrefixModes, def.PrefixSymbols
		case "CHANMODES":
			is.ListModes, is.ParamModes, is.SetParamModes, is.FlagModes = def.ListModes, def.ParamModes, def.SetParamModes, def.FlagModes
		case "MONITOR":
			is.Monitor, is.MonitorLimit = false, 0
		case "WHOX":
			is.WHOX = false
		case "NICKLEN":
			is.NickLen = 0
		case "CHANNELLEN":
			is.ChannelLen = 0
		case "TOPICLEN":
			is.TopicLen = 0
		case "KICKLEN":
			is.KickLen = 0
		case "KEYLEN":
			is.KeyLen = 0
		case "AWAYLEN":
			is.AwayLen = 0
		case "MODES":
			is.Modes = 0
		case "TARGMAX", "MAXTARGETS":
			is.TargMax = nil
		case "CHANLIMIT":
			is.ChanLimit = nil
		}
	}
}

// parsePrefix reads PREFIX=(modes)symbols. An empty value means no
// membership modes; a malformed one is refused (ok false).
func parsePrefix(v string) (modes, symbols string, ok bool) {
	if v == "" {
		return "", "", true
	}
	if !strings.HasPrefix(v, "(") {
		return "", "", false
	}
	modes, symbols, found := strings.Cut(v[1:], ")")
	if !found || len(modes) != len(symbols) || printableSet(modes) != modes || printableSet(symbols) != symbols {
		return "", "", false
	}
	return modes, symbols, true
}

// parseLimits reads "KEY:n,KEY:n" (TARGMAX, CHANLIMIT); an empty n is no
// limit (0). Keys are upper-cased for TARGMAX (commands).
func parseLimits(v string, upper bool) map[string]int {
	out := map[string]int{}
	for i, part := range strings.Split(v, ",") {
		if i >= maxISupportTokens {
			break
		}
		k, n, ok := strings.Cut(part, ":")
		if !ok || k == "" {
			continue
		}
		if upper {
			k = strings.ToUpper(k)
		}
		out[k] = atoiOr0(n)
	}
	return out
}

// atoiOr0 reads a non-negative decimal; anything else is 0 (no limit).
func atoiOr0(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// printableSet keeps the printable ASCII bytes of s that are not space,
// comma or colon: the only bytes that may be channel types, status
// prefixes or mode letters.
func printableSet(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !setByte(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if setByte(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func setByte(c byte) bool { return c > ' ' && c < 0x7f && c != ',' && c != ':' }

// unescapeISupport decodes the \xHH escapes ISUPPORT values may carry.
func unescapeISupport(v string) string {
	if !strings.Contains(v, `\x`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+3 < len(v) && v[i+1] == 'x' {
			if n, err := strconv.ParseUint(v[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// ISupport returns what the server announced (defaults until it did). The
// result is a copy.
func (c *Conn) ISupport() ISupport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isupportLocked()
}

// isupportLocked is the announced state; casemapping, channel types and
// status prefixes live in their own fields, which the rest of the package
// reads directly.
func (c *Conn) isupportLocked() ISupport {
	is := c.isup.clone()
	is.Casemapping, is.ChanTypes, is.StatusMsg = c.casemap, c.chantypes, c.statusmsg
	return is
}

// isupport reads one 005 line.
func (s *session) isupport(m *ircmsg.Message) {
	c := s.c
	if len(m.Params) < 3 {
		return
	}
	s.lockReader()
	defer s.unlockReader()
	is := c.isupportLocked()
	is.apply(m.Params[1 : len(m.Params)-1])
	c.casemap, c.chantypes, c.statusmsg = is.Casemapping, is.ChanTypes, is.StatusMsg
	c.isup = is
}
