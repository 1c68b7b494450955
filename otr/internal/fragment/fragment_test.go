package fragment

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// encoded returns a fake encoded message of exactly n bytes.
func encoded(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b strings.Builder
	b.WriteString("?OTR:AAM")
	for i := 0; b.Len() < n-1; i++ {
		b.WriteByte(alphabet[i*7%len(alphabet)])
	}
	b.WriteByte('.')
	return b.String()[:n]
}

func TestSplitFitsUnchanged(t *testing.T) {
	msg := encoded(400)
	for _, max := range []int{0, -1, 400, 401} {
		got, err := Split(msg, max, 3, 0x100, 0x200)
		if err != nil || len(got) != 1 || got[0] != msg {
			t.Errorf("max %d: got %d lines, err %v; want the message unchanged", max, len(got), err)
		}
	}
}

func TestSplitV3Format(t *testing.T) {
	msg := encoded(401)
	got, err := Split(msg, 400, 3, 0x5a73a599, 0x27e31597)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d fragments, want 2", len(got))
	}
	want0 := "?OTR|5a73a599|27e31597,00001,00002," + msg[:363] + ","
	want1 := "?OTR|5a73a599|27e31597,00002,00002," + msg[363:] + ","
	if got[0] != want0 || got[1] != want1 {
		t.Errorf("fragments differ from libotr's format:\n%q\n%q", got[0], got[1])
	}
	if len(got[0]) != 399 {
		t.Errorf("first line is %d bytes, libotr writes max-1 = 399", len(got[0]))
	}
}

