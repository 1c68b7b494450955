package otrsession

import (
	"fmt"
	"time"

	"github.com/otrbridge/otrbridge/otr"
)

// Protocol noise: what a peer's client sent that the bridge ignored or
// could not read (malformed OTR messages, unreadable ones, OTR error
// messages, OTR versions it does not speak), automatic replies to the
// peer that the connection dropped, and what a panic stopped (recover.go). Any peer can cause thousands of these,
// so each kind is shown once; what follows within noiseInterval is
// counted, and one notice (and one log line) per kind and interval tells
// how many more there were: "37 more malformed OTR messages from bob were
// ignored in the last minute."

// noiseInterval is the least time between two notices of one kind of
// noise from one peer.
const noiseInterval = time.Minute

type noiseKind int

const (
	noiseMalformed noiseKind = iota
	noiseUnreadable
	noiseError
	noiseUnsupported
	// noiseDropped: an automatic reply to the peer that the connection
	// dropped (too many automatic messages at once).
	noiseDropped
	// noiseInternal: a panic stopped what the peer sent (recover.go).
	noiseInternal
	noiseKinds
)

// noiseCount is one kind of noise from one peer.
type noiseCount struct {
	shownAt time.Time // the last notice about it
	more    int       // counted since, not shown
}

// noiseKindOf reports the kind of noise an engine event is, if any.
func noiseKindOf(ev otr.Event) (noiseKind, bool) {
	switch ev.(type) {
	case otr.Malformed:
		return noiseMalformed, true
	case otr.Unreadable:
		return noiseUnreadable, true
	case otr.ErrorReceived:
		return noiseError, true
	}
	return 0, false
}

// admitNoise reports whether one piece of noise is shown now (the first
// in its interval) or only counted. Called with mu held.
func (p *peer) admitNoise(now time.Time, k noiseKind) bool {
	c := &p.noise[k]
	if !c.shownAt.IsZero() && now.Sub(c.shownAt) < noiseInterval {
		c.more++
		return false
	}
	c.shownAt = now
	return true
}

// noiseSummaries returns a notice for each kind of noise counted during an
// interval that is over. Called with mu held.
func (p *peer) noiseSummaries(now time.Time) []effect {
	var fx []effect
	for k := range noiseKinds {
		c := &p.noise[k]
		if c.more == 0 || now.Sub(c.shownAt) < noiseInterval {
			continue
		}
		p.m.log.Info().Str("peer", p.key).Str("otr_noise", noiseNames[k]).Int("count", c.more).Msg("OTR events not shown")
		fx = append(fx, p.notice(noiseSummary(k, c.more, p.link.Nick())))
		c.shownAt, c.more = now, 0
	}
	return fx
}

var noiseNames = [noiseKinds]string{"malformed", "unreadable", "error_received", "unsupported", "reply_dropped", "internal_error"}

func noiseSummary(k noiseKind, n int, nick string) string {
	switch k {
	case noiseMalformed:
		return fmt.Sprintf("%d more malformed OTR messages from %s were ignored in the last minute.", n, nick)
	case noiseUnreadable:
		return fmt.Sprintf("%d more encrypted messages from %s could not be read in the last minute (see above).", n, nick)
	case noiseError:
		return fmt.Sprintf("%s's OTR client reported %d more errors in the last minute.", nick, n)
	case noiseDropped:
		return fmt.Sprintf("%d more automatic OTR replies to %s were dropped in the last minute.", n, nick)
	case noiseInternal:
		return fmt.Sprintf("%d more internal errors in the bridge stopped what %s sent in the last minute (logged).", n, nick)
	}
	return fmt.Sprintf("%d more OTR messages from %s in a version the bridge does not support were ignored in the last minute.", n, nick)
}

// droppedReplyText explains the first automatic reply to a peer that was
// dropped.
func droppedReplyText(nick string) string {
	return fmt.Sprintf("An automatic OTR reply to %s was not sent: too many automatic replies (key exchanges, answers to queries) on this connection at once, possibly provoked by others. If %s is starting a private conversation, `!otr init` tries again; your own messages are never dropped.", nick, nick)
}
