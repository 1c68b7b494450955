package otrsession

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircfmt"

	"github.com/otrbridge/otrbridge/otr"
)

// libotr's default query message continues, after "?OTRv23?", with an
// HTML explanation for people without OTR; IRC clients send each of its
// lines as a PRIVMSG, with the HTML as it is (irssi) or reduced to text
// (Pidgin: "alice has requested an Off-the-Record private conversation
// <https://otr.cypherpunks.ca/>. However, ..."). Within a while after a
// query such lines are the client's, not the peer's: they are shown as one
// notice, not as messages.
var queryExplanations = []string{
	"has requested an Off-the-Record private conversation",
	"However, you do not have a plugin to support that.",
	"https://otr.cypherpunks.ca/ for more information",
	// Debian's and Ubuntu's libotr add a line.
	"install the pidgin-otr package.",
}

// queryExplanationWindow is how long after a query its explanation lines
// are expected.
const queryExplanationWindow = 30 * time.Second

// htmlTag matches an HTML tag of the explanation.
var htmlTag = regexp.MustCompile(`<[^<>]*>`)

func isQueryExplanation(text string) bool {
	text = htmlTag.ReplaceAllString(ircfmt.Strip(text), "")
	for _, e := range queryExplanations {
		if strings.Contains(text, e) {
			return true
		}
	}
	return false
}

// looksLikeOTR reports OTR protocol text: queries, encoded messages,
// fragments and errors all contain "?OTR".
func looksLikeOTR(text string) bool { return strings.Contains(text, "?OTR") }

// Receive handles one line from the peer: OTR protocol lines are answered
// and never shown; decrypted text, and plaintext, is delivered.
func (m *Manager) Receive(ctx context.Context, link PeerLink, msg IncomingText) {
	p := m.peer(link)
	p.mu.Lock()
	p.releaseReceived(ctx, p.guardDecision(ctx, "receive", func() []effect { return p.decideReceive(ctx, link, msg) }))
}

// decideReceive is Receive's part under the lock: it runs the line through
// the engine, or keeps it while the identity key is generated, or handles
// it without OTR. Called with mu held.
func (p *peer) decideReceive(ctx context.Context, link PeerLink, msg IncomingText) []effect {
	m := p.m
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		m.log.Err(err).Msg("Failed to resolve OTR policy; using the network default")
		p.policy, _ = otr.ParsePolicy(m.cfg.DefaultPolicy)
	}
	fx := p.restartEffects()
	if p.policy == otr.PolicyNever && p.conv == nil && !p.recovering {
		return append(fx, p.receiveWithoutOTR(msg, "OTR is off for this chat (`!otr policy` changes that)"))
	}
	id := m.identity()
	if !id.isReady() || len(p.pending) > 0 {
		if len(p.pending) < maxPending {
			p.pending = append(p.pending, pendingLine{link: link, msg: msg})
		} else {
			m.log.Warn().Str("peer", p.key).Msg("Dropping a line received while the OTR key is generated")
		}
		return fx
	}
	if id.err != nil {
		return append(fx, p.receiveWithoutOTR(msg, "your OTR key is unusable: "+id.err.Error()))
	}
	return append(fx, p.receive(ctx, id, msg)...)
}

// receive runs one line through the engine. Called with mu held.
func (p *peer) receive(ctx context.Context, id *identity, msg IncomingText) []effect {
	now := time.Now()
	if now.Sub(p.queryAt) < queryExplanationWindow && isQueryExplanation(msg.Text) {
		if p.queryExplained {
			return nil
		}
		p.queryExplained = true
		return []effect{p.notice(fmt.Sprintf("%s's client asked for a private conversation and, as OTR clients do, added an explanation for people "+
			"without OTR (\"... has requested an Off-the-Record private conversation ... See https://otr.cypherpunks.ca/ ...\"); "+
			"it is shown here once instead of as %s's messages.", p.link.Nick(), p.link.Nick()))}
	}
	conv, err := p.ensureConv(ctx, id)
	if err != nil {
		p.m.log.Err(err).Msg("Failed to set up OTR conversation")
		return []effect{p.receiveWithoutOTR(msg, "the bridge could not set up OTR for this chat")}
	}
	if strings.Contains(msg.Text, "?OTRv") {
		p.queryAt, p.queryExplained = now, false
	}
	out, err := conv.Receive(now, msg.Text)
	if err != nil {
		// The error never contains message text; the events explain it.
		p.m.log.Debug().Err(err).Str("peer", p.key).Msg("OTR receive error")
	}
	return p.handleOutput(ctx, now, out, &msg, true)
}

// receiveWithoutOTR shows plaintext from a peer that gets no OTR, and
// drops OTR protocol lines (with one notice explaining why). Called with
// mu held.
func (p *peer) receiveWithoutOTR(msg IncomingText, why string) effect {
	if looksLikeOTR(msg.Text) || isQueryExplanation(msg.Text) {
		if p.noticedBypass {
			return effect{}
		}
		p.noticedBypass = true
		return p.notice(fmt.Sprintf("%s is trying to talk off the record, but %s; their OTR messages are not shown.", p.link.Nick(), why))
	}
	msg.Text = otr.StripWhitespaceTag(msg.Text)
	if strings.TrimSpace(msg.Text) == "" {
		return effect{}
	}
	return p.deliver(msg)
}

// restartEffects tells the portal, at the first contact after a restart,
// that a private conversation was cut off, and holds messages until a new
// one is up. Called with mu held.
func (p *peer) restartEffects() []effect {
	if !p.m.takeRestartMarker(p.key) {
		return nil
	}
	p.shown = stateUnshown // the topic may still say private
	text := fmt.Sprintf("The bridge restarted, which ended your private conversation with %s (its keys are never stored). ", p.link.Nick())
	p.setRecovering(true)
	if p.policy == otr.PolicyNever {
		text += "OTR is now off for this chat (policy never), but nothing is sent unencrypted until you run `!otr finish`."
	} else {
		text += "Your messages wait until a new private conversation is up (it starts automatically when you send one, or with `!otr init`); `!otr finish` continues unencrypted instead."
	}
	return []effect{p.clearMarker(), p.notice(text)}
}

// drainPending processes lines that arrived while the key was generated.
func (m *Manager) drainPending() {
	for _, p := range m.allPeers() {
		for {
			p.mu.Lock()
			if len(p.pending) == 0 {
				p.mu.Unlock()
				break
			}
			pl := p.pending[0]
			p.pending = p.pending[1:]
			id := m.identity()
			fx := p.guardDecision(m.ctx, "receive", func() []effect {
				if id.err != nil {
					return []effect{p.receiveWithoutOTR(pl.msg, "your OTR key is unusable: "+id.err.Error())}
				}
				return p.receive(m.ctx, id, pl.msg)
			})
			p.releaseReceived(m.ctx, fx)
		}
	}
}
