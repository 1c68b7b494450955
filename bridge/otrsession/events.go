package otrsession

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// annotationUnencrypted marks a plaintext message that arrived while the
// conversation was private (or policy requires encryption).
const annotationUnencrypted = "unencrypted"

// handleOutput decides what one engine call's output means for the peer:
// it queues the wire lines (automatic replies within the rate limit),
// applies the events to the peer's state, and returns the effects for the
// Matrix side in order: deliveries, notices, the state. in is the received
// message for Receive calls (nil otherwise). Called with mu held.
func (p *peer) handleOutput(ctx context.Context, now time.Time, out otr.Output, in *IncomingText, auto bool) []effect {
	u, throttled := p.queueWire(now, out, auto)
	fx := []effect{throttled}
	fx = append(fx, p.deliveries(now, out, in)...)
	peerError := false
	for _, ev := range out.Events {
		if _, ok := ev.(otr.ErrorReceived); ok {
			peerError = true
		}
		if k, ok := noiseKindOf(ev); ok && !p.admitNoise(now, k) {
			continue // counted for the next summary (noise.go)
		}
		p.logEvent(ev)
		fx = append(fx, p.applyEvent(ctx, now, ev, u)...)
	}
	if peerError {
		// Whether or not the error's notice was shown: the peer cannot
		// read the session any more (lost.go). The engine already asked
		// for a new one if the policy says so.
		fx = append(fx, p.sessionLost(now, fmt.Sprintf("%s's OTR client could not read what you sent (it answered with an error): it has probably restarted and lost the private conversation.", p.link.Nick()),
			p.effectivePolicy()&otr.ErrorStartAKE == 0)...)
	}
	p.syncPolicy()
	return append(fx, p.stateEffect())
}

// queueWire queues the wire lines of one engine call. Automatic replies
// (auto) go out within the peer's rate limit, except those that carry the
// user's messages; the first one dropped gets a notice. Called with mu
// held.
func (p *peer) queueWire(now time.Time, out otr.Output, auto bool) (*unit, effect) {
	if len(out.Wire) == 0 {
		return nil, effect{}
	}
	mustSend := false
	for _, ev := range out.Events {
		switch ev.(type) {
		case otr.HeldSent, otr.MessageResent:
			mustSend = true // user messages: never dropped
		}
	}
	switch {
	case !auto || mustSend:
		return p.enqueue(p.m.ctx, ircconn.Privmsg, out.Wire, nil), effect{}
	case p.replies.AllowN(now, 1):
		p.throttled = false
		return p.enqueueReply(out.Wire), effect{}
	case !p.throttled:
		p.throttled = true
		p.m.log.Warn().Str("peer", p.key).Msg("Rate-limiting automatic OTR replies")
		return nil, p.notice(fmt.Sprintf("%s's OTR client keeps asking for replies (queries, errors or key exchanges); the bridge is answering at most once every %s for now.",
			p.link.Nick(), p.m.cfg.ReplyInterval))
	}
	return nil, effect{}
}

// deliveries turns the engine's messages into deliveries: decrypted text
// (emotes from "/me", HTML sanitised), and plaintext, marked when it
// arrived unencrypted during a private conversation. Protocol text the
// engine does not speak is never shown. Called with mu held.
func (p *peer) deliveries(now time.Time, out otr.Output, in *IncomingText) []effect {
	unencrypted := false
	for _, ev := range out.Events {
		if _, ok := ev.(otr.UnencryptedReceived); ok {
			unencrypted = true
		}
	}
	var fx []effect
	for _, m := range out.Messages {
		msg := IncomingText{Kind: ircconn.Privmsg, Time: now}
		if in != nil {
			msg.Kind, msg.MsgID = in.Kind, in.MsgID
			if !in.Time.IsZero() {
				msg.Time = in.Time
			}
		}
		text := m.Text
		msg.Encrypted = m.Encrypted
		if m.Encrypted {
			p.readByPeer()
			msg.Kind = ircconn.Privmsg
			if rest, ok := strings.CutPrefix(text, "/me "); ok {
				msg.Kind, text = ircconn.Action, rest
			}
			if ircfmt.LooksLikeHTML(text) {
				// Pidgin and Adium send HTML: reduced to IRC formatting
				// here, rendered for Matrix once by the connector, so no
				// markup of the peer's passes through.
				text = ircfmt.HTMLToIRC(text)
			}
		} else if strings.HasPrefix(strings.TrimSpace(text), "?OTR") {
			// An OTR v1 query, an unknown version: never shown raw.
			if !p.admitNoise(now, noiseUnsupported) {
				continue
			}
			fx = append(fx, p.notice(fmt.Sprintf("%s's client sent an OTR message the bridge does not support (OTR v1 or an unknown version); it was ignored.", p.link.Nick())))
			continue
		} else if unencrypted {
			msg.Annotation = annotationUnencrypted
		}
		msg.Text = text
		fx = append(fx, p.deliver(msg))
	}
	return fx
}

