package otr

import (
	"encoding/hex"
	"math/big"

	"github.com/otrbridge/otrbridge/otr/internal/group"
	"github.com/otrbridge/otrbridge/otr/internal/wire"
	"math/rand/v2"
	"testing"
	"time"
)

// Two fixed DSA keys so tests do not pay for key generation.
const (
	testKeyAlice = "0100000080cbf64a2655b1ae0cd0008c6b5e483939a07f44b72539684151af94613f969c4f08b5793bf0d81965184e4d66c7f6eadb03491dda1fc9a6eeaa00c69b06b5adcc9a93e9c6ebc85fd5af21a38792873b08251fdac3f91810053cbab56de67d7d5d79236f71dc3e8bda9ae9ed7d8e90cb5c1c93c0434ec85441e02e657a63ecd3c300000014d2efdec19d656da01b9d9919b5e10c86798aaaff00000080197606f9b37b94e707eea0658e0c721813bd20bfc871be322572304f4dd395355669acea934e0f48acbad6de60cf1c9bec1f4ab808c07f428aa2c0ef4855d0ea8fa8f957d3e44a3ee19850220eca026d03c26a7848b120129c369eea497f1e90c7c6fa35107ba91bc380fafb868e49eb424e9ad0faf2643f3c68a7e207fcf0010000008073db5b0d29f07c4814d5649d86d415a6df41bded04a72233929daf0cc074ba09b441d65c797d659584292fa391c46a7e2ea4b210ca976bf1f2b4d4e4638058f3ffb1a87e915ec2a40796e21882c5a573e71a77fd046f459fd5a4714ca8e7e03f229444fbac41343fbf3e269a0034cc3efac49609cb420de2304f817eb7962afb000000147a8f14364b6e644685a9dc09f113468555cbe391"
	testKeyBob   = "0100000080d4bd0470a756449197a8d6fe8bb364c60d67f1f86e29aeb0da4c1af8e2f31eb2cd5ef37e9a85525f70c5a7e4a727ff108efb11d3e930539764de58964577d36fd4f8505b7f96988b69ef26443293bc3c1fbbbaa71cf43553ff01d0c22ae88b434ada74da492c3a07014fed15d0b83fb71367bbaf2b393083ecd8fbba04cc3e6700000014bf71da6573a697248d21035691edf2bcae587c77000000804bb1b27e2285611f7943b3e1164d29ef6024fbdfb3a620c336faebdd02c44231a8d26cb1f87711550d771460420ffb4427e5f5c0860267b9b7cc90b330b3fefdc5d17c6e3f196b10edac5cc4f40b65c6eac15b1f94de7eec934f0df52fa8db6041307452643c2c6daca06e93a858bcc78a8b0c870738dda3f9610fa7984c6c81000000809e5f30fd65b24967a78380d0df5a77fd269602321db935116dba282e424fdceff8ada8b15e2f587772d163dc3c68c2425ff2b912024d3c050dc3b70e6dd7ce1116ae462f3c0062f4d5b56ad73e7da55b27831ee82d92b338b4d008f79d73bc78f88b2d7b83503c8c0d9fde70e8a699de8b3b534b1da12d1c3a23791671916e000000001409be6813e7a29595af8559604bd1135285198b9e"
)

func testKey(t testing.TB, h string) *PrivateKey {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var k PrivateKey
	if err := k.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return &k
}

// detRand is a deterministic randomness source for reproducible tests.
func detRand(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

type peer struct {
	name string
	c    *Conversation
	// Everything received by this side.
	msgs   []Received
	events []Event
}

func newPeer(t testing.TB, name string, key string, tag InstanceTag, p Policy, seed byte) *peer {
	t.Helper()
	c, err := NewConversation(Config{PrivateKey: testKey(t, key), InstanceTag: tag, Policy: p, Rand: detRand(seed)})
	if err != nil {
		t.Fatal(err)
	}
	return &peer{name: name, c: c}
}

func newPair(t testing.TB, pa, pb Policy) (*peer, *peer) {
	return newPeer(t, "alice", testKeyAlice, 0x1000, pa, 1), newPeer(t, "bob", testKeyBob, 0x2000, pb, 2)
}

func (p *peer) record(o Output) {
	p.msgs = append(p.msgs, o.Messages...)
	p.events = append(p.events, o.Events...)
}

// exchange delivers lines to 'to', then the replies back and forth until
// both sides are quiet. It fails on any receive error.
func exchange(t testing.TB, now time.Time, from, to *peer, lines []string) {
	t.Helper()
	for i := 0; len(lines) > 0; i++ {
		if i > 20 {
			t.Fatal("exchange does not settle")
		}
		var next []string
		for _, l := range lines {
			o, err := to.c.Receive(now, l)
			if err != nil {
				t.Fatalf("%s receive: %v", to.name, err)
			}
			to.record(o)
			next = append(next, o.Wire...)
		}
		lines = next
		from, to = to, from
	}
}

// establish runs the AKE started by a's query and checks both sides are
// encrypted.
func establish(t testing.TB, a, b *peer) {
	t.Helper()
	o, err := a.c.Start(t0)
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, t0, a, b, o.Wire)
	if a.c.Info().State != Encrypted || b.c.Info().State != Encrypted {
		t.Fatalf("not encrypted: alice %v bob %v", a.c.Info().State, b.c.Info().State)
	}
}

func hasEvent[T Event](events []Event) (T, bool) {
	for _, e := range events {
		if v, ok := e.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// send sends text from a to b and returns what b received.
func send(t testing.TB, now time.Time, a, b *peer, text string) Output {
	t.Helper()
	o, err := a.c.Send(now, text)
	if err != nil {
		t.Fatalf("%s send: %v", a.name, err)
	}
	var all Output
	for _, l := range o.Wire {
		r, err := b.c.Receive(now, l)
		if err != nil {
			t.Fatalf("%s receive: %v", b.name, err)
		}
		b.record(r)
		all.Wire = append(all.Wire, r.Wire...)
		all.Messages = append(all.Messages, r.Messages...)
		all.Events = append(all.Events, r.Events...)
	}
	return all
}

func groupP() *big.Int { return group.P }

func newTestReader(b []byte) *wire.Reader { return wire.NewReader(b) }
