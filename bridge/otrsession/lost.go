package otrsession

import (
	"context"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/otr"
)

// When the peer's client loses the private conversation (it restarted, or
// reconnected without its OTR state), what the bridge sends next is
// encrypted with keys nobody has any more: HexChat and Pidgin drop it
// without a word, WeeChat and libotr answer "?OTR Error:". Three things
// tell the bridge, and each ends the session on our side:
//
//   - IRC: the peer left (QUIT, MONITOR offline, a 401 for its nick):
//     PeerGone.
//   - the peer's "?OTR Error:" during a private conversation.
//   - a new instance of the peer's client completing a key exchange.
//
// Messages sent since the peer last proved it could read (its last data
// message) are then marked in Matrix as maybe unread, and sent once more,
// prefixed "[resent] " as libotr does, when a new private conversation
// with the same key comes up (to another key: never). Their text is kept
// in memory only (like the session keys), at most maxUnconfirmed messages
// for unconfirmedWindow.

const (
	maxUnconfirmed    = 20
	unconfirmedWindow = 10 * time.Minute
)

// sentMessage is a message sent encrypted that the peer has not yet shown
// it could read.
type sentMessage struct {
	event    id.EventID
	kind     ircconn.Kind
	lines    []string
	at       time.Time
	fp       otr.Fingerprint
	instance otr.InstanceTag
}

// recordSent remembers an encrypted message until the peer proves it read
// it. Called with mu held.
func (p *peer) recordSent(msg OutgoingText, now time.Time, inf otr.Info) {
	if msg.Event == "" {
		return
	}
	p.dropOldUnconfirmed(now)
	if len(p.unconfirmed) == maxUnconfirmed {
		p.unconfirmed = p.unconfirmed[1:]
	}
	p.unconfirmed = append(p.unconfirmed, sentMessage{event: msg.Event, kind: msg.Kind, lines: msg.Lines, at: now,
		fp: inf.Fingerprint, instance: inf.TheirInstance})
}

// dropOldUnconfirmed forgets messages older than unconfirmedWindow.
// Called with mu held.
func (p *peer) dropOldUnconfirmed(now time.Time) {
	i := 0
	for i < len(p.unconfirmed) && now.Sub(p.unconfirmed[i].at) > unconfirmedWindow {
		i++
	}
	p.unconfirmed = p.unconfirmed[i:]
}

// readByPeer: the peer sent a data message, so it had the session keys
// and could read what we sent before. Called with mu held.
func (p *peer) readByPeer() { p.unconfirmed = nil }

// PeerGone ends the usable session with a peer that left IRC (quit, went
// offline, or its nick disappeared): its client keeps no session keys
// beyond its connection. The next message waits for a new private
// conversation (it starts one), and messages the peer may not have read
// are sent again in it.
func (m *Manager) PeerGone(ctx context.Context, link PeerLink) {
	p := m.existingPeer(link.PeerID())
	if p == nil {
		return
	}
	p.mu.Lock()
	p.link = link
	fx := p.sessionLost(time.Now(), fmt.Sprintf("%s left IRC, and with it the private conversation (OTR clients keep no session keys across a reconnect).", link.Nick()), false)
	p.release(ctx, fx)
}

// sessionLost ends the session on our side after the peer lost it (why
// says how the bridge knows): the conversation is no longer private,
// messages wait for a new one (started now if startAKE), and unconfirmed
// messages are marked and kept for sending again. Nothing happens if there
// was neither a private session nor an unconfirmed message. Called with mu
// held.
func (p *peer) sessionLost(now time.Time, why string, startAKE bool) []effect {
	p.dropOldUnconfirmed(now)
	private := p.conv != nil && p.conv.Info().State == otr.Encrypted
	if !private && len(p.unconfirmed) == 0 {
		return nil
	}
	nick := p.link.Nick()
	text := why
	if private {
		p.rememberLostKey()
		// Nothing goes on the wire: whoever reads it now cannot use it.
		if _, err := p.conv.End(now); err != nil {
			p.m.log.Err(err).Msg("Ending a lost OTR session")
		}
		// The instance messages went to is dead: the next one to go
		// private gets them (and the messages held meanwhile).
		_ = p.conv.SelectInstance(0)
		p.setRecovering(true)
		text += fmt.Sprintf(" Your next message waits for a new private conversation (and starts one), and goes out only if that is with a key you know %s by; `!otr finish` sends unencrypted instead.", nick)
	}
	fx := []effect{}
	if private {
		fx = append(fx, p.clearMarker())
	}
	if lost := p.unconfirmed; len(lost) > 0 {
		p.unconfirmed = nil
		p.resend = append(p.resend, lost...)
		if len(p.resend) > maxUnconfirmed {
			p.resend = p.resend[len(p.resend)-maxUnconfirmed:]
		}
		text += fmt.Sprintf(" %s may not have read %s (marked ⚠️).", nick, describeMessages(lost))
		if p.policy == otr.PolicyNever {
			text += " OTR is off for this chat, so they are not sent again; send again what matters."
		} else {
			text += " They are sent again once, in the new private conversation, if it is with the same key."
		}
		fx = append(fx, p.markUnconfirmed(lost))
	}
	if startAKE && p.policy != otr.PolicyNever && p.conv != nil {
		if out, err := p.conv.Start(now); err == nil {
			p.enqueue(p.m.ctx, ircconn.Privmsg, out.Wire, nil)
		}
	}
	fx = append(fx, p.notice(text), p.stateEffect())
	return fx
}