func TestSplitV2Format(t *testing.T) {
	msg := encoded(500)
	got, err := Split(msg, 100, 2, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	// piece = 100 - 19 = 81 → ceil(500/81) = 7
	if len(got) != 7 {
		t.Fatalf("got %d fragments, want 7", len(got))
	}
	if !strings.HasPrefix(got[0], "?OTR,00001,00007,?OTR:AAM") || len(got[0]) != 99 {
		t.Errorf("bad v2 fragment %q (%d bytes)", got[0], len(got[0]))
	}
}

// The fragment counts libotr 4.1.1 produces at max 400 (CHECKLIST.md).
func TestSplitCountsMatchLibotr(t *testing.T) {
	for _, c := range []struct{ size, want int }{{338, 1}, {400, 1}, {506, 2}, {702, 2}, {674, 2}, {1706, 5}, {363 * 3, 3}, {363*3 + 1, 4}} {
		got, err := Split(encoded(c.size), 400, 3, 0x100, 0x101)
		if err != nil || len(got) != c.want {
			t.Errorf("%d bytes: %d fragments (err %v), want %d", c.size, len(got), err, c.want)
		}
	}
}

func TestSplitNeverEmptyPiece(t *testing.T) {
	for _, version := range []int{2, 3} {
		for max := 38; max < 120; max++ {
			for size := max + 1; size < 4*max; size++ {
				frags, err := Split(encoded(size), max, version, 0x100, 0x200)
				if err != nil {
					t.Fatal(err)
				}
				var joined strings.Builder
				for _, f := range frags {
					_, piece, err := ParseHeader(f)
					if err != nil {
						t.Fatalf("max %d size %d: %v", max, size, err)
					}
					if len(f) >= max {
						t.Fatalf("max %d size %d: line of %d bytes", max, size, len(f))
					}
					joined.WriteString(piece)
				}
				if joined.String() != encoded(size) {
					t.Fatalf("max %d size %d: pieces do not join to the message", max, size)
				}
			}
		}
	}
}

func TestSplitErrors(t *testing.T) {
	if _, err := Split(encoded(100), 37, 3, 1, 2); !errors.Is(err, ErrMaxTooSmall) {
		t.Errorf("max 37 v3: %v, want ErrMaxTooSmall", err)
	}
	if _, err := Split(encoded(100), 19, 2, 1, 2); !errors.Is(err, ErrMaxTooSmall) {
		t.Errorf("max 19 v2: %v, want ErrMaxTooSmall", err)
	}
	if _, err := Split(encoded(100), 50, 1, 1, 2); !errors.Is(err, ErrVersion) {
		t.Errorf("version 1: %v, want ErrVersion", err)
	}
	if _, err := Split(encoded(65536*2), 39, 3, 1, 2); !errors.Is(err, ErrTooManyFragments) {
		t.Errorf("131072 bytes in 2-byte pieces: %v, want ErrTooManyFragments", err)
	}
	if got, err := Split(encoded(65535*2), 39, 3, 1, 2); err != nil || len(got) != 65535 {
		t.Errorf("65535 pieces: %d, %v; want exactly 65535", len(got), err)
	}
	if _, err := Split("a,b"+encoded(100), 50, 3, 1, 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("comma in message: %v, want ErrMalformed", err)
	}
}

func TestParseHeaderWidths(t *testing.T) {
	for _, c := range []struct {
		line  string
		want  Header
		piece string
	}{
		{"?OTR,1,2,abc,", Header{Version: 2, K: 1, N: 2}, "abc"},
		{"?OTR,00001,00002,abc,", Header{Version: 2, K: 1, N: 2}, "abc"},
		{"?OTR|100|2FF,3,3,x,", Header{Version: 3, Sender: 0x100, Receiver: 0x2ff, K: 3, N: 3}, "x"},
		{"?OTR|0000000000abcdef|0,1,1,x,trailing", Header{Version: 3, Sender: 0xabcdef, K: 1, N: 1}, "x"},
		{"[12:00] <bob> ?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMD,", Header{Version: 3, Sender: 0x5a73a599, Receiver: 0x27e31597, K: 1, N: 3}, "?OTR:AAMD"},
		{"?OTR,65535,65535,z,", Header{Version: 2, K: 65535, N: 65535}, "z"},
	} {
		h, piece, err := ParseHeader(c.line)
		if err != nil || h != c.want || piece != c.piece {
			t.Errorf("%q: %+v %q %v; want %+v %q", c.line, h, piece, err, c.want, c.piece)
		}
	}
}

func TestParseHeaderRejects(t *testing.T) {
	for _, line := range []string{
		"?OTR,1,2,,", "?OTR,1,2,abc", "?OTR,,2,abc,", "?OTR,1,,abc,", "?OTR,65536,65536,a,",
		"?OTR,-1,2,a,", "?OTR,1 ,2,a,", "?OTR|100000000|1,1,1,a,", "?OTR||1,1,1,a,",
		"?OTR|1|1|1,1,a,", "?OTR|g|1,1,1,a,", "?OTR|1", "?OTR,", "hello", "?OTR|1|2,1,1,,",
		"?OTR,99999999999999999999,1,a,",
	} {
		if _, _, err := ParseHeader(line); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", line, err)
		}
	}
}

func feed(t *testing.T, r *Reassembler, now time.Time, lines []string) (string, error) {
	t.Helper()
	for i, l := range lines {
		msg, done, err := r.Add(now, l)
		if err != nil {
			return "", err
		}
		if done != (i == len(lines)-1) {
			t.Fatalf("line %d of %d: done = %v", i+1, len(lines), done)
		}
		if done {
			return msg, nil
		}
	}
	return "", nil
}

func TestRoundTrip100KiB(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, version := range []int{2, 3} {
		msg := encoded(100*1024 + 17)
		frags, err := Split(msg, 400, version, 0x1234, 0x5678)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReassembler(Limits{OwnInstance: 0x5678})
		got, err := feed(t, r, now, frags)
		if err != nil || got != msg {
			t.Fatalf("v%d: round trip failed: %v", version, err)
		}
		if r.Pending() != 0 || r.total != 0 {
			t.Errorf("v%d: state left behind: %d pending, %d bytes", version, r.Pending(), r.total)
		}
	}
}

func TestPlainLinePassesThrough(t *testing.T) {
	r := NewReassembler(Limits{})
	for _, line := range []string{"hello", "", "?OTRv23?", "?OTR:AAMDabc=.", "see ?OTR:xyz"} {
		msg, done, err := r.Add(time.Now(), line)
		if err != nil || !done || msg != line {
			t.Errorf("%q: %q %v %v; want passed through", line, msg, done, err)
		}
	}
}

