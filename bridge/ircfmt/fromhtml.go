package ircfmt

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLToIRC converts a Matrix formatted_body to IRC text with formatting
// codes. Block elements (p, div, li, headings, br, ...) become line breaks,
// blockquotes are prefixed with "> ", links become "text (url)" unless the
// text already is the URL, colours map to the nearest classic mIRC colour, and
// the reply fallback (mx-reply) is dropped. Text that is not valid HTML is
// handled the way a browser would.
func HTMLToIRC(formatted string) string {
	return HTMLToIRCWithPills(formatted, nil)
}

// HTMLToIRCWithPills is HTMLToIRC where a Matrix pill of a user (a link to
// https://matrix.to/#/@user:server) is written as pill(user ID) instead of
// the link text, when pill returns true: in a channel, a mention must become
// the IRC nick the others know, not the Matrix display name.
func HTMLToIRCWithPills(formatted string, pill func(userID string) (string, bool)) string {
	nodes, err := html.ParseFragment(strings.NewReader(formatted), &html.Node{
		Type: html.ElementNode, DataAtom: atom.Body, Data: "body",
	})
	w := htmlWriter{pill: pill}
	if err != nil {
		// The tree builder gives up on absurd nesting (more than 512 open
		// elements); keep the text and line breaks, drop the formatting.
		w.flat(formatted)
	} else {
		for _, n := range nodes {
			w.walk(n, state{}, 0)
		}
	}
	if !w.emitted.zero() {
		w.buf = append(w.buf, codeReset)
	}
	return string(w.buf)
}

type htmlWriter struct {
	// pill, if set, names the Matrix users that pills mention.
	pill    func(userID string) (string, bool)
	buf     []byte
	emitted state
	// pendingBreaks counts line breaks not yet written: they are written
	// only when more text follows, so the result never ends in a newline.
	pendingBreaks int
	pendingSpace  bool
	// spaceState is the formatting of the first white space of the pending
	// run: a space outside <u> must not be underlined.
	spaceState state
	lineStart  bool
	quoteDepth int
	preDepth   int
	lists      []listState
	// markerEnd is len(buf) right after a list marker, so that a block
	// inside the list item does not break the line after the marker.
	markerEnd int
}

type listState struct {
	ordered bool
	next    int
}

// maxDepth bounds the recursion; the parser itself refuses trees deeper
// than 512, so this is a second line of defence.
const maxDepth = 600

// flat writes the text of a document without building a tree.
func (w *htmlWriter) flat(doc string) {
	z := html.NewTokenizer(strings.NewReader(doc))
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return
		case html.TextToken:
			if skip == 0 {
				w.text(string(z.Text()), state{})
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			switch a := atom.Lookup(name); a {
			case atom.Script, atom.Style:
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
			case atom.Br:
				w.pendingBreaks++
			case atom.P, atom.Div, atom.Li, atom.Tr, atom.Blockquote, atom.Pre,
				atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				w.blockBreak()
			}
		}
	}
}

func (w *htmlWriter) walk(n *html.Node, st state, depth int) {
	if depth > maxDepth {
		return
	}
	switch n.Type {
	case html.TextNode:
		w.text(n.Data, st)
		return
	case html.ElementNode:
	default:
		// Comments, doctypes: nothing to show.
		return
	}
	children := func(st state) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			w.walk(c, st, depth+1)
		}
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Head, atom.Title, atom.Template:
		return
	case atom.B, atom.Strong:
		st.flags |= flagBold
	case atom.I, atom.Em, atom.Cite:
		st.flags |= flagItalic
	case atom.U, atom.Ins:
		st.flags |= flagUnderline
	case atom.S, atom.Del, atom.Strike:
		st.flags |= flagStrike
	case atom.Code, atom.Tt, atom.Kbd, atom.Samp:
		st.flags |= flagMono
	case atom.Font, atom.Span:
		st = withColours(n, st)
	case atom.Br:
		w.pendingBreaks++
		w.pendingSpace = false
		return
	case atom.Hr:
		w.blockBreak()
		w.text("---", state{})
		w.blockBreak()
		return
	case atom.Img:
		if alt := attr(n, "alt"); alt != "" {
			w.text(alt, st)
		} else {
			w.text("[image]", st)
		}
		return
	case atom.A:
		w.link(n, st, children)
		return
	case atom.Pre:
		w.blockBreak()
		w.preDepth++
		children(state{flags: st.flags | flagMono, fg: st.fg, bg: st.bg})
		w.preDepth--
		w.blockBreak()
		return
	case atom.Blockquote:
		w.blockBreak()
		w.quoteDepth++
		children(st)
		w.quoteDepth--
		w.blockBreak()
		return
	case atom.Ul, atom.Ol:
		l := listState{ordered: n.DataAtom == atom.Ol, next: 1}
		if s, err := strconv.Atoi(attr(n, "start")); err == nil {
			l.next = s
		}
		w.blockBreak()
		w.lists = append(w.lists, l)
		children(st)
		w.lists = w.lists[:len(w.lists)-1]
		w.blockBreak()
		return
	case atom.Li:
		w.blockBreak()
		w.text(w.listMarker(), state{})
		w.markerEnd = len(w.buf)
		children(st)
		w.blockBreak()
		return
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		w.blockBreak()
		children(state{flags: st.flags | flagBold, fg: st.fg, bg: st.bg})
		w.blockBreak()
		return
	case atom.P, atom.Div, atom.Tr, atom.Table, atom.Details, atom.Summary,
		atom.Dl, atom.Dt, atom.Dd, atom.Section, atom.Article, atom.Header, atom.Footer:
		w.blockBreak()
		children(st)
		w.blockBreak()
		return
	case atom.Td, atom.Th:
		if !w.pendingSpace {
			w.pendingSpace, w.spaceState = true, state{}
		}
	default:
		if n.Data == "mx-reply" {
			// The reply fallback quotes the replied-to message; the bridge
			// renders replies itself.
			return
		}
	}
	if _, ok := attrOK(n, "data-mx-spoiler"); ok {
		// A spoiler is shown as black on black, which IRC users know.
		st.fg, st.bg = colour{colourMIRC, 1}, colour{colourMIRC, 1}
	}
	children(st)
}

