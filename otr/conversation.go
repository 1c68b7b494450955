package otr

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/otrbridge/otrbridge/otr/internal/fragment"
	"github.com/otrbridge/otrbridge/otr/internal/plaintext"
)

const defaultHoldTimeout = 60 * time.Second

// whitespace tag offer state, as libotr's otr_offer.
type offerState int

// Conversation is the OTR state with one peer: all of the peer's
// instances, the AKE we started, held messages and partial fragments.
// It is not safe for concurrent use.
type Conversation struct {
	cfg  Config
	rand io.Reader

	// master is the AKE we start in answer to a query or whitespace tag,
	// before we know which peer instance will answer (receiver tag 0).
	master   ake
	sessions []*session // in order of creation, for determinism
	selected InstanceTag

	recvSeq uint64

	offer    offerState
	last     lastMessage
	held     []heldMessage
	nextHeld HeldID
	// refused is the private session whose key Config.HeldMayGoTo
	// refused; nil if none.
	refused   *session
	lastQuery time.Time
	reasm     *fragment.Reassembler
}

// NewConversation validates cfg and returns a conversation in plaintext.
func NewConversation(cfg Config) (*Conversation, error) {
	if cfg.PrivateKey == nil {
		return nil, errors.New("otr: Config.PrivateKey is required")
	}
	if cfg.InstanceTag < minInstanceTag {
		return nil, fmt.Errorf("otr: instance tag %#x is below 0x100", uint32(cfg.InstanceTag))
	}
	if cfg.FragmentSize < 0 {
		return nil, errors.New("otr: negative FragmentSize")
	}
	if cfg.HoldTimeout <= 0 {
		cfg.HoldTimeout = defaultHoldTimeout
	}
	c := &Conversation{cfg: cfg, rand: cfg.Rand}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	lim := fragment.Limits{OwnInstance: uint32(cfg.InstanceTag)}
	if cfg.FragmentBudget != nil {
		lim.Budget = cfg.FragmentBudget.b
	}
	c.reasm = fragment.NewReassembler(lim)
	return c, nil
}

// SetFragmentSize changes the maximum wire line length for later output
// (for example after a nick change alters the IRC line budget); 0 means
// never fragment.
func (c *Conversation) SetFragmentSize(n int) {
	if n >= 0 {
		c.cfg.FragmentSize = n
	}
}

// SetPolicy changes the policy for later calls.
func (c *Conversation) SetPolicy(p Policy) { c.cfg.Policy = p }

// Policy returns the current policy.
func (c *Conversation) Policy() Policy { return c.cfg.Policy }

func (c *Conversation) versions() plaintext.Versions {
	var v plaintext.Versions
	if c.cfg.Policy&AllowV2 != 0 {
		v |= plaintext.V2
	}
	if c.cfg.Policy&AllowV3 != 0 {
		v |= plaintext.V3
	}
	return v
}

// bestVersion picks the highest version both we and the offer allow.
func (c *Conversation) bestVersion(offer plaintext.Versions) int {
	both := offer & c.versions()
	switch {
	case both.Has(plaintext.V3):
		return 3
	case both.Has(plaintext.V2):
		return 2
	}
	return 0
}

// Start asks the peer for a private conversation by sending a query
// message (a refresh if one exists already).
func (c *Conversation) Start(now time.Time) (Output, error) {
	q := plaintext.QueryMessage(c.versions())
	if q == "" {
		return Output{}, errors.New("otr: policy allows no OTR version")
	}
	return Output{Wire: []string{q}}, nil
}

// Waiting reports whether Tick has anything to expire: held messages or
// incomplete incoming messages. While it is false, Tick need not be
// called.
func (c *Conversation) Waiting() bool { return len(c.held) > 0 || c.reasm.Pending() > 0 }

// Tick expires held messages (HeldExpired after Config.HoldTimeout) and
// stale incoming fragments. Call it every few seconds. (Heartbeats are
// sent by Receive, as in libotr.)
func (c *Conversation) Tick(now time.Time) Output {
	var out Output
	kept := c.held[:0]
	for _, h := range c.held {
		if now.Sub(h.at) >= c.cfg.HoldTimeout {
			out.Events = append(out.Events, HeldExpired{ID: h.id})
			continue
		}
		kept = append(kept, h)
	}
	c.held = kept
	c.reasm.Expire(now)
	c.reportDropped(&out)
	return out
}

// reportDropped tells the user about incoming messages whose fragments
// were dropped since the last call: expired, pushed out by the memory
// limits, or a cut line whose rest never came.
func (c *Conversation) reportDropped(out *Output) {
	if c.reasm.TakeDropped() > 0 {
		out.Events = append(out.Events, Malformed{Reason: "incomplete message dropped"})
	}
}
