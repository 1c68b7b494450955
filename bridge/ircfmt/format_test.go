package ircfmt

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHTMLToIRC(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello world", "hello world"},
		{"entities", "a &lt;b&gt; &amp; &quot;c&quot; &#x1F600;", "a <b> & \"c\" 😀"},
		{"bold", "<b>bold</b> and <strong>strong</strong>", "\x02bold\x0f and \x02strong\x0f"},
		{"italic underline strike", "<i>i</i><em>e</em> <u>u</u> <s>s</s><del>d</del><strike>k</strike>",
			"\x1die\x0f \x1fu\x0f \x1esdk\x0f"},
		{"nested", "<b>a<i>b</i>c</b>", "\x02a\x1db\x1dc\x0f"},
		{"inline code", "run <code>ls -l</code> now", "run \x11ls -l\x0f now"},
		{"pre block", "<pre><code>line 1\n  line 2\n</code></pre>", "\x11line 1\n  line 2\x0f"},
		{"colour data-mx", `<font data-mx-color="#ff0000">red</font> x`, "\x0304red\x0f x"},
		{"colour with bg", `<span data-mx-color="#000000" data-mx-bg-color="#ffff00">x</span>`, "\x0301,08x\x0f"},
		{"colour name", `<font color="blue">b</font>`, "\x0312b\x0f"},
		{"colour short hex nearest", `<font color="#0f0">g</font>`, "\x0309g\x0f"},
		{"colour then digit", `<font color="red">1</font>2`, "\x0304\x02\x021\x0f2"},
		{"style colour", `<span style="color: rgb(255, 0, 255)">p</span>`, "\x0313p\x0f"},
		{"link different", `<a href="https://example.org/x">site</a>`, "site (https://example.org/x)"},
		{"link same", `<a href="https://example.org/">https://example.org</a>`, "https://example.org"},
		{"link empty text", `<a href="https://example.org/"></a>`, "https://example.org/"},
		{"pill", `hi <a href="https://matrix.to/#/@bob:example.org">Bob</a>`, "hi Bob"},
		{"br", "a<br>b<br/>c", "a\nb\nc"},
		{"paragraphs", "<p>one</p>\n<p>two</p>", "one\ntwo"},
		{"list", "<ul><li>a</li><li>b</li></ul>", "• a\n• b"},
		{"ordered list", `<ol start="3"><li>a</li><li><p>b</p></li></ol>`, "3. a\n4. b"},
		{"blockquote", "<blockquote><p>q1</p><p>q2</p></blockquote><p>reply</p>", "> q1\n> q2\nreply"},
		{"blockquote with bold", "<blockquote><b>x</b><br>y</blockquote>z", "> \x02x\n\x0f> y\nz"},
		{"mx-reply stripped", "<mx-reply><blockquote>old</blockquote></mx-reply>new", "new"},
		{"whitespace collapse", "  a \n\t b  ", "a b"},
		{"heading", "<h1>Title</h1>text", "\x02Title\n\x0ftext"},
		{"script dropped", "<script>alert(1)</script>ok", "ok"},
		{"img alt", `<img src="mxc://x/y" alt="cat">`, "cat"},
		{"spoiler", `<span data-mx-spoiler>secret</span>`, "\x0301,01secret\x0f"},
		{"unclosed tags", "<b>a<i>b", "\x02a\x1db\x0f"},
		{"hr", "a<hr>b", "a\n---\nb"},
		{"absurd nesting keeps text", strings.Repeat("<span>", 600) + "x<br>y<script>z</script>", "x\ny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTMLToIRC(tt.in); got != tt.want {
				t.Errorf("HTMLToIRC(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestIRCToMatrix(t *testing.T) {
	tests := []struct {
		name, in, plain, html string
	}{
		{"plain", "hello <world> & co", "hello <world> & co", ""},
		{"bold", "a \x02b\x02 c", "a b c", "a <strong>b</strong> c"},
		{"reset", "\x02\x1dbi\x0f plain", "bi plain", "<strong><em>bi</em></strong> plain"},
		{"nesting stays valid", "\x02b\x1dbi\x02i", "bbii", "<strong>b<em>bi</em></strong><em>i</em>"},
		{"escaping", "\x02<script>&", "<script>&", "<strong>&lt;script&gt;&amp;</strong>"},
		{"colour fg", "\x034red\x03 no", "red no", `<font data-mx-color="#ff0000">red</font> no`},
		{"colour fg bg", "\x0308,02x", "x", `<font data-mx-color="#ffff00" data-mx-bg-color="#00007f">x</font>`},
		{"colour digits", "\x03041", "1", `<font data-mx-color="#ff0000">1</font>`},
		{"colour comma text", "\x034,x", ",x", `<font data-mx-color="#ff0000">,x</font>`},
		{"colour 99 default", "\x0399,04x", "x", `<font data-mx-bg-color="#ff0000">x</font>`},
		{"extended colour", "\x0352x", "x", `<font data-mx-color="#ff0000">x</font>`},
		{"hex colour", "\x04FF8800,000000x\x04y", "xy", `<font data-mx-color="#ff8800" data-mx-bg-color="#000000">x</font>y`},
		{"bad hex resets", "\x04FF88zz", "FF88zz", ""},
		{"underline strike mono", "\x1fu\x1f\x1es\x1e\x11m", "usm", "<u>u</u><del>s</del><code>m</code>"},
		{"reverse swaps", "\x034,12\x16x", "x", `<font data-mx-color="#0000fc" data-mx-bg-color="#ff0000">x</font>`},
		{"codes without text", "\x02\x02plain\x0f", "plain", ""},
		{"newline", "\x02a\nb", "a\nb", "<strong>a<br>b</strong>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, html := IRCToMatrix(tt.in)
			if plain != tt.plain || html != tt.html {
				t.Errorf("IRCToMatrix(%q) = %q, %q; want %q, %q", tt.in, plain, html, tt.plain, tt.html)
			}
		})
	}
}

func TestStrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain \x01ACTION\x01", "plain \x01ACTION\x01"},
		{"\x02b\x1di\x1fu\x1es\x11m\x16r\x0fo", "biusmro"},
		{"\x0304,12x\x03y\x0312z", "xyz"},
		{"\x03,5", ",5"},
		{"\x031,2,3", ",3"},
		{"\x04ABCDEF,012345x\x04y", "xy"},
		{"\x04ABCDEF,01x", ",01x"},
		{"trailing \x03", "trailing "},
	}
	for _, tt := range tests {
		if got := Strip(tt.in); got != tt.want {
			t.Errorf("Strip(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		budget int
		want   []string
	}{
		{"fits", "hello world", 20, []string{"hello world"}},
		{"empty", "", 20, nil},
		{"only codes", "\x02\x02", 20, nil},
		{"word boundary", "hello big world", 10, []string{"hello big", "world"}},
		{"spaces at cut dropped", "aaaa    bbbb", 6, []string{"aaaa", "bbbb"}},
		{"long word hard split", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"long word after text", "ab cdefghij", 5, []string{"ab cd", "efghi", "j"}},
		{"newlines always split", "a\nb\r\nc\rd", 100, []string{"a", "b", "c", "d"}},
		{"empty lines dropped", "a\n\n\nb", 100, []string{"a", "b"}},
		{"utf8 not split", "ééé", 5, []string{"éé", "é"}},
		{"emoji hard split", "😀😀", 5, []string{"😀", "😀"}},
		{"bold carried", "\x02aaa bbb\x02 c", 5, []string{"\x02aaa", "\x02bbb", "c"}},
		{"colour carried", "\x0304,01red words here", 12, []string{"\x0304,01red", "\x0304,01words", "\x0304,01here"}},
		{"carried across newline", "\x02a\nb", 100, []string{"\x02a", "\x02b"}},
		{"colour carried before digit", "\x0304xx 1", 6, []string{"\x0304xx", "\x0304\x02\x021"}},
		{"budget too small for codes", "\x0304,01ab", 4, []string{"a", "b"}},
		{"tiny budget raised", "ab", 1, []string{"ab"}},
		{"blank lines dropped", "a\n   \n\x02 \x02\nb", 100, []string{"a", "b"}},
		{"blank text", "  ", 100, nil},
		{"NUL dropped", "a\x00b", 100, []string{"ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.in, tt.budget)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("Split(%q, %d) = %q, want %q", tt.in, tt.budget, got, tt.want)
			}
			checkSplit(t, tt.in, tt.budget, got)
		})
	}
}

