package otrsession

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/otr"
)

// A message held for a private conversation (policy always, a bridge
// restart, a peer that left IRC) was written before anyone knew who would
// answer the key exchange: whoever has the peer's nick by then does. The
// nick does not decide who reads it, the key does: held messages go only
// to a key the peer is known by (the key of the private conversation the
// peer lost, or one in the trust store), or, at first contact (no key
// known at all), to the first. Otherwise they are kept back
// (otr.Config.HeldMayGoTo), with a loud notice, and so is every message
// sent after them, until the user verifies the key (`!otr auth`, `!otr
// trust`: they go out), gives up (`!otr finish`: each fails visibly) or the
// hold timeout fails them. A key they were kept back from stays refused
// while the manager knows the peer, even once it is in the trust store
// (the key exchange puts it there), until the user verifies it.

// maxKeptFrom bounds the refused keys remembered per peer: a peer can
// present a new key in every key exchange.
const maxKeptFrom = 16

// heldMayGoTo reports whether held messages may go to a private
// conversation with the peer key fp. Called with mu held (by the engine).
func (p *peer) heldMayGoTo(fp otr.Fingerprint) bool {
	if slices.Contains(p.keptFrom, fp) {
		return false
	}
	if p.hasFormerKey && fp == p.formerKey {
		return true
	}
	if _, stored := p.trust[fp]; stored {
		return true
	}
	return !p.hasFormerKey && len(p.trust) == 0
}

// rememberLostKey records the key of a private conversation the peer lost,
// one it is known by, unless messages were kept back from it. Called with
// mu held, before the conversation ends.
func (p *peer) rememberLostKey() {
	inf := p.conv.Info()
	if _, kept := p.conv.HeldKeptBack(); kept || !inf.HasFingerprint {
		return
	}
	p.formerKey, p.hasFormerKey = inf.Fingerprint, true
}

// keptBack handles otr.HeldKeptBack: the key is refused from now on, and
// the user is told loudly what waits and what to do. Called with mu held.
func (p *peer) keptBack(now time.Time, ev otr.HeldKeptBack) effect {
	if !slices.Contains(p.keptFrom, ev.Fingerprint) {
		if len(p.keptFrom) == maxKeptFrom {
			p.keptFrom = p.keptFrom[1:]
		}
		p.keptFrom = append(p.keptFrom, ev.Fingerprint)
	}
	nick := p.link.Nick()
	what := "Your messages to " + nick + " are"
	switch {
	case ev.Held == 1:
		what = "Your message waiting for " + nick + " is"
	case ev.Held > 1:
		what = fmt.Sprintf("Your %d messages waiting for %s are", ev.Held, nick)
	}
	return p.notice(fmt.Sprintf("⚠️ %s KEPT BACK, not sent: the private conversation that just came up is with the key %s, "+
		"and you know %s by %s. Whoever has the nick %s now answered; IRC cannot tell whether that is the same person, only the key can. "+
		"If it is %s (a new install, another client), verify the key (`!otr auth <secret>` or `!otr authq <question> <secret>`, "+
		"or compare fingerprints out of band and run `!otr trust`): what waits is then sent to it. `!otr finish` drops it; "+
		"otherwise it fails at %s UTC. Messages you send meanwhile wait the same way.",
		what, ev.Fingerprint, nick, p.knownKeysText(), nick, nick, now.Add(p.m.cfg.HoldTimeout).UTC().Format("15:04:05")))
}

// knownKeysText names the keys the peer is known by, at most
// maxFormerKeys. Called with mu held.
func (p *peer) knownKeysText() string {
	name := func(fp otr.Fingerprint) string {
		if p.trust[fp].Trusted() {
			return fp.String() + " (verified)"
		}
		return fp.String()
	}
	var names []string
	if p.hasFormerKey {
		names = append(names, name(p.formerKey))
	}
	var stored []otr.Fingerprint
	for fp := range p.trust {
		if (!p.hasFormerKey || fp != p.formerKey) && !slices.Contains(p.keptFrom, fp) {
			stored = append(stored, fp)
		}
	}
	slices.SortFunc(stored, func(a, b otr.Fingerprint) int {
		if ta, tb := p.trust[a].Trusted(), p.trust[b].Trusted(); ta != tb {
			if ta {
				return -1
			}
			return 1
		}
		return strings.Compare(a.String(), b.String())
	})
	for _, fp := range stored[:min(len(stored), maxFormerKeys-len(names))] {
		names = append(names, name(fp))
	}
	text := strings.Join(names, ", ")
	total := len(stored)
	if p.hasFormerKey {
		total++
	}
	if more := total - len(names); more > 0 {
		text += fmt.Sprintf(" and %d other key(s)", more)
	}
	return text
}

// acceptKey: the user verified fp. It is no longer refused, and messages
// kept back from the private conversation with it go out now. Called with
// mu held.
func (p *peer) acceptKey(ctx context.Context, now time.Time, fp otr.Fingerprint) []effect {
	p.keptFrom = slices.DeleteFunc(p.keptFrom, func(k otr.Fingerprint) bool { return k == fp })
	if p.conv == nil {
		return nil
	}
	if kept, ok := p.conv.HeldKeptBack(); !ok || kept != fp {
		return nil
	}
	out, err := p.conv.ReleaseHeld(now, fp)
	n := 0
	for _, ev := range out.Events {
		if _, ok := ev.(otr.HeldSent); ok {
			n++
		}
	}
	fx := p.handleOutput(ctx, now, out, nil, false)
	nick := p.link.Nick()
	if err != nil {
		p.m.log.Err(err).Msg("Sending messages kept back failed")
		return append(fx, p.notice(fmt.Sprintf("The messages kept back for %s could not all be encrypted; those not sent fail when their time is up. Send them again.", nick)))
	}
	if n == 0 {
		return append(fx, p.notice(fmt.Sprintf("You verified %s's key %s: your messages go to it again.", nick, fp)))
	}
	return append(fx, p.notice(fmt.Sprintf("You verified %s's key %s: sent the %d message(s) kept back.", nick, fp, n)))
}

// keptBackError fails a message kept back from a key the user did not
// verify in time. Called with mu held.
func (p *peer) keptBackError(fp otr.Fingerprint) error {
	nick := p.link.Nick()
	return &SendError{Err: ErrNotPrivate, Text: fmt.Sprintf("Not sent: the private conversation with %s is with the key %s, which is not one you know %s by, "+
		"and you did not verify it within %s, so nothing was sent. If it is %s, verify the key (`!otr auth <secret>`, or `!otr trust` after comparing fingerprints) and send it again; `!otr finish` ends that conversation.",
		nick, fp, nick, p.m.cfg.HoldTimeout, nick)}
}
