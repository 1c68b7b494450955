package otrfilter

import (
	"context"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// resolvePolicy finds the policy for a peer: services and channels never
// get OTR; otherwise the user's override for the peer, else the user's
// default for the network, else the network's default from the config.
func (f *Filter) resolvePolicy(ctx context.Context, nick, key string) (otr.Policy, db.Scope, error) {
	if f.bypass(nick) {
		return otr.PolicyNever, db.ScopeNone, nil
	}
	name, scope, err := f.cfg.DB.Policies.Effective(ctx, f.cfg.User, f.cfg.Network, key)
	if err != nil {
		return 0, 0, err
	}
	if scope == db.ScopeNone {
		name = db.Policy(f.cfg.DefaultPolicy)
	}
	pol, err := otr.ParsePolicy(string(name))
	if err != nil {
		return 0, 0, err
	}
	return pol, scope, nil
}