// applyEvent applies one engine event to the peer's state (trust store,
// markers, held messages) and returns the notices that explain it. u is
// the unit the call's wire lines went out in, if any. Called with mu held.
func (p *peer) applyEvent(ctx context.Context, now time.Time, ev otr.Event, u *unit) []effect {
	nick := p.link.Nick()
	notice := func(format string, args ...any) []effect {
		return []effect{p.notice(fmt.Sprintf(format, args...))}
	}
	switch ev := ev.(type) {
	case otr.GoneSecure:
		return p.goneSecure(now, ev)
	case otr.GoneInsecure:
		var fx []effect
		if p.conv.Info().State != otr.Encrypted {
			fx = append(fx, p.clearMarker())
		}
		if p.effectivePolicy()&otr.RequireEncryption != 0 {
			return append(fx, notice("The private conversation with %s has ended. Your policy requires encryption: new messages wait for a new private conversation (`!otr init`).", nick)...)
		}
		return append(fx, notice("The private conversation with %s has ended; messages are now sent unencrypted.", nick)...)
	case otr.PeerEnded:
		return append([]effect{p.clearMarker()},
			notice("%s has ended the private conversation. Your messages are refused (nothing is sent) until you run `!otr finish` to continue unencrypted or `!otr init` to start a new private conversation.", nick)...)
	case otr.UnencryptedReceived:
		if !p.warnedPlain {
			p.warnedPlain = true
			return notice("%s sent a message WITHOUT encryption; it is marked [unencrypted]. Anyone on the IRC path could read it.", nick)
		}
	case otr.ErrorReceived:
		return notice("%s's OTR client reported an error: %s", nick, shorten(ircfmt.Strip(ev.Text), 200))
	case otr.SMPAsked:
		if ev.HasQuestion {
			return notice("%s wants to verify your identity and asks: %q. Answer with %s; `!otr authabort` refuses.", nick, shorten(ircfmt.Strip(ev.Question), 300), "`!otr auth <answer>`")
		}
		return notice("%s wants to verify your identity with a shared secret. Answer with %s; `!otr authabort` refuses.", nick, "`!otr auth <secret>` with the secret you agreed on")
	case otr.SMPProgress:
		return notice("Verification with %s in progress…", nick)
	case otr.SMPSucceeded:
		return p.smpSucceeded(ctx, now, ev)
	case otr.SMPFailed:
		return notice("Verification with %s FAILED: the secrets did not match. Do not trust this conversation until you have verified %s's fingerprint another way.", nick, nick)
	case otr.SMPAborted:
		return notice("Verification with %s was aborted.", nick)
	case otr.SMPCheated:
		return notice("Verification with %s was aborted: %s's client sent invalid verification data.", nick, nick)
	case otr.HeldSent:
		if w := p.held[ev.ID]; w != nil {
			delete(p.held, ev.ID)
			if u != nil {
				p.addWaiter(u, w)
			} else {
				w <- nil
			}
		}
	case otr.HeldExpired:
		if w := p.held[ev.ID]; w != nil {
			delete(p.held, ev.ID)
			w <- p.expiredError()
		} else {
			return []effect{p.notice(p.expiredError().Error())}
		}
	case otr.HeldRefused:
		return p.keyRefused(now, ev)
	case otr.Unreadable:
		return []effect{p.notice(p.unreadableText())}
	case otr.Malformed:
		return notice("A malformed OTR message from %s was ignored (%s).", nick, ev.Reason)
	case otr.MessageResent:
		return notice("%s could not read your last message; it was resent in the new private conversation.", nick)
	}
	return nil
}