// resendAfterSecure runs at GoneSecure: messages sent to another instance
// of the peer than the one that just went secure are lost too (its client
// restarted); every lost message goes out once more if the new session has
// the key it was written for. Called with mu held, after the instance was
// selected.
func (p *peer) resendAfterSecure(now time.Time, ev otr.GoneSecure) []effect {
	var fx []effect
	if !ev.Refreshed {
		var stale, kept []sentMessage
		for _, s := range p.unconfirmed {
			if s.instance != ev.Instance {
				stale = append(stale, s)
			} else {
				kept = append(kept, s)
			}
		}
		if len(stale) > 0 {
			p.unconfirmed = kept
			p.resend = append(p.resend, stale...)
			fx = append(fx, p.markUnconfirmed(stale), p.notice(fmt.Sprintf("A new instance of %s's client started this private conversation, so %s may not have read %s, sent to the one before (marked ⚠️).",
				p.link.Nick(), p.link.Nick(), describeMessages(stale))))
		}
	}
	if len(p.resend) == 0 || p.policy == otr.PolicyNever {
		return fx
	}
	var sent, other []sentMessage
	var wire []string
	for _, s := range p.resend {
		if s.fp != ev.Fingerprint {
			other = append(other, s)
			continue
		}
		lines, err := p.encodeResend(now, s)
		if err != nil {
			p.m.log.Err(err).Msg("Sending a lost message again failed")
			other = append(other, s)
			continue
		}
		wire = append(wire, lines...)
		sent = append(sent, s)
	}
	p.resend = nil
	if len(wire) > 0 {
		p.enqueue(p.m.ctx, ircconn.Privmsg, wire, nil)
	}
	nick := p.link.Nick()
	if len(sent) > 0 {
		fx = append(fx, p.notice(fmt.Sprintf("Sent again in the new private conversation: %s that %s may not have read (%s sees each starting with \"[resent]\").",
			describeMessages(sent), nick, nick)))
	}
	if len(other) > 0 {
		fx = append(fx, p.notice(fmt.Sprintf("NOT sent again: %s, because %s's new private conversation is not with the key they were written for. Send them again yourself once you have verified %s.",
			describeMessages(other), nick, nick)))
	}
	return fx
}

// encodeResend encrypts a lost message again for the current session.
// Called with mu held.
func (p *peer) encodeResend(now time.Time, s sentMessage) ([]string, error) {
	var wire []string
	for _, text := range s.lines {
		if s.kind == ircconn.Action {
			text = "/me " + text
		}
		out, err := p.conv.Send(now, resentPrefix+text)
		if err != nil {
			return nil, err
		}
		wire = append(wire, out.Wire...)
	}
	return wire, nil
}

// resentPrefix starts a message sent again, as libotr's default
// resent_msg_prefix.
const resentPrefix = "[resent] "

// markUnconfirmed shows in Matrix which messages the peer may not have
// read. Called with mu held.
func (p *peer) markUnconfirmed(lost []sentMessage) effect {
	link := p.link
	events := make([]id.EventID, len(lost))
	for i, s := range lost {
		events[i] = s.event
	}
	return effect{kind: effectNotice, cost: effectOverhead + 64*len(events), run: func(ctx context.Context) { link.Unconfirmed(ctx, events) }}
}

// describeMessages says which messages: how many, sent when (UTC).
func describeMessages(msgs []sentMessage) string {
	times := make([]string, len(msgs))
	for i, s := range msgs {
		times[i] = s.at.UTC().Format("15:04:05")
	}
	if len(msgs) == 1 {
		return "your message of " + times[0] + " UTC"
	}
	return fmt.Sprintf("your %d messages of %s UTC", len(msgs), strings.Join(times, ", "))
}
