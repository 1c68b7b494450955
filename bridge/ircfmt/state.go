package ircfmt

import "unicode/utf8"

// IRC formatting control codes.
const (
	codeBold      = '\x02'
	codeColour    = '\x03'
	codeHexColour = '\x04'
	codeReset     = '\x0f'
	codeMono      = '\x11'
	codeReverse   = '\x16'
	codeItalic    = '\x1d'
	codeStrike    = '\x1e'
	codeUnderline = '\x1f'
)

type flags uint8

const (
	flagBold flags = 1 << iota
	flagItalic
	flagUnderline
	flagStrike
	flagMono
	flagReverse
)

// toggles lists the flags in the order their codes are written.
var toggles = [...]struct {
	f    flags
	code byte
}{
	{flagBold, codeBold},
	{flagItalic, codeItalic},
	{flagUnderline, codeUnderline},
	{flagStrike, codeStrike},
	{flagMono, codeMono},
	{flagReverse, codeReverse},
}

type colourKind uint8

const (
	colourNone colourKind = iota
	colourMIRC            // value is a palette index 0-98
	colourHex             // value is 0xRRGGBB
)

type colour struct {
	kind  colourKind
	value uint32
}

// state is the formatting in effect at one point of an IRC line.
type state struct {
	flags  flags
	fg, bg colour
}

func (s state) zero() bool { return s == state{} }

// token is one unit of IRC text: either a formatting code (text == "",
// after holds the state it leads to) or one UTF-8 sequence (or one invalid
// byte) of visible text, formatted with the state in effect.
type token struct {
	text string
	st   state
}

// scanner walks IRC text, tracking the formatting state.
type scanner struct {
	s   string
	i   int
	cur state
}

// next returns the next code or character. ok is false at the end.
func (sc *scanner) next() (t token, ok bool) {
	if sc.i >= len(sc.s) {
		return token{}, false
	}
	c := sc.s[sc.i]
	switch c {
	case codeReset:
		sc.i++
		sc.cur = state{}
		return token{st: sc.cur}, true
	case codeColour:
		sc.i++
		sc.colour()
		return token{st: sc.cur}, true
	case codeHexColour:
		sc.i++
		sc.hexColour()
		return token{st: sc.cur}, true
	}
	for _, tg := range toggles {
		if c == tg.code {
			sc.i++
			sc.cur.flags ^= tg.f
			return token{st: sc.cur}, true
		}
	}
	_, size := utf8.DecodeRuneInString(sc.s[sc.i:])
	t = token{text: sc.s[sc.i : sc.i+size], st: sc.cur}
	sc.i += size
	return t, true
}

// digits reads up to two decimal digits.
func (sc *scanner) digits() (n int, ok bool) {
	for k := 0; k < 2 && sc.i < len(sc.s) && isDigit(sc.s[sc.i]); k++ {
		n = n*10 + int(sc.s[sc.i]-'0')
		sc.i++
		ok = true
	}
	return n, ok
}

// colour parses the parameters of \x03: "NN[,MM]"; without digits it resets
// both colours. 99 means the client's default colour.
func (sc *scanner) colour() {
	fg, ok := sc.digits()
	if !ok {
		sc.cur.fg, sc.cur.bg = colour{}, colour{}
		return
	}
	sc.cur.fg = mircColour(fg)
	if sc.i+1 < len(sc.s) && sc.s[sc.i] == ',' && isDigit(sc.s[sc.i+1]) {
		sc.i++
		bg, _ := sc.digits()
		sc.cur.bg = mircColour(bg)
	}
}

// hexColour parses the parameters of \x04: "RRGGBB[,RRGGBB]"; without them
// it resets both colours.
func (sc *scanner) hexColour() {
	fg, ok := hexAt(sc.s, sc.i)
	if !ok {
		sc.cur.fg, sc.cur.bg = colour{}, colour{}
		return
	}
	sc.i += 6
	sc.cur.fg = colour{colourHex, fg}
	if sc.i < len(sc.s) && sc.s[sc.i] == ',' {
		if bg, ok := hexAt(sc.s, sc.i+1); ok {
			sc.i += 7
			sc.cur.bg = colour{colourHex, bg}
		}
	}
}

func mircColour(n int) colour {
	if n == 99 {
		return colour{}
	}
	return colour{colourMIRC, uint32(n)}
}

func hexAt(s string, i int) (uint32, bool) {
	if i+6 > len(s) {
		return 0, false
	}
	var v uint32
	for _, c := range []byte(s[i : i+6]) {
		d, ok := hexDigit(c)
		if !ok {
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendTransition appends the codes that change the formatting from one
// state to another, just before the text next (which must not be empty).
// Colour codes are followed by a digit or comma only when guarded by a
// double toggle, so that the text is not read as part of the code.
func appendTransition(b []byte, from, to state, next string) []byte {
	if from == to {
		return b
	}
	if to.zero() {
		return append(b, codeReset)
	}
	colourWritten := false
	if from.fg != to.fg || from.bg != to.bg {
		b = appendColour(b, from, to)
		colourWritten = true
	}
	toggled := false
	for _, tg := range toggles {
		if from.flags&tg.f != to.flags&tg.f {
			b = append(b, tg.code)
			toggled = true
		}
	}
	if colourWritten && !toggled && next != "" && (isDigit(next[0]) || next[0] == ',') {
		b = append(b, codeBold, codeBold)
	}
	return b
}

func appendColour(b []byte, from, to state) []byte {
	fg, bg := to.fg, to.bg
	if fg.kind == colourNone && bg.kind == colourNone {
		return append(b, codeColour)
	}
	// A colour code leaves a colour it does not mention unchanged, so one
	// that goes away needs a reset first.
	if (from.fg.kind != colourNone && fg.kind == colourNone) || (from.bg.kind != colourNone && bg.kind == colourNone) {
		b = append(b, codeColour)
	}
	if fg.kind == colourHex && (bg.kind == colourHex || bg.kind == colourNone) {
		b = append(b, codeHexColour)
		b = appendHex(b, fg.value)
		if bg.kind == colourHex {
			b = append(b, ',')
			b = appendHex(b, bg.value)
		}
		return b
	}
	// Mixed or background-only hex colours have no \x04 form: use the
	// nearest palette colour.
	b = append(b, codeColour)
	if fg.kind == colourNone {
		b = append(b, '9', '9')
	} else {
		b = append2(b, paletteIndex(fg))
	}
	if bg.kind != colourNone {
		b = append(b, ',')
		b = append2(b, paletteIndex(bg))
	}
	return b
}

func paletteIndex(c colour) int {
	if c.kind == colourMIRC {
		return int(c.value)
	}
	return nearestMIRC(c.value)
}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

func appendHex(b []byte, v uint32) []byte {
	const digits = "0123456789ABCDEF"
	for shift := 20; shift >= 0; shift -= 4 {
		b = append(b, digits[(v>>uint(shift))&0xf])
	}
	return b
}
