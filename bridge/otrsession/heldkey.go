package otrsession

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// A message held for a private conversation (policy always, a bridge
// restart, a peer that left IRC) was written before anyone knew who would
// answer the key exchange: whoever has the peer's nick by then does. The
// nick does not decide who reads it, the key does: held messages go only
// to a key the peer is known by (the key of the private conversation the
// peer lost, or one in the trust store), or, at first contact (no key
// known at all), to the first. Otherwise the key is refused
// (otr.Config.HeldMayGoTo): the held messages fail at once, each with its
// own status and notice, a loud notice says what happened, and every
// message the user sends to that conversation fails the same way (Send
// does not wait, so the portal's queue, and with it the notices, keeps
// moving) until the user verifies the key (`!otr auth`, `!otr trust`) or
// ends the conversation (`!otr finish`). A refused key stays refused,
// though the key exchange put it in the trust store (which records the
// refusal), until the user verifies it.

// maxRefusedKeys bounds the refused keys remembered per peer: a peer can
// present a new key in every key exchange.
const maxRefusedKeys = 16

// heldMayGoTo reports whether held messages may go to a private
// conversation with the peer key fp. Called with mu held (by the engine).
func (p *peer) heldMayGoTo(fp otr.Fingerprint) bool {
	if slices.Contains(p.refusedKeys, fp) {
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
// one it is known by, unless it was refused. Called with mu held, before
// the conversation ends.
func (p *peer) rememberLostKey() {
	inf := p.conv.Info()
	if _, refused := p.conv.RefusedKey(); refused || !inf.HasFingerprint {
		return
	}
	p.formerKey, p.hasFormerKey = inf.Fingerprint, true
}

// refuseKey remembers fp as refused. Called with mu held.
func (p *peer) refuseKey(fp otr.Fingerprint) {
	if !slices.Contains(p.refusedKeys, fp) {
		if len(p.refusedKeys) == maxRefusedKeys {
			p.refusedKeys = p.refusedKeys[1:]
		}
		p.refusedKeys = append(p.refusedKeys, fp)
	}
}

// keyRefused handles otr.HeldRefused: the held messages fail, the key is
// refused from now on (also in the trust store, so that a restart or an
// idle peer forgotten does not make it a known key), and the user is told
// loudly what happened and what to do. Called with mu held.
func (p *peer) keyRefused(now time.Time, ev otr.HeldRefused) []effect {
	p.refuseKey(ev.Fingerprint)
	fp, key := ev.Fingerprint, p.key
	persist := p.store("Failed to record a refused OTR key", func(ctx context.Context, d *db.Database) error {
		return d.Fingerprints.Refuse(ctx, p.m.cfg.User, p.m.cfg.Network, key, fp[:], now)
	})
	failed := p.keyRefusedError(ev.Fingerprint)
	for _, id := range ev.IDs {
		if w := p.held[id]; w != nil {
			delete(p.held, id)
			w <- failed
		}
	}
	nick := p.link.Nick()
	what := ""
	switch n := len(ev.IDs); {
	case n == 1:
		what = "Your message that waited for it was NOT sent. "
	case n > 1:
		what = fmt.Sprintf("Your %d messages that waited for it were NOT sent. ", n)
	}
	return []effect{persist, p.notice(fmt.Sprintf("⚠️ The private conversation that just came up with %s is with the key %s, and you know %s by %s. "+
		"Whoever has the nick %s now answered; IRC cannot tell whether that is the same person, only the key can. %s"+
		"Messages to this conversation are refused until you verify the key: `!otr auth <secret>` or `!otr authq <question> <secret>`, "+
		"or compare fingerprints out of band and run `!otr trust`; then send again. `!otr finish` ends this conversation.",
		nick, ev.Fingerprint, nick, p.knownKeysText(), nick, what))}
}

// refusedAgain is the notice for a private conversation that came up with
// a key refused earlier, when no held message was refused to it now (the
// engine's HeldRefused has its own notice): Send refuses messages to it
// until the user verifies the key. Called with mu held.
func (p *peer) refusedAgain(fp otr.Fingerprint) (effect, bool) {
	if !slices.Contains(p.refusedKeys, fp) {
		return effect{}, false
	}
	if now, ok := p.conv.RefusedKey(); ok && now == fp {
		return effect{}, false
	}
	nick := p.link.Nick()
	return p.notice(fmt.Sprintf("⚠️ The private conversation that just came up with %s is with the key %s, which you refused earlier: it answered in place of the key you know %s by. "+
		"Messages to this conversation are refused until you verify the key: `!otr auth <secret>` or `!otr authq <question> <secret>`, "+
		"or compare fingerprints out of band and run `!otr trust`. `!otr finish` ends this conversation.", nick, fp, nick)), true
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
		if (!p.hasFormerKey || fp != p.formerKey) && !slices.Contains(p.refusedKeys, fp) {
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

// acceptKey: the user verified fp, which is refused no more; if the
// private conversation is with it, messages go to it again. Called with
// mu held.
func (p *peer) acceptKey(fp otr.Fingerprint) []effect {
	p.refusedKeys = slices.DeleteFunc(p.refusedKeys, func(k otr.Fingerprint) bool { return k == fp })
	if p.conv == nil {
		return nil
	}
	if refused, ok := p.conv.RefusedKey(); !ok || refused != fp {
		return nil
	}
	p.conv.AcceptKey(fp)
	return []effect{p.notice(fmt.Sprintf("You verified %s's key %s: your messages go to this private conversation again. Send again what was not sent.", p.link.Nick(), fp))}
}

// keyRefusedError fails a message to a private conversation whose key the
// user has not verified. Called with mu held.
func (p *peer) keyRefusedError(fp otr.Fingerprint) error {
	nick := p.link.Nick()
	return &SendError{Err: ErrKeyRefused, Text: fmt.Sprintf("Not sent: the private conversation with %s is with the key %s, which is not one you know %s by, so nothing was sent. "+
		"If it is %s, verify the key (`!otr auth <secret>`, or `!otr trust` after comparing fingerprints) and send it again; `!otr finish` ends that conversation.",
		nick, fp, nick, nick)}
}
