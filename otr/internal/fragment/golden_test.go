package fragment

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testdata/libotr-split.txt holds fragments libotr 4.1.1 wrote for
// encoded(size) at several limits; Split must write the same bytes.
func TestSplitMatchesLibotr(t *testing.T) {
	f, err := os.Open("testdata/libotr-split.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type golden struct {
		version, max, size int
		frags              []string
	}
	var cases []*golden
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "case "):
			var g golden
			fields := strings.Fields(line)
			g.version, _ = strconv.Atoi(fields[1])
			g.max, _ = strconv.Atoi(fields[2])
			g.size, _ = strconv.Atoi(fields[3])
			cases = append(cases, &g)
		default:
			cases[len(cases)-1].frags = append(cases[len(cases)-1].frags, line)
		}
	}
	if len(cases) < 10 {
		t.Fatalf("only %d cases read", len(cases))
	}
	for _, g := range cases {
		got, err := Split(encoded(g.size), g.max, g.version, 0x5a73a599, 0x27e31597)
		if err != nil {
			t.Fatalf("v%d max %d size %d: %v", g.version, g.max, g.size, err)
		}
		if strings.Join(got, "\n") != strings.Join(g.frags, "\n") {
			t.Errorf("v%d max %d size %d: %d fragments differ from libotr's %d", g.version, g.max, g.size, len(got), len(g.frags))
		}
	}
}

// testdata/libotr-join.txt records what libotr's fragment accumulator made
// of sequences of fragment lines (out of order, duplicates, restarts,
// malformed pieces); the Reassembler must agree line by line.
func TestReassemblerMatchesLibotr(t *testing.T) {
	data, err := os.ReadFile("testdata/libotr-join.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(string(data), "\n\n")[1:] {
		r := NewReassembler(Limits{})
		lines := strings.Split(strings.TrimSpace(block), "\n")
		for i := 0; i+1 < len(lines); i += 2 {
			in := strings.TrimPrefix(lines[i], "< ")
			want := strings.TrimPrefix(lines[i+1], "> ")
			msg, done, _ := r.Add(time.Unix(0, 0), in)
			got := "INCOMPLETE"
			if done {
				got = "COMPLETE " + msg
			}
			if got != want {
				t.Errorf("case %q, line %q: %s, libotr %s", block, in, got, want)
			}
			n++
		}
	}
	if n < 30 {
		t.Errorf("only %d lines checked", n)
	}
}
