package smp_test

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/otrbridge/otrbridge/otr/internal/smp"
)

// Two sides run one exchange. In the engine each payload travels as a TLV
// inside an encrypted data message, and x is the hash of the fingerprints,
// the session id and the user's secret.
func Example() {
	x := sha256.Sum256([]byte("fingerprints, ssid and the shared secret"))
	var alice, bob smp.State

	smp1, _ := alice.Start(x[:], rand.Reader)
	question := smp.JoinSMP1Q("Where did we meet?", smp1)

	_, res, _ := bob.Receive(smp.TypeSMP1Q, question, rand.Reader)
	q, _, _ := smp.SplitSMP1Q(question)
	fmt.Printf("bob: %v (%q)\n", res, q)

	smp2, _ := bob.Respond(x[:], rand.Reader)
	smp3, res, _ := alice.Receive(smp.TypeSMP2, smp2, rand.Reader)
	fmt.Println("alice:", res)
	smp4, res, _ := bob.Receive(smp3.Type, smp3.Value, rand.Reader)
	fmt.Println("bob:", res)
	_, res, _ = alice.Receive(smp4.Type, smp4.Value, rand.Reader)
	fmt.Println("alice:", res)
	// Output:
	// bob: need secret ("Where did we meet?")
	// alice: in progress
	// bob: succeeded
	// alice: succeeded
}