func TestOutOfOrderDiscards(t *testing.T) {
	now := time.Now()
	frags, _ := Split(encoded(1000), 200, 3, 0x100, 0x200)
	r := NewReassembler(Limits{})
	r.Add(now, frags[0])
	if _, _, err := r.Add(now, frags[2]); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("gap: %v, want ErrOutOfOrder", err)
	}
	// The stored start was discarded like libotr does, so piece 2 no
	// longer continues anything.
	if _, _, err := r.Add(now, frags[1]); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("after gap: %v, want ErrOutOfOrder", err)
	}
	// Duplicates reset too.
	r.Add(now, frags[0])
	r.Add(now, frags[1])
	if _, _, err := r.Add(now, frags[1]); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("duplicate: %v, want ErrOutOfOrder", err)
	}
	// A different n resets.
	r.Add(now, frags[0])
	if _, _, err := r.Add(now, "?OTR|100|200,2,99,x,"); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("other n: %v, want ErrOutOfOrder", err)
	}
	if r.Pending() != 0 {
		t.Errorf("%d pending after resets, want 0", r.Pending())
	}
}

func TestRestartWithFirstPiece(t *testing.T) {
	now := time.Now()
	old, _ := Split(encoded(1000), 200, 3, 0x100, 0x200)
	msg := encoded(900)
	frags, _ := Split(msg, 200, 3, 0x100, 0x200)
	r := NewReassembler(Limits{})
	r.Add(now, old[0])
	r.Add(now, old[1])
	got, err := feed(t, r, now, frags)
	if err != nil || got != msg {
		t.Fatalf("restart with k=1 did not replace the old message: %v", err)
	}
}

func TestBadIndex(t *testing.T) {
	r := NewReassembler(Limits{})
	for _, line := range []string{"?OTR,0,2,a,", "?OTR,1,0,a,", "?OTR,3,2,a,", "?OTR|100|0,0,0,a,"} {
		if _, _, err := r.Add(time.Now(), line); !errors.Is(err, ErrBadIndex) {
			t.Errorf("%q: %v, want ErrBadIndex", line, err)
		}
	}
}

func TestInterleavedSenders(t *testing.T) {
	now := time.Now()
	a, b := encoded(800), encoded(700)+"x"
	fa, _ := Split(a, 150, 3, 0x100, 0x300)
	fb, _ := Split(b[:len(b)-1], 150, 3, 0x200, 0x300)
	r := NewReassembler(Limits{})
	var got []string
	for i := 0; i < max(len(fa), len(fb)); i++ {
		for _, fs := range [][]string{fa, fb} {
			if i < len(fs) {
				msg, done, err := r.Add(now, fs[i])
				if err != nil {
					t.Fatal(err)
				}
				if done {
					got = append(got, msg)
				}
			}
		}
	}
	if len(got) != 2 || got[1] != a || got[0] != b[:len(b)-1] {
		t.Errorf("interleaved senders: got %d messages", len(got))
	}
}

func TestNotForUs(t *testing.T) {
	r := NewReassembler(Limits{OwnInstance: 0x300})
	if _, _, err := r.Add(time.Now(), "?OTR|100|301,1,2,abc,"); !errors.Is(err, ErrNotForUs) {
		t.Errorf("%v, want ErrNotForUs", err)
	}
	// Receiver 0 (unknown yet) is accepted.
	if _, _, err := r.Add(time.Now(), "?OTR|100|0,1,2,abc,"); err != nil {
		t.Errorf("receiver 0: %v", err)
	}
}

func TestMessageTooLarge(t *testing.T) {
	now := time.Now()
	frags, _ := Split(encoded(5000), 400, 3, 0x100, 0x200)
	r := NewReassembler(Limits{MaxBytes: 4000})
	_, err := feed(t, r, now, frags)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("%v, want ErrLimit", err)
	}
	if r.Pending() != 0 || r.total != 0 || r.budget.Used() != 0 {
		t.Errorf("oversized message kept: %d pending, %d bytes", r.Pending(), r.total)
	}
	if r.TakeDropped() != 0 {
		t.Error("a refused message counted as dropped besides its error")
	}
}