// goneSecure selects the new session and returns what records it in the
// trust store and explains it. Called with mu held.
func (p *peer) goneSecure(now time.Time, ev otr.GoneSecure) []effect {
	nick := p.link.Nick()
	// An IRC nick is one client at a time: the instance that just went
	// secure is the live one, even if a stale session with an older
	// (perhaps trusted) instance is still open. Send there.
	if err := p.conv.SelectInstance(ev.Instance); err != nil {
		p.m.log.Err(err).Msg("Selecting the new OTR instance")
	}
	if p.secureCh != nil {
		close(p.secureCh)
		p.secureCh = nil
	}
	p.setRecovering(false)
	p.akePendingUntil = time.Time{}
	p.warnedPlain, p.noticedSentPT = false, false
	fx := []effect{p.announceSecure(now, ev, nick, p.convIdent.key.Public().Fingerprint())}
	if fx1, ok := p.refusedAgain(ev.Fingerprint); ok {
		return append(fx, fx1)
	}
	// The messages the peer may have lost go out again after the notices.
	return append(fx, p.resendAfterSecure(now, ev)...)
}

// announceSecure is the effect of a new private session: it records the
// fingerprint and the private-conversation marker, then posts the notices
// that depend on what the trust store knew (a new key, whether it is
// verified). It runs on the effect queue, so the key exchange never waits
// for the database; as it posts notices, it is never refused. Called with
// mu held.
func (p *peer) announceSecure(now time.Time, ev otr.GoneSecure, nick string, ours otr.Fingerprint) effect {
	m, link, key, fp := p.m, p.link, p.key, ev.Fingerprint
	return effect{kind: effectStore, cost: effectOverhead, run: func(ctx context.Context) {
		res, err := m.cfg.DB.Fingerprints.Seen(ctx, m.cfg.User, m.cfg.Network, key, nick, fp[:], now)
		if err != nil {
			m.log.Err(err).Str("peer", key).Msg("Failed to record OTR fingerprint")
		}
		if err := m.cfg.DB.Private.Mark(ctx, m.cfg.User, m.cfg.Network, key, now); err != nil {
			m.log.Err(err).Str("peer", key).Msg("Failed to mark private conversation")
		}
		p.mu.Lock()
		trust := p.trust[fp]
		if res != nil {
			trust = res.Fingerprint.Trust
			p.trust[fp] = trust
		}
		p.mu.Unlock()
		if ev.Refreshed {
			link.Notice(ctx, fmt.Sprintf("The private conversation with %s was refreshed (new keys).", nick))
			return
		}
		if res != nil && res.New && len(res.Others) > 0 {
			link.Notice(ctx, fmt.Sprintf("⚠️ WARNING: %s is using a NEW OTR key: %s. Until now you knew %s by %s. "+
				"This happens when %s reinstalls or uses another client, but it is also what an impostor looks like. "+
				"Trust does NOT carry over: verify the new key (`!otr auth <secret>` or compare fingerprints out of band) before saying anything sensitive.",
				nick, fp, nick, formerKeys(res.Others), nick))
		}
		status := fmt.Sprintf("%s's fingerprint is NOT verified yet. Verify it with a secret only you two know (`!otr auth <secret>` or `!otr authq <question> <secret>`), or compare both fingerprints with %s over another channel and run `!otr trust`.", nick, nick)
		if trust.Trusted() {
			status = fmt.Sprintf("%s's fingerprint is verified (%s).", nick, trust)
		}
		link.Notice(ctx, fmt.Sprintf("🔒 Private conversation with %s started (OTR v%d). Their fingerprint: %s. Yours: %s. %s "+
			"The bridge decrypts the messages for you: they are private on IRC, and as private on Matrix as this room.",
			nick, ev.Version, fp, ours, status))
	}}
}

// smpSucceeded stores trust as libotr would and explains.
func (p *peer) smpSucceeded(ctx context.Context, now time.Time, ev otr.SMPSucceeded) []effect {
	nick := p.link.Nick()
	if !ev.SetTrust {
		return []effect{p.notice(fmt.Sprintf("%s verified you successfully. To verify %s in turn, ask your own question: `!otr authq <question> <secret>`.", nick, nick))}
	}
	err := p.m.cfg.DB.Fingerprints.SetTrust(ctx, p.m.cfg.User, p.m.cfg.Network, p.key, ev.Fingerprint[:], db.TrustSMP, "SMP", now)
	if err != nil {
		p.m.log.Err(err).Msg("Failed to store SMP trust")
		return []effect{p.notice(fmt.Sprintf("Verification with %s succeeded, but the trust could not be saved.", nick))}
	}
	p.trust[ev.Fingerprint] = db.TrustSMP
	return append([]effect{p.notice(fmt.Sprintf("✅ Verification with %s succeeded: fingerprint %s is now trusted.", nick, ev.Fingerprint))},
		p.acceptKey(ev.Fingerprint)...)
}

