package otr

import (
	"errors"
	"time"
)

var errUnimplemented = errors.New("otr: unimplemented")

// Conversation is the OTR state with one peer (all of its instances).
// It is not safe for concurrent use.
type Conversation struct{ cfg Config }

// NewConversation validates cfg and returns a conversation in plaintext.
func NewConversation(cfg Config) (*Conversation, error) { return &Conversation{cfg: cfg}, nil }

// SetPolicy changes the policy for later calls.
func (c *Conversation) SetPolicy(p Policy) { c.cfg.Policy = p }

// Receive processes one line (an IRC PRIVMSG body) from the peer. Output is
// meaningful even when err != nil (it may carry an error reply to send).
func (c *Conversation) Receive(now time.Time, line string) (Output, error) {
	return Output{}, errUnimplemented
}

// Send turns user text into wire lines, holds it, or fails.
func (c *Conversation) Send(now time.Time, text string) (Output, error) {
	return Output{}, errUnimplemented
}

// Start asks the peer for a private conversation (or refreshes one).
func (c *Conversation) Start(now time.Time) (Output, error) { return Output{}, errUnimplemented }

// End ends private sessions with all peer instances.
func (c *Conversation) End(now time.Time) (Output, error) { return Output{}, errUnimplemented }

// StartSMP starts SMP; question "" means none.
func (c *Conversation) StartSMP(now time.Time, question string, secret []byte) (Output, error) {
	return Output{}, errUnimplemented
}

// AnswerSMP answers the peer's SMP request.
func (c *Conversation) AnswerSMP(now time.Time, secret []byte) (Output, error) {
	return Output{}, errUnimplemented
}

// AbortSMP aborts SMP.
func (c *Conversation) AbortSMP(now time.Time) (Output, error) { return Output{}, errUnimplemented }

// ExtraSymmetricKey derives the extra symmetric key and tells the peer.
func (c *Conversation) ExtraSymmetricKey(now time.Time, use uint32, useData []byte) ([32]byte, Output, error) {
	return [32]byte{}, Output{}, errUnimplemented
}

// Tick expires held messages and fragments.
func (c *Conversation) Tick(now time.Time) Output { return Output{} }

// Info describes the session with the current best peer instance.
func (c *Conversation) Info() Info { return Info{} }

// Instances describes all known peer instances.
func (c *Conversation) Instances() []Info { return nil }

// SelectInstance pins sending to one peer instance (0 = automatic best).
func (c *Conversation) SelectInstance(tag InstanceTag) error { return errUnimplemented }
