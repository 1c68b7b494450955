package otr

import "github.com/otrbridge/otrbridge/otr/internal/fragment"

// DefaultFragmentBudget is the NewFragmentBudget size for a limit <= 0:
// room for sixteen peers each sending the largest message a Conversation
// accepts at the same time.
const DefaultFragmentBudget = 4 << 20

// FragmentBudget caps the memory held by incomplete incoming messages
// over several Conversations (Config.FragmentBudget). Create one per
// login and give it to each of its Conversations; it is safe for
// concurrent use, so the Conversations may run on different goroutines.
//
// When a new piece does not fit, the incomplete messages begun longest
// ago are dropped first, in whichever Conversation holds them (that
// Conversation reports Malformed{Reason: "incomplete message dropped"}
// at its next Receive or Tick): a flood pushes out its own earlier
// pieces, while a peer's message that arrives in a few lines completes.
type FragmentBudget struct{ b *fragment.Budget }

// NewFragmentBudget returns a budget of limit bytes (DefaultFragmentBudget
// if limit <= 0).
func NewFragmentBudget(limit int) *FragmentBudget {
	if limit <= 0 {
		limit = DefaultFragmentBudget
	}
	return &FragmentBudget{b: fragment.NewBudget(limit)}
}

// InUse returns the bytes incomplete messages hold now.
func (f *FragmentBudget) InUse() int { return f.b.Used() }