func TestByteLimitEvictsOldest(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const piece = 400 + partialOverhead
	r := NewReassembler(Limits{MaxBytes: 2*piece + 100})
	r.Add(t0, "?OTR|100|0,1,3,"+strings.Repeat("a", 400)+",")
	r.Add(t0.Add(time.Second), "?OTR|101|0,1,3,"+strings.Repeat("b", 400)+",")
	// Its second piece makes 0x100 the latest to grow, but it began first:
	// when a third message does not fit, 0x100 goes.
	r.Add(t0.Add(2*time.Second), "?OTR|100|0,2,3,"+strings.Repeat("a", 10)+",")
	if _, _, err := r.Add(t0.Add(3*time.Second), "?OTR|102|0,1,3,"+strings.Repeat("c", 400)+","); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.pending[0x100]; ok || r.Pending() != 2 || r.total != 2*piece {
		t.Errorf("after eviction: %d pending, %d bytes, 0x100 kept = %v", r.Pending(), r.total, ok)
	}
	if n := r.TakeDropped(); n != 1 {
		t.Errorf("%d messages reported dropped, want 1", n)
	}
	// One message alone larger than the limit is refused.
	if _, _, err := r.Add(t0, "?OTR|103|0,1,3,"+strings.Repeat("d", 2*piece)+","); !errors.Is(err, ErrLimit) {
		t.Errorf("%v, want ErrLimit", err)
	}
	if r.total > 2*piece+100 {
		t.Errorf("holding %d bytes over the %d limit", r.total, 2*piece+100)
	}
}

func TestPendingLimit(t *testing.T) {
	now := time.Now()
	r := NewReassembler(Limits{MaxPending: 3})
	for tag := 0x100; tag < 0x110; tag++ {
		if _, _, err := r.Add(now, fmt.Sprintf("?OTR|%x|0,1,2,x,", tag)); err != nil {
			t.Fatal(err)
		}
		if r.Pending() > 3 {
			t.Fatalf("%d pending, limit 3", r.Pending())
		}
	}
	// The newest survive.
	if msg, done, err := r.Add(now, "?OTR|10f|0,2,2,y,"); !done || err != nil || msg != "xy" {
		t.Errorf("newest sender lost: %q %v %v", msg, done, err)
	}
}

func TestExpiry(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewReassembler(Limits{Expiry: time.Minute})
	r.Add(t0, "?OTR,1,3,a,")
	if _, _, err := r.Add(t0.Add(50*time.Second), "?OTR,2,3,b,"); err != nil {
		t.Fatal(err)
	}
	// The deadline counts from the first piece: a sender dripping pieces
	// cannot keep a message alive.
	if _, _, err := r.Add(t0.Add(61*time.Second), "?OTR,3,3,c,"); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("piece after the deadline: %v, want ErrOutOfOrder", err)
	}
	if n := r.TakeDropped(); n != 1 {
		t.Errorf("%d expired messages reported, want 1", n)
	}
	if msg, err := feed(t, r, t0.Add(70*time.Second), []string{"?OTR,1,2,a,", "?OTR,2,2,b,"}); err != nil || msg != "ab" {
		t.Fatalf("message within the deadline: %q %v", msg, err)
	}
	r.Add(t0, "?OTR,1,2,a,")
	r.Expire(t0.Add(61 * time.Second))
	if r.Pending() != 0 || r.total != 0 {
		t.Errorf("expired message still pending")
	}
	if _, _, err := r.Add(t0.Add(62*time.Second), "?OTR,2,2,b,"); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("piece after expiry: %v, want ErrOutOfOrder", err)
	}
}

func TestNestedFragmentRejected(t *testing.T) {
	r := NewReassembler(Limits{})
	if _, _, err := r.Add(time.Now(), "?OTR,1,2,?OT,"); err != nil {
		t.Fatal(err)
	}
	// The two pieces join to "?OTR|x", itself a fragment marker.
	if _, _, err := r.Add(time.Now(), "?OTR,2,2,R|x,"); !errors.Is(err, ErrNested) {
		t.Errorf("%v, want ErrNested", err)
	}
}
