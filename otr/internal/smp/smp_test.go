package smp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/otr/internal/group"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
)

func secretOf(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// transcript holds the payloads of one exchange and the states after each
// step, so that tests can replay any message against a state expecting it.
type transcript struct {
	smp1, smp2, smp3, smp4 []byte
	// Receivers just before they process the message of the same number.
	before1, before2, before3, before4 State
	resA, resB                         Result
}

func run(t testing.TB, secretA, secretB string) *transcript {
	t.Helper()
	var alice, bob State
	tr := &transcript{}
	var err error
	if tr.smp1, err = alice.Start(secretOf(secretA), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tr.before1 = bob
	reply, res, err := bob.Receive(TypeSMP1, tr.smp1, rand.Reader)
	if err != nil || reply != nil || res != NeedSecret {
		t.Fatalf("SMP1: %v %v %v", reply, res, err)
	}
	if !bob.Waiting() {
		t.Fatal("responder not waiting for the secret")
	}
	if tr.smp2, err = bob.Respond(secretOf(secretB), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tr.before2 = alice
	reply, res, err = alice.Receive(TypeSMP2, tr.smp2, rand.Reader)
	if err != nil || res != InProgress || reply == nil || reply.Type != TypeSMP3 {
		t.Fatalf("SMP2: %v %v %v", reply, res, err)
	}
	tr.smp3 = reply.Value
	tr.before3 = bob
	reply, tr.resB, err = bob.Receive(TypeSMP3, tr.smp3, rand.Reader)
	if err != nil || reply == nil || reply.Type != TypeSMP4 {
		t.Fatalf("SMP3: %v %v %v", reply, tr.resB, err)
	}
	tr.smp4 = reply.Value
	tr.before4 = alice
	reply, tr.resA, err = alice.Receive(TypeSMP4, tr.smp4, rand.Reader)
	if err != nil || reply != nil {
		t.Fatalf("SMP4: %v %v %v", reply, tr.resA, err)
	}
	if alice.InExchange() || bob.InExchange() {
		t.Error("states not reset after the exchange")
	}
	return tr
}

func TestSameSecretSucceeds(t *testing.T) {
	tr := run(t, "correct horse", "correct horse")
	if tr.resA != Succeeded || tr.resB != Succeeded {
		t.Errorf("same secret: initiator %v, responder %v; want succeeded both", tr.resA, tr.resB)
	}
	// Message sizes: INT count then the MPIs, each at most 4+192 bytes.
	for i, c := range []struct {
		p []byte
		n int
	}{{tr.smp1, 6}, {tr.smp2, 11}, {tr.smp3, 8}, {tr.smp4, 3}} {
		if got := int(wire.NewReader(c.p).Int()); got != c.n {
			t.Errorf("SMP%d has %d values, want %d", i+1, got, c.n)
		}
	}
}

func TestDifferentSecretFails(t *testing.T) {
	tr := run(t, "correct horse", "battery staple")
	if tr.resA != Failed || tr.resB != Failed {
		t.Errorf("different secrets: initiator %v, responder %v; want failed both", tr.resA, tr.resB)
	}
}

func TestQuestion(t *testing.T) {
	var alice, bob State
	smp1, err := alice.Start(secretOf("blue"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	value := JoinSMP1Q("Favourite colour?", smp1)
	q, rest, err := SplitSMP1Q(value)
	if err != nil || q != "Favourite colour?" || !bytes.Equal(rest, smp1) {
		t.Fatalf("SplitSMP1Q: %q %v", q, err)
	}
	if _, res, err := bob.Receive(TypeSMP1Q, value, rand.Reader); res != NeedSecret || err != nil {
		t.Fatalf("SMP1Q: %v %v", res, err)
	}
	smp2, err := bob.Respond(secretOf("blue"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r, _, _ := alice.Receive(TypeSMP2, smp2, rand.Reader)
	r, resB, _ := bob.Receive(r.Type, r.Value, rand.Reader)
	_, resA, _ := alice.Receive(r.Type, r.Value, rand.Reader)
	if resA != Succeeded || resB != Succeeded {
		t.Errorf("with question: %v %v", resA, resB)
	}
	if _, _, err := SplitSMP1Q([]byte("no nul")); !errors.Is(err, ErrMalformed) {
		t.Errorf("SMP1Q without NUL: %v", err)
	}
}

func TestAbort(t *testing.T) {
	var alice, bob State
	smp1, _ := alice.Start(secretOf("x"), rand.Reader)
	bob.Receive(TypeSMP1, smp1, rand.Reader)
	bob.Abort()
	if bob.InExchange() {
		t.Error("Abort did not reset")
	}
	reply, res, err := alice.Receive(TypeAbort, nil, rand.Reader)
	if reply != nil || res != Aborted || err != nil || alice.InExchange() {
		t.Errorf("abort received: %v %v %v, in exchange %v", reply, res, err, alice.InExchange())
	}
	// After an abort the old SMP2 is unexpected.
	if _, err := bob.Respond(secretOf("x"), rand.Reader); !errors.Is(err, ErrNotAsked) {
		t.Errorf("Respond after abort: %v", err)
	}
}

func TestUnexpectedMessages(t *testing.T) {
	tr := run(t, "a", "a")
	check := func(name string, s State, typ uint16, payload []byte) {
		t.Helper()
		reply, res, err := s.Receive(typ, payload, rand.Reader)
		if !errors.Is(err, ErrUnexpected) || res != Error || reply == nil || reply.Type != TypeAbort || len(reply.Value) != 0 || s.InExchange() {
			t.Errorf("%s: %v %v %v", name, reply, res, err)
		}
	}
	check("SMP2 with no exchange", State{}, TypeSMP2, tr.smp2)
	check("SMP3 with no exchange", State{}, TypeSMP3, tr.smp3)
	check("SMP4 with no exchange", State{}, TypeSMP4, tr.smp4)
	check("SMP1 while expecting SMP2", tr.before2, TypeSMP1, tr.smp1)
	check("SMP3 while expecting SMP2", tr.before2, TypeSMP3, tr.smp3)
	check("SMP2 while expecting SMP3", tr.before3, TypeSMP2, tr.smp2)
	check("SMP1Q while expecting SMP4", tr.before4, TypeSMP1Q, JoinSMP1Q("q", tr.smp1))
	// Both sides starting at once: each sees an SMP1 while expecting SMP2.
	var a, b State
	s1, _ := a.Start(secretOf("x"), rand.Reader)
	s1b, _ := b.Start(secretOf("x"), rand.Reader)
	check("simultaneous start A", a, TypeSMP1, s1b)
	check("simultaneous start B", b, TypeSMP1, s1)
}

func TestNewSMP1RestartsWhileWaiting(t *testing.T) {
	tr := run(t, "a", "a")
	var bob State
	bob.Receive(TypeSMP1, tr.smp1, rand.Reader)
	var alice State
	smp1, _ := alice.Start(secretOf("new"), rand.Reader)
	if _, res, err := bob.Receive(TypeSMP1, smp1, rand.Reader); res != NeedSecret || err != nil {
		t.Fatalf("second SMP1: %v %v", res, err)
	}
	smp2, _ := bob.Respond(secretOf("new"), rand.Reader)
	r, _, _ := alice.Receive(TypeSMP2, smp2, rand.Reader)
	r, resB, _ := bob.Receive(r.Type, r.Value, rand.Reader)
	_, resA, _ := alice.Receive(r.Type, r.Value, rand.Reader)
	if resA != Succeeded || resB != Succeeded {
		t.Errorf("restarted exchange: %v %v", resA, resB)
	}
}

func TestUnknownTLVIgnored(t *testing.T) {
	tr := run(t, "a", "a")
	s := tr.before3
	for _, typ := range []uint16{0, 1, 8, 9, 0xffff} {
		if reply, res, err := s.Receive(typ, []byte{1, 2}, rand.Reader); reply != nil || res != None || err != nil {
			t.Errorf("type %d: %v %v %v", typ, reply, res, err)
		}
	}
	if !s.InExchange() {
		t.Error("unknown TLV disturbed the exchange")
	}
}

func TestSecretAndMisuseErrors(t *testing.T) {
	var s State
	if _, err := s.Start(nil, rand.Reader); !errors.Is(err, ErrSecret) {
		t.Errorf("empty secret: %v", err)
	}
	if _, err := s.Start(make([]byte, 65), rand.Reader); !errors.Is(err, ErrSecret) {
		t.Errorf("65-byte secret: %v", err)
	}
	if _, err := s.Respond(secretOf("x"), rand.Reader); !errors.Is(err, ErrNotAsked) {
		t.Errorf("Respond without SMP1: %v", err)
	}
	tr := run(t, "a", "a")
	w := tr.before1
	w.Receive(TypeSMP1, tr.smp1, rand.Reader)
	if _, err := w.Respond(nil, rand.Reader); !errors.Is(err, ErrSecret) || !w.Waiting() {
		t.Errorf("Respond with empty secret: %v, still waiting %v", err, w.Waiting())
	}
	if _, err := s.Start(secretOf("x"), bytes.NewReader(make([]byte, 100))); err == nil || s.InExchange() {
		t.Errorf("short random source: %v", err)
	}
	if _, err := w.Respond(secretOf("x"), bytes.NewReader(nil)); err == nil || w.InExchange() {
		t.Errorf("Respond with failing random source: %v", err)
	}
	s2 := tr.before2
	if reply, res, err := s2.Receive(TypeSMP2, tr.smp2, bytes.NewReader(nil)); err == nil || res != Cheated && res != Error || reply == nil || reply.Type != TypeAbort {
		t.Errorf("SMP2 with failing random source: %v %v %v", reply, res, err)
	}
}

// kinds of the values of each message, to know which bad values to try.
const (
	elem = iota
	expo
	hsh
)

var kinds = map[int][]int{
	1: {elem, hsh, expo, elem, hsh, expo},
	2: {elem, hsh, expo, elem, hsh, expo, elem, elem, hsh, expo, expo},
	3: {elem, elem, hsh, expo, expo, elem, hsh, expo},
	4: {elem, hsh, expo},
}

func replace(t *testing.T, payload []byte, i int, v *big.Int) []byte {
	t.Helper()
	r := wire.NewReader(payload)
	n := int(r.Int())
	vals := make([]*big.Int, n)
	for j := range vals {
		vals[j] = r.MPI()
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	vals[i] = v
	return encode(vals...)
}

// TestEveryValueChecked replaces each value of each message with values
// that are out of range or break a proof and expects a Cheated result with
// the matching error and an abort reply.
func TestEveryValueChecked(t *testing.T) {
	tr := run(t, "same", "same")
	one := big.NewInt(1)
	pMinus1 := new(big.Int).Sub(group.P, one)
	states := map[int]State{1: tr.before1, 2: tr.before2, 3: tr.before3, 4: tr.before4}
	payloads := map[int][]byte{1: tr.smp1, 2: tr.smp2, 3: tr.smp3, 4: tr.smp4}
	types := map[int]uint16{1: TypeSMP1, 2: TypeSMP2, 3: TypeSMP3, 4: TypeSMP4}
	checked := 0
	for msg := 1; msg <= 4; msg++ {
		orig := wire.NewReader(payloads[msg])
		orig.Int()
		var origVals []*big.Int
		for range kinds[msg] {
			origVals = append(origVals, orig.MPI())
		}
		for i, kind := range kinds[msg] {
			type bad struct {
				v    *big.Int
				want error
			}
			var cases []bad
			switch kind {
			case elem:
				for _, v := range []*big.Int{big.NewInt(0), one, pMinus1, group.P, new(big.Int).Lsh(one, 1535)} {
					if v.Cmp(group.PMinus2) > 0 || v.Cmp(group.G) < 0 {
						cases = append(cases, bad{v, ErrInvalidElement})
					}
				}
				cases = append(cases, bad{big.NewInt(4), ErrProof}, bad{new(big.Int).Sub(group.P, big.NewInt(2)), ErrProof})
			case expo:
				cases = append(cases, bad{big.NewInt(0), ErrInvalidExponent}, bad{group.Q, ErrInvalidExponent},
					bad{new(big.Int).Add(group.Q, one), ErrInvalidExponent}, bad{group.P, ErrInvalidExponent},
					bad{new(big.Int).Add(origVals[i], one), ErrProof})
			case hsh:
				cases = append(cases, bad{new(big.Int).Add(origVals[i], one), ErrProof}, bad{big.NewInt(0), ErrProof},
					bad{new(big.Int).Lsh(one, 256), ErrMalformed})
			}
			for _, c := range cases {
				s := states[msg]
				reply, res, err := s.Receive(types[msg], replace(t, payloads[msg], i, c.v), rand.Reader)
				if !errors.Is(err, c.want) || res != Cheated || reply == nil || reply.Type != TypeAbort || s.InExchange() {
					t.Errorf("SMP%d value %d = %x…: %v %v %v; want %v", msg, i+1, c.v.Bytes()[:min(4, len(c.v.Bytes()))], reply, res, err, c.want)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d tampered messages tried", checked)
	}
}

func TestMalformedPayloads(t *testing.T) {
	tr := run(t, "a", "a")
	for name, p := range map[string][]byte{
		"empty":         nil,
		"short count":   {0, 0},
		"wrong count":   replaceCount(tr.smp1, 5),
		"huge count":    replaceCount(tr.smp1, 0xffffffff),
		"truncated":     tr.smp1[:len(tr.smp1)-1],
		"trailing byte": append(append([]byte(nil), tr.smp1...), 0),
		"non-minimal":   nonMinimal(tr.smp1),
		"huge MPI len":  append([]byte{0, 0, 0, 6, 0x7f, 0xff, 0xff, 0xff}, 1, 2, 3),
	} {
		s := tr.before1
		reply, res, err := s.Receive(TypeSMP1, p, rand.Reader)
		if !errors.Is(err, ErrMalformed) || res != Cheated || reply == nil || reply.Type != TypeAbort {
			t.Errorf("%s: %v %v %v", name, reply, res, err)
		}
	}
}

func replaceCount(p []byte, n uint32) []byte {
	out := append([]byte(nil), p...)
	out[0], out[1], out[2], out[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return out
}

// nonMinimal re-encodes the first MPI of p with a leading zero byte.
func nonMinimal(p []byte) []byte {
	r := wire.NewReader(p[4:])
	first := r.MPIBytes()
	w := wire.NewWriter(append([]byte(nil), p[:4]...))
	w.Data(append([]byte{0}, first...))
	return append(w.Bytes(), r.Rest()...)
}

func BenchmarkSMP(b *testing.B) {
	for b.Loop() {
		run(b, "secret", "secret")
	}
}

// testdata/libotr-smp1.hex is an SMP1 payload written by libotr 4.1.1's
// otrl_sm_step1: its proofs must verify with our hash and encoding.
func TestLibotrSMP1(t *testing.T) {
	b, err := os.ReadFile("testdata/libotr-smp1.hex")
	if err != nil {
		t.Fatal(err)
	}
	smp1, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	var bob State
	if reply, res, err := bob.Receive(TypeSMP1, smp1, rand.Reader); reply != nil || res != NeedSecret || err != nil {
		t.Fatalf("libotr's SMP1: %v %v %v", reply, res, err)
	}
	// With one bit flipped in its last value (D3) the proof must fail.
	smp1[len(smp1)-1] ^= 1
	var s State
	if _, res, err := s.Receive(TypeSMP1, smp1, rand.Reader); res != Cheated || !errors.Is(err, ErrProof) {
		t.Errorf("tampered libotr SMP1: %v %v", res, err)
	}
	if _, err := bob.Respond(secretOf("x"), rand.Reader); err != nil {
		t.Errorf("Respond to libotr's SMP1: %v", err)
	}
}