func (p *peer) finishedError() error {
	return &SendError{Err: ErrFinished, Text: fmt.Sprintf("Not sent: %s has ended the private conversation, and nothing was sent. Run `!otr finish` to continue unencrypted or `!otr init` to start a new private conversation.", p.link.Nick())}
}

// recoveringWithoutOTRError refuses a message after a restart cut off a
// private conversation with a peer whose policy is now never: only the
// user's `finish` may turn it into plaintext.
func (p *peer) recoveringWithoutOTRError() error {
	return &SendError{Err: ErrNotPrivate, Text: fmt.Sprintf("Not sent: a bridge restart cut off your private conversation with %s, and OTR is now off for this chat (policy never). Nothing was sent. Run `!otr finish` to continue unencrypted, or set a policy with OTR (`!otr policy manual`) and start a new private conversation with `!otr init`.", p.link.Nick())}
}

// expiredError fails a message that waited for a private conversation in
// vain: the bridge asked for one, and the key exchange did not complete.
// Called with mu held.
func (p *peer) expiredError() error {
	nick := p.link.Nick()
	text := fmt.Sprintf("Not sent: the key exchange with %s did not complete within %s, so there was no private conversation to send it in, and nothing was sent. "+
		"%s's client may have missed the request, have OTR switched off, or not speak OTR at all: try `!otr init` again, or ask %s to start a private conversation (irssi and WeeChat: `/otr init`; Pidgin and HexChat: the OTR menu). ",
		nick, p.m.cfg.HoldTimeout, nick, nick)
	if p.policy&otr.RequireEncryption != 0 {
		text += "Your policy for this chat (always) sends nothing unencrypted; `!otr policy manual` would allow it."
	} else {
		text += "To send unencrypted instead, run `!otr finish` and send it again."
	}
	return &SendError{Err: ErrNotPrivate, Text: text}
}

func (p *peer) unreadableText() string {
	nick := p.link.Nick()
	next := "Run `!otr init` to start a new private conversation"
	if p.effectivePolicy()&otr.ErrorStartAKE != 0 || p.effectivePolicy()&otr.RequireEncryption != 0 {
		next = "A new private conversation is being negotiated"
	}
	return fmt.Sprintf("%s sent an encrypted message the bridge cannot read (the private conversation it belongs to is gone, for example after a bridge restart). %s; then ask %s to send it again.", nick, next, nick)
}

// fingerprintText formats a stored fingerprint like otr.Fingerprint.String.
func fingerprintText(b []byte) string {
	if len(b) == len(otr.Fingerprint{}) {
		return otr.Fingerprint(b).String()
	}
	return fmt.Sprintf("%X", b)
}

// shorten cuts s to at most max bytes on a rune boundary.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// maxFormerKeys bounds the earlier keys a new-key warning names: a peer
// can present a new key in every key exchange.
const maxFormerKeys = 3

// formerKeys names a peer's earlier keys for the new-key warning: the
// verified ones first, then the most recently seen, at most maxFormerKeys,
// and how many more there are.
func formerKeys(others []*db.Fingerprint) string {
	sorted := slices.Clone(others)
	slices.SortStableFunc(sorted, func(a, b *db.Fingerprint) int {
		if a.Trust.Trusted() != b.Trust.Trusted() {
			if a.Trust.Trusted() {
				return -1
			}
			return 1
		}
		return b.LastSeen.Compare(a.LastSeen)
	})
	var names []string
	for _, o := range sorted[:min(len(sorted), maxFormerKeys)] {
		s := fingerprintText(o.Fingerprint)
		if o.Trust.Trusted() {
			s += " (verified)"
		}
		names = append(names, s)
	}
	text := strings.Join(names, ", ")
	if more := len(sorted) - len(names); more > 0 {
		text += fmt.Sprintf(" and %d other key(s) seen longer ago", more)
	}
	return text
}
