package otr_test

// Replays wire transcripts recorded against libotr 4.1.1 (see
// interop_record_test.go; -update-transcripts re-records them first) with no C toolchain: our conversation gets the
// same configuration and random seed as when it was recorded, is fed
// libotr's recorded lines, and must produce exactly the recorded wire
// lines, messages and events — the way crypto/tls replays OpenSSL.
//
// Transcript format (otr/testdata/*.transcript), one item per line:
//
//	# comment
//	config key=<file> instag=<hex> policy=0x<hex> fragment=<n> seed=<hex>
//	advance <duration>        our clock moves forward
//	recv <line>               a line libotr sent, fed to Receive
//	send <hex> | start | end | smp <hex question> <hex secret> |
//	answer <hex secret> | abort | symkey <use> <hex data> | tick
//	                          a call on our side
//	wire <line>               our output, in order (lines escaped: \\ \n \r)
//	msg enc|plain <hex>       a message we delivered
//	event <type name>         an event we reported
//	symkey <hex>              the key ExtraSymmetricKey returned
//	error                     the call returned an error

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

func parseConfig(line string) (ourConfig, error) {
	var c ourConfig
	fields := strings.Fields(strings.TrimPrefix(line, "config "))
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return c, fmt.Errorf("bad config field %q", f)
		}
		switch k {
		case "key":
			c.KeyFile = v
		case "instag":
			n, err := strconv.ParseUint(v, 16, 32)
			if err != nil {
				return c, fmt.Errorf("instag: %w", err)
			}
			c.InstanceTag = otr.InstanceTag(n)
		case "policy":
			n, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				return c, fmt.Errorf("policy: %w", err)
			}
			c.Policy = otr.Policy(n)
		case "fragment":
			n, err := strconv.Atoi(v)
			if err != nil {
				return c, fmt.Errorf("fragment: %w", err)
			}
			c.FragmentSize = n
		case "seed":
			b, err := hex.DecodeString(v)
			if err != nil {
				return c, fmt.Errorf("seed: %w", err)
			}
			c.Seed = string(b)
		default:
			return c, fmt.Errorf("unknown config field %q", k)
		}
	}
	return c, nil
}

// isOp reports whether a transcript line is an input (a call or the clock)
// rather than a recorded output.
func isOp(line string) bool {
	verb, _, _ := strings.Cut(line, " ")
	switch verb {
	case "advance", "recv", "send", "start", "end", "smp", "answer", "abort", "symkey", "tick":
		// "symkey <hex>" output has one argument, the op has two.
		if verb == "symkey" {
			return strings.Count(line, " ") == 2
		}
		return true
	}
	return false
}

func readTranscript(path string) (cfg ourConfig, items []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return cfg, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	haveConfig := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "config ") {
			if cfg, err = parseConfig(line); err != nil {
				return cfg, nil, err
			}
			haveConfig = true
			continue
		}
		items = append(items, line)
	}
	if !haveConfig {
		return cfg, nil, fmt.Errorf("no config line")
	}
	return cfg, items, sc.Err()
}

func TestReplayTranscripts(t *testing.T) {
	if *updateTranscripts {
		recordTranscripts(t)
	}
	files, err := filepath.Glob(otrtest.Testdata("*.transcript"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no transcripts in otr/testdata (record them with -update-transcripts)")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".transcript"), func(t *testing.T) {
			cfg, items, err := readTranscript(path)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			replay(t, cfg, items)
		})
	}
}

func replay(t *testing.T, cfg ourConfig, items []string) {
	conv := cfg.newConversation(t)
	now := t0
	ops := 0
	for i := 0; i < len(items); {
		op := items[i]
		i++
		if !isOp(op) {
			t.Fatalf("item %d: output %.80q without a preceding call", i, op)
		}
		ops++
		if d, ok := strings.CutPrefix(op, "advance "); ok {
			dd, err := time.ParseDuration(d)
			if err != nil {
				t.Fatalf("item %d: %v", i, err)
			}
			now = now.Add(dd)
			continue
		}
		var want []string
		for i < len(items) && !isOp(items[i]) {
			want = append(want, items[i])
			i++
		}
		out, extra, err := applyOp(conv, now, op)
		got := outputLines(out, extra, err)
		if d := firstDiff(got, want); d != "" {
			t.Fatalf("call %d (%.60q): %s\n(if our wire output changed on purpose, re-record: go test ./otr -run TestReplayTranscripts -update-transcripts)", ops, op, d)
		}
	}
}

func firstDiff(got, want []string) string {
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf("missing output %d: want %.100q", i, want[i])
		case i >= len(want):
			return fmt.Sprintf("extra output %d: %.100q", i, got[i])
		case got[i] != want[i]:
			at := 0
			for at < len(got[i]) && at < len(want[i]) && got[i][at] == want[i][at] {
				at++
			}
			from := max(0, at-40)
			return fmt.Sprintf("output %d (%d vs %d bytes) differs at byte %d:\n got  …%.120q\n want …%.120q",
				i, len(got[i]), len(want[i]), at, got[i][from:], want[i][from:])
		}
	}
	return ""
}
