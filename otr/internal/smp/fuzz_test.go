package smp

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
)

var (
	fuzzOnce sync.Once
	fuzzTr   *transcript
)

// FuzzReceive feeds arbitrary SMP TLVs to a State at each step of an
// exchange. It must never panic, and a rejected message must reset the
// state and answer with an abort.
func FuzzReceive(f *testing.F) {
	fuzzOnce.Do(func() { fuzzTr = run(f, "fuzz", "fuzz") })
	tr := fuzzTr
	f.Add(uint8(0), uint16(TypeSMP1), tr.smp1)
	f.Add(uint8(0), uint16(TypeSMP1Q), JoinSMP1Q("question?", tr.smp1))
	f.Add(uint8(1), uint16(TypeSMP2), tr.smp2)
	f.Add(uint8(2), uint16(TypeSMP3), tr.smp3)
	f.Add(uint8(3), uint16(TypeSMP4), tr.smp4)
	f.Add(uint8(2), uint16(TypeAbort), []byte{})
	f.Add(uint8(1), uint16(TypeSMP2), []byte{0, 0, 0, 11, 0, 0, 0, 1, 2})
	if b, err := os.ReadFile("testdata/libotr-smp1.hex"); err == nil {
		if smp1, err := hex.DecodeString(strings.TrimSpace(string(b))); err == nil {
			f.Add(uint8(0), uint16(TypeSMP1), smp1)
		}
	}
	f.Fuzz(func(t *testing.T, at uint8, typ uint16, payload []byte) {
		states := []State{tr.before1, tr.before2, tr.before3, tr.before4}
		s := states[int(at)%len(states)]
		reply, res, err := s.Receive(typ, payload, rand.Reader)
		if err != nil {
			if reply == nil || reply.Type != TypeAbort || s.InExchange() || (res != Cheated && res != Error) {
				t.Fatalf("error %v with reply %v, result %v, in exchange %v", err, reply, res, s.InExchange())
			}
			return
		}
		if res == Cheated || res == Error {
			t.Fatalf("result %v without an error", res)
		}
	})
}
