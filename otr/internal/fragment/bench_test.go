package fragment

import (
	"testing"
	"time"
)

func BenchmarkSplit100KiB(b *testing.B) {
	msg := encoded(100 * 1024)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Split(msg, 400, 3, 0x100, 0x200); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReassemble100KiB(b *testing.B) {
	msg := encoded(100 * 1024)
	frags, _ := Split(msg, 400, 3, 0x100, 0x200)
	b.SetBytes(int64(len(msg)))
	now := time.Unix(0, 0)
	for b.Loop() {
		r := NewReassembler(Limits{})
		for _, f := range frags {
			r.Add(now, f)
		}
	}
}