func (w *htmlWriter) listMarker() string {
	if len(w.lists) == 0 {
		return "• "
	}
	l := &w.lists[len(w.lists)-1]
	indent := strings.Repeat("  ", len(w.lists)-1)
	if l.ordered {
		m := indent + strconv.Itoa(l.next) + ". "
		l.next++
		return m
	}
	return indent + "• "
}

// link writes the link text followed by the URL in brackets, unless the text
// is the URL or the link is a Matrix pill (a mention shows as the name).
func (w *htmlWriter) link(n *html.Node, st state, children func(state)) {
	href := strings.TrimSpace(attr(n, "href"))
	if user := pillUser(href); user != "" && w.pill != nil {
		if name, ok := w.pill(user); ok {
			w.text(name, st)
			return
		}
	}
	start := len(w.buf)
	children(st)
	if href == "" || strings.HasPrefix(href, "https://matrix.to/#/") {
		return
	}
	shown := strings.TrimSpace(Strip(string(w.buf[start:])))
	if len(w.buf) == start || shown == "" {
		w.text(href, st)
		return
	}
	if sameURL(shown, href) {
		return
	}
	w.text(" ("+href+")", state{})
}

// pillUser returns the user ID a matrix.to link points to ("" if it is not
// a user link): "https://matrix.to/#/@bob:example.org?via=x" and its
// percent-encoded form give "@bob:example.org".
func pillUser(href string) string {
	rest, ok := strings.CutPrefix(href, "https://matrix.to/#/")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "?")
	if u, err := url.PathUnescape(rest); err == nil {
		rest = u
	}
	if !strings.HasPrefix(rest, "@") || !strings.Contains(rest, ":") || strings.ContainsAny(rest, "/ ") {
		return ""
	}
	return rest
}

func sameURL(text, href string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(s, "mailto:")
		s = strings.TrimPrefix(s, "https://")
		s = strings.TrimPrefix(s, "http://")
		return strings.TrimSuffix(s, "/")
	}
	return text == href || norm(text) == norm(href)
}

func withColours(n *html.Node, st state) state {
	fg := attr(n, "data-mx-color")
	if fg == "" {
		fg = attr(n, "color")
	}
	bg := attr(n, "data-mx-bg-color")
	for decl := range strings.SplitSeq(attr(n, "style"), ";") {
		prop, val, ok := strings.Cut(decl, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(prop)) {
		case "color":
			if fg == "" {
				fg = val
			}
		case "background-color", "background":
			if bg == "" {
				bg = val
			}
		}
	}
	if v, ok := parseCSSColour(fg); ok {
		st.fg = colour{colourMIRC, uint32(nearestMIRC(v))}
	}
	if v, ok := parseCSSColour(bg); ok {
		st.bg = colour{colourMIRC, uint32(nearestMIRC(v))}
	}
	return st
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// blockBreak ends the current line unless nothing has been written yet.
func (w *htmlWriter) blockBreak() {
	if w.markerEnd > 0 && len(w.buf) == w.markerEnd {
		return
	}
	if len(w.buf) > 0 || w.pendingBreaks > 0 {
		w.pendingBreaks = max(w.pendingBreaks, 1)
	}
	w.pendingSpace = false
}

// text writes a text node: outside <pre>, runs of white space collapse into
// one space and white space at the start of a line is dropped.
func (w *htmlWriter) text(s string, st state) {
	for _, r := range s {
		if w.preDepth > 0 {
			if r == '\n' {
				w.pendingBreaks++
				continue
			}
			w.char(r, st)
			continue
		}
		if unicode.IsSpace(r) {
			if !w.pendingSpace {
				w.pendingSpace, w.spaceState = true, st
			}
			continue
		}
		w.char(r, st)
	}
}

func (w *htmlWriter) char(r rune, st state) {
	if w.pendingBreaks > 0 {
		if len(w.buf) > 0 {
			for range w.pendingBreaks {
				w.buf = append(w.buf, '\n')
			}
			w.lineStart = true
		}
		w.pendingBreaks = 0
		w.pendingSpace = false
	}
	if len(w.buf) == 0 {
		w.lineStart = true
		w.pendingSpace = false
	}
	if w.lineStart {
		if w.quoteDepth > 0 {
			if !w.emitted.zero() {
				w.buf = append(w.buf, codeReset)
				w.emitted = state{}
			}
			w.buf = append(w.buf, strings.Repeat(">", w.quoteDepth)...)
			w.buf = append(w.buf, ' ')
		}
		w.lineStart = false
		w.pendingSpace = false
	}
	if w.pendingSpace {
		w.write(" ", w.spaceState)
		w.pendingSpace = false
	}
	w.write(string(r), st)
}

func (w *htmlWriter) write(ch string, st state) {
	w.buf = appendTransition(w.buf, w.emitted, st, ch)
	w.emitted = st
	w.buf = append(w.buf, ch...)
}