// typicalBudget is what fits in one PRIVMSG from alice!~alice@host.example.org
// to bob.
const typicalBudget = 512 - len(":alice!~alice@host.example.org PRIVMSG bob :\r\n")

func TestSplitLongMessage(t *testing.T) {
	words := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing élit — 日本語 ", 60)
	budget := typicalBudget
	pieces := Split(words, budget)
	if len(pieces) < 2 {
		t.Fatalf("expected several pieces, got %d", len(pieces))
	}
	checkSplit(t, words, budget, pieces)
	if got, want := strings.TrimSpace(strings.Join(pieces, " ")), strings.TrimSpace(words); got != want {
		t.Errorf("pieces joined with spaces differ from the input:\n%q\n%q", got, want)
	}
}

// checkSplit asserts the properties every Split result must have.
func checkSplit(t *testing.T, in string, budget int, pieces []string) {
	t.Helper()
	budget = max(budget, minBudget)
	for _, p := range pieces {
		if len(p) > budget {
			t.Errorf("piece %q is %d bytes, budget %d", p, len(p), budget)
		}
		if strings.Trim(Strip(p), " ") == "" {
			t.Errorf("piece %q has no visible text", p)
		}
		if strings.ContainsAny(p, "\r\n\x00") {
			t.Errorf("piece %q contains a line break", p)
		}
		if utf8.ValidString(in) && !utf8.ValidString(p) {
			t.Errorf("piece %q is not valid UTF-8", p)
		}
	}
	squash := func(s string) string {
		return strings.NewReplacer(" ", "", "\n", "", "\r", "", "\x00", "").Replace(Strip(s))
	}
	if got, want := squash(strings.Join(pieces, "")), squash(in); got != want {
		t.Errorf("text changed by Split: got %q, want %q", got, want)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("hello \x02bold\x02 world\nline two \x0304,12colour", 10)
	f.Add("ééé 😀😀 \x04FF0000,00FF00x", 5)
	f.Add("\x031,2,3 \x03,5", 4)
	f.Fuzz(func(t *testing.T, in string, budget int) {
		if budget > 1<<16 || budget < -1<<16 {
			return
		}
		checkSplit(t, in, budget, Split(in, budget))
	})
}

func FuzzHTMLToIRC(f *testing.F) {
	f.Add(`<b>a<i>b</i></b><font data-mx-color="#ff0000">1</font><a href="x">y</a><ol><li>z</li></ol>`)
	f.Add("<blockquote><pre>a\n b</pre></blockquote><mx-reply>x</mx-reply>&amp;")
	f.Fuzz(func(t *testing.T, in string) {
		out := HTMLToIRC(in)
		if strings.HasSuffix(out, "\n") {
			t.Errorf("output ends in a line break: %q", out)
		}
		plain, formatted := IRCToMatrix(out)
		if plain != Strip(out) {
			t.Errorf("IRCToMatrix plain %q != Strip %q", plain, Strip(out))
		}
		checkOwnMarkup(t, formatted)
	})
}

// ownTag matches any tag; checkOwnMarkup asserts IRCToMatrix wrote only the
// elements it knows, whatever the input.
var ownTag = regexp.MustCompile(`<(/?)([^ >]*)([^>]*)>`)

func checkOwnMarkup(t *testing.T, formatted string) {
	t.Helper()
	for _, m := range ownTag.FindAllStringSubmatch(formatted, -1) {
		switch m[2] {
		case "strong", "em", "u", "del", "code", "br":
			if m[3] != "" {
				t.Errorf("unexpected attributes in %q", m[0])
			}
		case "font":
			if !regexp.MustCompile(`^( data-mx-(bg-)?color="#[0-9a-f]{6}"){0,2}$`).MatchString(m[3]) {
				t.Errorf("unexpected attributes in %q", m[0])
			}
		default:
			t.Errorf("unexpected element %q in %q", m[0], formatted)
		}
	}
	if strings.Count(formatted, "<") != strings.Count(formatted, ">") {
		t.Errorf("stray angle bracket in %q", formatted)
	}
}

func FuzzIRCToMatrix(f *testing.F) {
	f.Add("\x02b\x1di\x0304,12c\x04ABCDEF,000000h\x16r\x0f<&>")
	f.Fuzz(func(t *testing.T, in string) {
		plain, html := IRCToMatrix(in)
		if plain != Strip(in) {
			t.Errorf("plain %q != Strip %q", plain, Strip(in))
		}
		checkOwnMarkup(t, html)
	})
}
