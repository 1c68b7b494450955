package otrfilter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/otrbridge/otrbridge/bridge"
	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// cmdInfo describes the conversation with a peer.
func (f *Filter) cmdInfo(ctx context.Context, p *peer, link bridge.PeerLink) (string, error) {
	p.mu.Lock()
	p.link = link
	if err := p.loadPolicy(ctx); err != nil {
		p.mu.Unlock()
		return "", err
	}
	nick := link.Nick()
	var b strings.Builder
	fmt.Fprintf(&b, "OTR with %s: %s.\n", nick, p.state())
	if p.conv != nil {
		inf := p.conv.Info()
		if inf.Version != 0 {
			fmt.Fprintf(&b, "Protocol: OTR v%d; their instance %s, ours %s.\n", inf.Version, inf.TheirInstance, inf.OurInstance)
		}
		if inf.HasFingerprint {
			fmt.Fprintf(&b, "Their fingerprint: %s (%s).\n", inf.Fingerprint, trustText(p.trust[inf.Fingerprint]))
		}
		if inf.State == otr.Encrypted {
			fmt.Fprintf(&b, "Session ID: %s\n", ssidText(inf))
		}
		switch inf.SMP {
		case otr.SMPWaitingForSecret:
			fmt.Fprintf(&b, "Verification: %s is waiting for your answer (`!otr auth <secret>`).\n", nick)
		case otr.SMPInProgress:
			b.WriteString("Verification: in progress.\n")
		}
	}
	if p.recovering {
		b.WriteString("Messages are held until a new private conversation is up (the bridge restarted during the last one).\n")
	}
	scope := map[db.Scope]string{db.ScopeNone: "network default", db.ScopeUser: "your default on this network", db.ScopePeer: "set for this chat"}[p.policyScope]
	if f.bypass(nick) {
		scope = "services never get OTR"
	}
	fmt.Fprintf(&b, "Policy: %s (%s).\n", policyName(p.policy), scope)
	p.mu.Unlock()
	if id := f.identity(); id.isReady() && id.err == nil {
		fmt.Fprintf(&b, "Your fingerprint: %s\n", id.key.Public().Fingerprint())
	}
	fps, err := f.cfg.DB.Fingerprints.List(ctx, f.cfg.User, f.cfg.Network, p.key)
	if err != nil {
		return "", err
	}
	if len(fps) > 0 {
		b.WriteString("Known fingerprints:")
		for _, r := range fps {
			fmt.Fprintf(&b, "\n  %s — %s; seen %s to %s as %s", fingerprintText(r.Fingerprint), trustText(r.Trust),
				r.FirstSeen.UTC().Format("2006-01-02"), r.LastSeen.UTC().Format("2006-01-02"), strings.Join(r.Nicks, ", "))
			if r.Trust.Trusted() && r.VerifiedHow != "" {
				fmt.Fprintf(&b, " (verified %s, %s)", r.VerifiedHow, r.VerifiedAt.UTC().Format("2006-01-02"))
			}
		}
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// ssidText shows the session ID as libotr does: the half to read out
// loud to the peer in bold.
func ssidText(inf otr.Info) string {
	a := fmt.Sprintf("%X", inf.SSID[:4])
	c := fmt.Sprintf("%X", inf.SSID[4:])
	if inf.SSIDHighHalf {
		return fmt.Sprintf("%s **%s** (compare with the peer's)", a, c)
	}
	return fmt.Sprintf("**%s** %s (compare with the peer's)", a, c)
}

func trustText(t db.Trust) string {
	switch t {
	case db.TrustSMP:
		return "verified by SMP"
	case db.TrustManual:
		return "verified by you"
	}
	return "NOT verified"
}

func policyName(p otr.Policy) string {
	for _, n := range []db.Policy{db.PolicyNever, db.PolicyManual, db.PolicyOpportunistic, db.PolicyAlways} {
		if q, _ := otr.ParsePolicy(string(n)); q == p {
			return string(n)
		}
	}
	return p.String()
}

// cmdContexts lists all peers with a conversation.
func (f *Filter) cmdContexts() string {
	peers := f.allPeers()
	var lines []string
	for _, p := range peers {
		p.mu.Lock()
		if p.conv != nil {
			l := fmt.Sprintf("%s: %s", p.link.Nick(), p.state())
			for _, inf := range p.conv.Instances() {
				l += fmt.Sprintf("\n  instance %s: %s", inf.TheirInstance, inf.State)
				if inf.Version != 0 {
					l += fmt.Sprintf(", v%d", inf.Version)
				}
				if inf.HasFingerprint {
					l += fmt.Sprintf(", %s (%s)", inf.Fingerprint, trustText(p.trust[inf.Fingerprint]))
				}
			}
			lines = append(lines, l)
		}
		p.mu.Unlock()
	}
	if len(lines) == 0 {
		return "No OTR conversations since the bridge started."
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// cmdTrust implements trust, distrust and forget.
func (f *Filter) cmdTrust(ctx context.Context, p *peer, link bridge.PeerLink, name string, args []string) (string, error) {
	p.mu.Lock()
	p.link = link
	var cur otr.Fingerprint
	hasCur, active := false, false
	if p.conv != nil {
		inf := p.conv.Info()
		cur, hasCur, active = inf.Fingerprint, inf.HasFingerprint, inf.State == otr.Encrypted
	}
	p.mu.Unlock()
	var fp otr.Fingerprint
	switch {
	case len(args) > 0:
		var err error
		if fp, err = otr.ParseFingerprint(strings.Join(args, "")); err != nil {
			return "", fmt.Errorf("not a fingerprint: %w", err)
		}
	case hasCur:
		fp = cur
	default:
		return "", fmt.Errorf("no fingerprint of %s known in this session; give one (`%s <fingerprint>`)", link.Nick(), name)
	}
	now := f.clock.Now()
	u, n := f.cfg.User, f.cfg.Network
	rec, err := f.cfg.DB.Fingerprints.Get(ctx, u, n, p.key, fp[:])
	if err != nil {
		return "", err
	}
	if rec == nil {
		return "", fmt.Errorf("%s is not a known fingerprint of %s (`!otr info` lists them)", fp, link.Nick())
	}
	var reply string
	var trust db.Trust
	switch name {
	case "trust":
		trust = db.TrustManual
		if err := f.cfg.DB.Fingerprints.SetTrust(ctx, u, n, p.key, fp[:], trust, "manually", now); err != nil {
			return "", err
		}
		reply = fmt.Sprintf("You now trust %s's fingerprint %s.", link.Nick(), fp)
	case "distrust":
		trust = db.TrustNone
		if err := f.cfg.DB.Fingerprints.SetTrust(ctx, u, n, p.key, fp[:], trust, "", now); err != nil {
			return "", err
		}
		reply = fmt.Sprintf("%s's fingerprint %s is no longer trusted.", link.Nick(), fp)
	case "forget":
		if active && fp == cur {
			return "", fmt.Errorf("%s is in use by the private conversation; `!otr finish` it first", fp)
		}
		if _, err := f.cfg.DB.Fingerprints.Forget(ctx, u, n, p.key, fp[:]); err != nil {
			return "", err
		}
		reply = fmt.Sprintf("Forgot %s's fingerprint %s.", link.Nick(), fp)
	}
	p.mu.Lock()
	if name == "forget" {
		delete(p.trust, fp)
	} else {
		p.trust[fp] = trust
	}
	var fx []func(context.Context)
	if e := p.stateEffect(); e != nil {
		fx = append(fx, e)
	}
	p.unlockInOrder(ctx, fx)
	return reply, nil
}

// cmdPolicyPeer shows or sets the policy for one peer.
func (f *Filter) cmdPolicyPeer(ctx context.Context, p *peer, link bridge.PeerLink, args []string) (string, error) {
	nick := link.Nick()
	if len(args) == 0 {
		p.mu.Lock()
		p.link = link
		err := p.loadPolicy(ctx)
		pol, scope := p.policy, p.policyScope
		p.mu.Unlock()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("OTR policy for %s: %s (%s).", nick, policyName(pol), map[db.Scope]string{db.ScopeNone: "network default", db.ScopeUser: "your default", db.ScopePeer: "set for this chat"}[scope]), nil
	}
	if f.bypass(nick) {
		return "", fmt.Errorf("%s is a service (or a channel): it never gets OTR", nick)
	}
	word := strings.ToLower(args[0])
	if word == "reset" {
		if _, err := f.cfg.DB.Policies.Delete(ctx, f.cfg.User, f.cfg.Network, p.key); err != nil {
			return "", err
		}
	} else {
		if !db.Policy(word).Valid() {
			return "", fmt.Errorf("unknown policy %q: use never, manual, opportunistic or always", args[0])
		}
		if err := f.cfg.DB.Policies.Set(ctx, f.cfg.User, f.cfg.Network, p.key, db.Policy(word), f.clock.Now()); err != nil {
			return "", err
		}
	}
	f.applyPolicy(ctx, p)
	p.mu.Lock()
	pol := p.policy
	p.mu.Unlock()
	return fmt.Sprintf("OTR policy for %s is now %s.", nick, policyName(pol)), nil
}

// cmdPolicyDefault shows or sets the user's default policy on the network.
func (f *Filter) cmdPolicyDefault(ctx context.Context, args []string) (string, error) {
	if len(args) == 0 {
		pol, ok, err := f.cfg.DB.Policies.Get(ctx, f.cfg.User, f.cfg.Network, db.DefaultPeer)
		if err != nil {
			return "", err
		}
		if !ok {
			return fmt.Sprintf("Your OTR policy on %s: %s (network default).", f.cfg.Network, f.cfg.DefaultPolicy), nil
		}
		return fmt.Sprintf("Your OTR policy on %s: %s (network default: %s).", f.cfg.Network, pol, f.cfg.DefaultPolicy), nil
	}
	word := strings.ToLower(args[0])
	if word == "reset" {
		if _, err := f.cfg.DB.Policies.Delete(ctx, f.cfg.User, f.cfg.Network, db.DefaultPeer); err != nil {
			return "", err
		}
		word = f.cfg.DefaultPolicy
	} else {
		if !db.Policy(word).Valid() {
			return "", fmt.Errorf("unknown policy %q: use never, manual, opportunistic or always", args[0])
		}
		if err := f.cfg.DB.Policies.Set(ctx, f.cfg.User, f.cfg.Network, db.DefaultPeer, db.Policy(word), f.clock.Now()); err != nil {
			return "", err
		}
	}
	for _, p := range f.allPeers() {
		f.applyPolicy(ctx, p)
	}
	return fmt.Sprintf("Your OTR policy on %s is now %s (chats with their own policy keep it).", f.cfg.Network, word), nil
}

// applyPolicy reloads a peer's policy; turning OTR off ends its private
// conversation.
func (f *Filter) applyPolicy(ctx context.Context, p *peer) {
	p.mu.Lock()
	p.policyValid = false
	if err := p.loadPolicy(ctx); err != nil {
		p.mu.Unlock()
		f.log.Err(err).Msg("Failed to reload OTR policy")
		return
	}
	var fx []func(context.Context)
	if p.policy == otr.PolicyNever && p.conv != nil {
		now := f.clock.Now()
		out, err := p.conv.End(now)
		if err != nil {
			f.log.Err(err).Msg("Ending OTR session")
		}
		p.enqueue(f.ctx, ircconn.Privmsg, out.Wire, nil)
		out.Wire = nil
		fx = p.handleOutput(ctx, now, out, nil, false)
		p.failHeld(&SendError{Err: ErrNotPrivate, Text: "Not sent: OTR was turned off for this chat while the message waited for a private conversation."})
		p.conv = nil
		p.setRecovering(false)
		p.clearMarker(ctx)
		if e := p.stateEffect(); e != nil {
			fx = append(fx, e)
		}
	}
	p.unlockInOrder(ctx, fx)
}

// cmdFinishAll ends every private conversation.
func (f *Filter) cmdFinishAll(ctx context.Context) string {
	n := 0
	for _, p := range f.allPeers() {
		p.mu.Lock()
		p.setRecovering(false)
		if p.conv == nil || p.conv.Info().State == otr.Plaintext {
			p.mu.Unlock()
			continue
		}
		now := f.clock.Now()
		out, err := p.conv.End(now)
		if err != nil {
			f.log.Err(err).Msg("Ending OTR session")
		}
		p.enqueue(f.ctx, ircconn.Privmsg, out.Wire, nil)
		out.Wire = nil
		p.clearMarker(ctx)
		fx := p.handleOutput(ctx, now, out, nil, false)
		p.unlockInOrder(ctx, fx)
		n++
	}
	return fmt.Sprintf("Ended %d private conversation(s).", n)
}

// cmdGenkey replaces the identity key after confirmation.
func (f *Filter) cmdGenkey(ctx context.Context, args []string) (string, error) {
	if len(args) == 0 || !strings.EqualFold(args[0], "confirm") {
		return "This replaces your OTR key on " + f.cfg.Network + ": your fingerprint changes, every private conversation ends, " +
			"and your peers see a new-key warning and must verify you again. Run `!otr genkey confirm` to go ahead.", nil
	}
	key, tag, err := f.loadOrGenerate(ctx, true)
	if err != nil {
		return "", err
	}
	id := &identity{ready: make(chan struct{}), key: key, tag: tag}
	close(id.ready)
	f.replaceIdentity(ctx, id)
	return fmt.Sprintf("New OTR key generated. Your fingerprint on %s is now %s.", f.cfg.Network, key.Public().Fingerprint()), nil
}

// ImportLibotrKey imports the key of one account from a libotr private key
// file (otr.private_key), replacing the current identity. account picks
// the account when the file has several ("" works when there is one).
func (f *Filter) ImportLibotrKey(ctx context.Context, file []byte, account string) (string, error) {
	keys, err := otr.ImportLibotrPrivateKeys(bytes.NewReader(file))
	if err != nil {
		return "", fmt.Errorf("not a usable libotr private key file: %w", err)
	}
	var chosen *otr.AccountKey
	var names []string
	for i, k := range keys {
		names = append(names, k.Account+" ("+k.Protocol+")")
		if account == "" && len(keys) == 1 || account != "" && strings.EqualFold(k.Account, account) {
			chosen = &keys[i]
		}
	}
	if chosen == nil {
		if len(keys) == 0 {
			return "", errors.New("the file contains no keys")
		}
		return "", fmt.Errorf("the file has keys for %s; say which account to import", strings.Join(names, ", "))
	}
	tag := otr.InstanceTag(0)
	if id := f.identity(); id.isReady() && id.err == nil {
		tag = id.tag
	}
	if tag == 0 {
		if tag, err = otr.NewInstanceTag(f.rand()); err != nil {
			return "", err
		}
	}
	if err := f.storeIdentity(ctx, chosen.Key, tag); err != nil {
		return "", err
	}
	id := &identity{ready: make(chan struct{}), key: chosen.Key, tag: tag}
	close(id.ready)
	f.replaceIdentity(ctx, id)
	return fmt.Sprintf("Imported the key of %s. Your fingerprint on %s is now %s.", chosen.Account, f.cfg.Network, chosen.Key.Public().Fingerprint()), nil
}

// ImportLibotrFingerprints imports a libotr fingerprints file: every
// fingerprint of a peer the bridge can resolve is stored, with libotr's
// trust (any non-empty trust counts as verified). account, if not empty,
// keeps only that account's lines.
func (f *Filter) ImportLibotrFingerprints(ctx context.Context, file []byte, account string) (string, error) {
	fps, err := otr.ParseLibotrFingerprints(bytes.NewReader(file))
	if err != nil {
		return "", fmt.Errorf("not a usable libotr fingerprints file: %w", err)
	}
	if f.cfg.Resolve == nil {
		return "", errors.New("importing fingerprints is not available on this bridge")
	}
	now := f.clock.Now()
	imported, trusted, skipped := 0, 0, 0
	for _, kf := range fps {
		if account != "" && !strings.EqualFold(kf.Account, account) {
			continue
		}
		nick, _, _ := strings.Cut(kf.Username, "@") // Pidgin writes nick@server
		link, err := f.cfg.Resolve(ctx, nick)
		if err != nil {
			skipped++
			continue
		}
		key := peerKey(link)
		if _, err := f.cfg.DB.Fingerprints.Seen(ctx, f.cfg.User, f.cfg.Network, key, link.Nick(), kf.Fingerprint[:], now); err != nil {
			return "", err
		}
		imported++
		if kf.Trust != "" {
			if err := f.cfg.DB.Fingerprints.SetTrust(ctx, f.cfg.User, f.cfg.Network, key, kf.Fingerprint[:], db.TrustManual, "libotr import ("+kf.Trust+")", now); err != nil {
				return "", err
			}
			trusted++
		}
		if p := f.existingPeer(link.PeerID()); p != nil && kf.Trust != "" {
			p.mu.Lock()
			p.trust[kf.Fingerprint] = db.TrustManual
			p.mu.Unlock()
			p.refreshState(ctx)
		}
	}
	msg := fmt.Sprintf("Imported %d fingerprint(s), %d of them verified.", imported, trusted)
	if skipped > 0 {
		msg += fmt.Sprintf(" Skipped %d with a name that is not a valid nick.", skipped)
	}
	return msg, nil
}

// ExportFingerprints writes the trust store of this network in libotr's
// fingerprints file format (trust "verified" for manual, "smp" for SMP).
func (f *Filter) ExportFingerprints(ctx context.Context) ([]byte, error) {
	recs, err := f.cfg.DB.Fingerprints.List(ctx, f.cfg.User, f.cfg.Network, "")
	if err != nil {
		return nil, err
	}
	account := f.cfg.Account
	if account == "" {
		account = f.cfg.Network
	}
	var out []otr.KnownFingerprint
	for _, r := range recs {
		if len(r.Fingerprint) != len(otr.Fingerprint{}) {
			continue
		}
		nick := r.Peer
		if len(r.Nicks) > 0 {
			nick = r.Nicks[len(r.Nicks)-1]
		}
		kf := otr.KnownFingerprint{Username: nick, Account: account, Protocol: "prpl-irc", Fingerprint: otr.Fingerprint(r.Fingerprint)}
		switch r.Trust {
		case db.TrustSMP:
			kf.Trust = "smp"
		case db.TrustManual:
			kf.Trust = "verified"
		}
		out = append(out, kf)
	}
	var b bytes.Buffer
	if len(out) == 0 {
		return nil, nil
	}
	if err := otr.WriteLibotrFingerprints(&b, out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
