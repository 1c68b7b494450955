package otr_test

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/otrbridge/otrbridge/otr"
)

// Two conversations talk to each other in memory: Alice asks for OTR, the
// wire lines are passed back and forth until the AKE is done, then she
// sends a private message.
func Example() {
	newConv := func() *otr.Conversation {
		key, err := otr.GenerateKey(rand.Reader) // slow: do it once per account and store it
		if err != nil {
			panic(err)
		}
		tag, _ := otr.NewInstanceTag(rand.Reader) // store it with the key
		c, err := otr.NewConversation(otr.Config{
			PrivateKey:   key,
			InstanceTag:  tag,
			Policy:       otr.PolicyOpportunistic,
			FragmentSize: 400, // what fits in one IRC PRIVMSG
		})
		if err != nil {
			panic(err)
		}
		return c
	}
	alice, bob := newConv(), newConv()
	now := time.Now()

	// deliver hands lines to a conversation and returns its replies.
	deliver := func(to *otr.Conversation, lines []string) []string {
		var replies []string
		for _, l := range lines {
			out, err := to.Receive(now, l)
			if err != nil {
				fmt.Println("receive:", err)
			}
			for _, m := range out.Messages {
				fmt.Printf("got %q (encrypted: %v)\n", m.Text, m.Encrypted)
			}
			for _, e := range out.Events {
				if gs, ok := e.(otr.GoneSecure); ok {
					fmt.Println("private conversation, version", gs.Version)
				}
			}
			replies = append(replies, out.Wire...)
		}
		return replies
	}

	out, _ := alice.Start(now) // "?OTRv23?"
	lines := out.Wire
	for turn := 0; len(lines) > 0; turn++ {
		if turn%2 == 0 {
			lines = deliver(bob, lines)
		} else {
			lines = deliver(alice, lines)
		}
	}

	out, _ = alice.Send(now, "hello, privately")
	deliver(bob, out.Wire)

	// Output:
	// private conversation, version 3
	// private conversation, version 3
	// got "hello, privately" (encrypted: true)
}
