package libotrfile

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
)

// node is an S-expression: a list or an atom (a byte string).
type node struct {
	list   []*node
	atom   []byte
	isList bool
}

// token returns the atom at the head of a list, or "".
func (n *node) head() string {
	if !n.isList || len(n.list) == 0 || n.list[0].isList {
		return ""
	}
	return string(n.list[0].atom)
}

// find returns the first direct child list whose head is name.
func (n *node) find(name string) *node {
	for _, c := range n.list {
		if c.head() == name {
			return c
		}
	}
	return nil
}

// value returns the single atom after the head of (name value).
func (n *node) value() ([]byte, bool) {
	if n == nil || len(n.list) != 2 || n.list[1].isList {
		return nil, false
	}
	return n.list[1].atom, true
}

// parser reads libgcrypt's S-expression formats: the advanced form libotr
// writes (tokens, "quoted strings", #hex#, |base64|) and the canonical
// length-prefixed form (4:name).
type parser struct {
	in    []byte
	pos   int
	nodes int
}

func parseSexp(in []byte) (*node, error) {
	if len(in) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(in))
	}
	p := &parser{in: in}
	p.space()
	if p.pos >= len(p.in) || p.in[p.pos] != '(' {
		return nil, p.errf("expected '('")
	}
	n, err := p.list(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.in) {
		return nil, p.errf("data after the closing parenthesis")
	}
	return n, nil
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrMalformed, p.pos, fmt.Sprintf(format, args...))
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '/' || c == '_' || c == ':' || c == '*' || c == '+' || c == '='
}

func (p *parser) space() {
	for p.pos < len(p.in) && isSpace(p.in[p.pos]) {
		p.pos++
	}
}

// list parses from an opening parenthesis to its match.
func (p *parser) list(depth int) (*node, error) {
	if depth >= maxDepth {
		return nil, fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, maxDepth)
	}
	p.pos++ // '('
	n := &node{isList: true}
	for {
		p.space()
		if p.pos >= len(p.in) {
			return nil, p.errf("missing ')'")
		}
		if p.nodes++; p.nodes > maxNodes {
			return nil, fmt.Errorf("%w: more than %d elements", ErrTooLarge, maxNodes)
		}
		c := p.in[p.pos]
		var child *node
		var err error
		switch {
		case c == ')':
			p.pos++
			return n, nil
		case c == '(':
			child, err = p.list(depth + 1)
		default:
			var a []byte
			a, err = p.atom()
			child = &node{atom: a}
		}
		if err != nil {
			return nil, err
		}
		n.list = append(n.list, child)
	}
}

func (p *parser) atom() ([]byte, error) {
	c := p.in[p.pos]
	switch {
	case c == '"':
		return p.quoted()
	case c == '#':
		return p.delimited('#', func(s []byte) ([]byte, error) { return hex.DecodeString(string(s)) })
	case c == '|':
		return p.delimited('|', func(s []byte) ([]byte, error) { return base64.StdEncoding.DecodeString(string(s)) })
	case '0' <= c && c <= '9':
		return p.verbatim()
	case isTokenChar(c):
		start := p.pos
		for p.pos < len(p.in) && isTokenChar(p.in[p.pos]) {
			p.pos++
		}
		return p.in[start:p.pos:p.pos], nil
	}
	return nil, p.errf("unexpected character %q", c)
}

// delimited reads #hex# or |base64|, which may contain white space.
func (p *parser) delimited(end byte, decode func([]byte) ([]byte, error)) ([]byte, error) {
	p.pos++
	var s []byte
	for ; p.pos < len(p.in) && p.in[p.pos] != end; p.pos++ {
		if !isSpace(p.in[p.pos]) {
			s = append(s, p.in[p.pos])
		}
	}
	if p.pos >= len(p.in) {
		return nil, p.errf("missing closing %q", end)
	}
	p.pos++
	b, err := decode(s)
	if err != nil {
		return nil, p.errf("bad encoding between %q: %v", end, err)
	}
	return b, nil
}

// verbatim reads the canonical form: a decimal length, ':', then the bytes.
func (p *parser) verbatim() ([]byte, error) {
	start := p.pos
	for p.pos < len(p.in) && p.pos-start < 9 && '0' <= p.in[p.pos] && p.in[p.pos] <= '9' {
		p.pos++
	}
	if p.pos >= len(p.in) || p.in[p.pos] != ':' {
		return nil, p.errf("expected ':' after a length")
	}
	n, err := strconv.Atoi(string(p.in[start:p.pos]))
	p.pos++
	if err != nil || n > len(p.in)-p.pos {
		return nil, p.errf("length %s past the end of input", p.in[start:p.pos-1])
	}
	b := p.in[p.pos : p.pos+n : p.pos+n]
	p.pos += n
	return b, nil
}

// quoted reads a "string" with libgcrypt's C-style escapes.
func (p *parser) quoted() ([]byte, error) {
	p.pos++
	var out []byte
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		p.pos++
		switch c {
		case '"':
			return out, nil
		case '\\':
			if p.pos >= len(p.in) {
				return nil, p.errf("unterminated escape")
			}
			e := p.in[p.pos]
			p.pos++
			switch e {
			case 'b':
				out = append(out, '\b')
			case 't':
				out = append(out, '\t')
			case 'v':
				out = append(out, '\v')
			case 'n':
				out = append(out, '\n')
			case 'f':
				out = append(out, '\f')
			case 'r':
				out = append(out, '\r')
			case '"', '\'', '\\':
				out = append(out, e)
			case '\n', '\r':
				// A line continuation; also swallow the other half of CRLF.
				if p.pos < len(p.in) && (p.in[p.pos] == '\n' || p.in[p.pos] == '\r') && p.in[p.pos] != e {
					p.pos++
				}
			case 'x':
				if p.pos+2 > len(p.in) {
					return nil, p.errf("short \\x escape")
				}
				b, err := hex.DecodeString(string(p.in[p.pos : p.pos+2]))
				if err != nil {
					return nil, p.errf("bad \\x escape")
				}
				out = append(out, b[0])
				p.pos += 2
			default:
				if e < '0' || e > '7' || p.pos+2 > len(p.in) {
					return nil, p.errf("bad escape \\%c", e)
				}
				v, err := strconv.ParseUint(string(p.in[p.pos-1:p.pos+2]), 8, 8)
				if err != nil {
					return nil, p.errf("bad octal escape")
				}
				out = append(out, byte(v))
				p.pos += 2
			}
		default:
			out = append(out, c)
		}
	}
	return nil, p.errf("unterminated string")
}
