package ircfmt

import (
	"fmt"
	"strings"
)

// IRCToMatrix converts IRC text to a Matrix body and formatted_body. plain is
// the text without formatting codes; formatted is "" when no visible text is
// formatted, so the caller can send a plain message. Line breaks become <br>.
// Reverse video swaps the colours when both are set and is otherwise ignored:
// the client's default colours are unknown.
func IRCToMatrix(text string) (plain, formatted string) {
	plain = Strip(text)
	if len(plain) == len(text) {
		return plain, ""
	}
	var b strings.Builder
	var (
		open      []htmlTag
		openState state
		anyFormat bool
	)
	sc := scanner{s: text}
	for {
		t, ok := sc.next()
		if !ok {
			break
		}
		if t.text == "" {
			continue
		}
		if t.st == openState {
			writeHTMLChar(&b, t.text)
			continue
		}
		openState = t.st
		want := tagsFor(t.st)
		if len(want) > 0 {
			anyFormat = true
		}
		// Keep the longest common prefix of open tags, close the rest, open
		// what is missing: tags always nest properly.
		keep := 0
		for keep < len(open) && keep < len(want) && open[keep] == want[keep] {
			keep++
		}
		for i := len(open) - 1; i >= keep; i-- {
			b.WriteString(open[i].close())
		}
		for _, tg := range want[keep:] {
			b.WriteString(tg.open())
		}
		open = want
		writeHTMLChar(&b, t.text)
	}
	if !anyFormat {
		return plain, ""
	}
	for i := len(open) - 1; i >= 0; i-- {
		b.WriteString(open[i].close())
	}
	return plain, b.String()
}

// htmlTag is one element of the Matrix HTML subset; attrs is already escaped.
type htmlTag struct {
	name  string
	attrs string
}

func (t htmlTag) open() string  { return "<" + t.name + t.attrs + ">" }
func (t htmlTag) close() string { return "</" + t.name + ">" }

// tagsFor lists the elements for a state, outermost first, always in the same
// order so that runs sharing formatting share the open tags.
func tagsFor(st state) []htmlTag {
	var tags []htmlTag
	fg, bg := st.fg, st.bg
	if st.flags&flagReverse != 0 && fg.kind != colourNone && bg.kind != colourNone {
		fg, bg = bg, fg
	}
	if fg.kind != colourNone || bg.kind != colourNone {
		var attrs string
		if fg.kind != colourNone {
			attrs += fmt.Sprintf(` data-mx-color="#%06x"`, rgbOf(fg))
		}
		if bg.kind != colourNone {
			attrs += fmt.Sprintf(` data-mx-bg-color="#%06x"`, rgbOf(bg))
		}
		tags = append(tags, htmlTag{"font", attrs})
	}
	for _, f := range [...]struct {
		f    flags
		name string
	}{
		{flagBold, "strong"},
		{flagItalic, "em"},
		{flagUnderline, "u"},
		{flagStrike, "del"},
		{flagMono, "code"},
	} {
		if st.flags&f.f != 0 {
			tags = append(tags, htmlTag{name: f.name})
		}
	}
	return tags
}

func writeHTMLChar(b *strings.Builder, ch string) {
	switch ch {
	case "\n":
		b.WriteString("<br>")
	case "\r":
	case "<":
		b.WriteString("&lt;")
	case ">":
		b.WriteString("&gt;")
	case "&":
		b.WriteString("&amp;")
	case "\"":
		b.WriteString("&#34;")
	case "'":
		b.WriteString("&#39;")
	default:
		b.WriteString(ch)
	}
}
