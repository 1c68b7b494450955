package ircfmt

import "regexp"

// htmlSign matches the tags and entities an HTML-speaking chat client
// (Pidgin's OTR plugin, Adium) puts in messages; plain-text clients (irssi,
// WeeChat, HexChat) send none of them in ordinary text.
var htmlSign = regexp.MustCompile(`(?i)<(?:/?(?:b|i|u|s|em|strong|font|span|p|a|br|html|body|del|strike|code|pre|blockquote|div)\b[^>]*)>|&(?:amp|lt|gt|quot|apos|nbsp|#[0-9]{1,7}|#x[0-9a-f]{1,6});`)

// LooksLikeHTML reports whether a message from an IRC peer's OTR client is
// HTML rather than plain text. OTR carries no content type: libotr clients
// with a rich-text UI send HTML, terminal clients plain text.
func LooksLikeHTML(text string) bool {
	return htmlSign.MatchString(text)
}
