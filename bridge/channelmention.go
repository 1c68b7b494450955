package bridge

import (
	"html"
	"net/url"
	"strings"

	"maunium.net/go/mautrix/id"
)

// Mentions in channels. IRC has no mention markup: people write the nick.
// A channel line naming a bridged user's current nick gets a Matrix pill
// for that user (and m.mentions), so that their client highlights it the
// way an IRC client would. The other direction, a pill becoming the nick,
// is ircfmt.HTMLToIRCWithPills.

// pillHTML is the Matrix pill of user, showing text.
func pillHTML(user id.UserID, text string) string {
	return `<a href="https://matrix.to/#/` + url.PathEscape(string(user)) + `">` + html.EscapeString(text) + `</a>`
}

// isNickByte reports whether c can be part of a nick (RFC 2812 and the usual
// extensions): a run of these bytes in a line is one candidate word.
func isNickByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("[]\\`_^{|}~-", c) >= 0
}

// addMentionPills finds the whole words of plain that are, casemapped with
// fold, keys of nicks, and returns the formatted body with those words as
// pills and the users mentioned (each once, in order). formatted is the HTML
// of the line ("" for a line without formatting). When nothing matches it
// returns formatted unchanged and no users.
func addMentionPills(plain, formatted string, fold func(string) string, nicks map[string]id.UserID) (string, []id.UserID) {
	if len(nicks) == 0 {
		return formatted, nil
	}
	var users []id.UserID
	seen := map[id.UserID]bool{}
	found := false
	eachWord(plain, func(word string) {
		if user, ok := nicks[fold(word)]; ok {
			found = true
			if !seen[user] {
				seen[user] = true
				users = append(users, user)
			}
		}
	})
	if !found {
		return formatted, nil
	}
	if formatted == "" {
		formatted = html.EscapeString(plain)
	}
	// Replace in the text between tags only; skip character references,
	// whose letters are no words.
	var b strings.Builder
	for i := 0; i < len(formatted); {
		switch c := formatted[i]; {
		case c == '<':
			end := strings.IndexByte(formatted[i:], '>')
			if end < 0 {
				end = len(formatted) - i - 1
			}
			b.WriteString(formatted[i : i+end+1])
			i += end + 1
		case c == '&':
			end := strings.IndexByte(formatted[i:], ';')
			if end < 0 {
				end = 0
			}
			b.WriteString(formatted[i : i+end+1])
			i += end + 1
		case isNickByte(c):
			j := i
			for j < len(formatted) && isNickByte(formatted[j]) {
				j++
			}
			word := formatted[i:j]
			if user, ok := nicks[fold(word)]; ok {
				b.WriteString(pillHTML(user, word))
			} else {
				b.WriteString(word)
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), users
}

// eachWord calls f for every maximal run of nick bytes in s.
func eachWord(s string, f func(string)) {
	for i := 0; i < len(s); {
		if !isNickByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isNickByte(s[j]) {
			j++
		}
		f(s[i:j])
		i = j
	}
}
