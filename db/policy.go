package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// Policy is a user's OTR policy override, by name.
type Policy string

const (
	PolicyNever         Policy = "never"
	PolicyManual        Policy = "manual"
	PolicyOpportunistic Policy = "opportunistic"
	PolicyAlways        Policy = "always"
)

// Valid reports whether p is one of the defined policies.
func (p Policy) Valid() bool {
	switch p {
	case PolicyNever, PolicyManual, PolicyOpportunistic, PolicyAlways:
		return true
	}
	return false
}

// DefaultPeer is the peer value of a user's default policy for a network.
const DefaultPeer = ""

// Scope says where an effective policy came from.
type Scope int

const (
	ScopeNone Scope = iota // no override: use the network default from the config
	ScopeUser              // the user's default for the network
	ScopePeer              // the user's override for this peer
)

// PolicyOverride is one stored override.
type PolicyOverride struct {
	User      id.UserID
	Network   string
	Peer      string // DefaultPeer for the user's default
	Policy    Policy
	UpdatedAt time.Time
}

// PolicyStore reads and writes policy overrides.
type PolicyStore struct {
	db *dbutil.Database
}

// Get returns the override for exactly (user, network, peer); ok is false if
// there is none.
func (s *PolicyStore) Get(ctx context.Context, user id.UserID, network, peer string) (p Policy, ok bool, err error) {
	var name string
	err = s.db.QueryRow(ctx, "SELECT policy FROM otr_policy WHERE user_mxid=$1 AND network=$2 AND peer=$3",
		user, network, peer).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	} else if err != nil {
		return "", false, fmt.Errorf("get OTR policy: %w", err)
	}
	return Policy(name), true, nil
}

// Effective returns the policy that applies to peer: the peer override, else
// the user's default for the network; with ScopeNone the caller uses the
// network default from the config.
func (s *PolicyStore) Effective(ctx context.Context, user id.UserID, network, peer string) (Policy, Scope, error) {
	var (
		name   string
		ofPeer string
	)
	err := s.db.QueryRow(ctx, `
		SELECT policy, peer FROM otr_policy
		WHERE user_mxid=$1 AND network=$2 AND (peer=$3 OR peer='')
		ORDER BY peer DESC LIMIT 1`, user, network, peer).Scan(&name, &ofPeer)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ScopeNone, nil
	} else if err != nil {
		return "", ScopeNone, fmt.Errorf("get effective OTR policy: %w", err)
	}
	if ofPeer == DefaultPeer {
		return Policy(name), ScopeUser, nil
	}
	return Policy(name), ScopePeer, nil
}

// Set stores an override; peer DefaultPeer sets the user's default.
func (s *PolicyStore) Set(ctx context.Context, user id.UserID, network, peer string, p Policy, now time.Time) error {
	if !p.Valid() {
		return fmt.Errorf("set OTR policy: unknown policy %q", p)
	}
	if user == "" || network == "" {
		return errors.New("set OTR policy: empty user or network")
	}
	_, err := s.db.Exec(ctx, `
		INSERT INTO otr_policy (user_mxid, network, peer, policy, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_mxid, network, peer) DO UPDATE SET policy=excluded.policy, updated_at=excluded.updated_at`,
		user, network, peer, string(p), toMillis(now))
	if err != nil {
		return fmt.Errorf("set OTR policy: %w", err)
	}
	return nil
}

// Delete removes an override; it reports whether there was one.
func (s *PolicyStore) Delete(ctx context.Context, user id.UserID, network, peer string) (bool, error) {
	res, err := s.db.Exec(ctx, "DELETE FROM otr_policy WHERE user_mxid=$1 AND network=$2 AND peer=$3", user, network, peer)
	if err != nil {
		return false, fmt.Errorf("delete OTR policy: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// List returns the user's overrides on a network (all networks if network is
// empty), the default first, then by peer.
func (s *PolicyStore) List(ctx context.Context, user id.UserID, network string) ([]*PolicyOverride, error) {
	rows, err := s.db.Query(ctx, `
		SELECT network, peer, policy, updated_at FROM otr_policy
		WHERE user_mxid=$1 AND ($2='' OR network=$2) ORDER BY network, peer`, user, network)
	if err != nil {
		return nil, fmt.Errorf("list OTR policies: %w", err)
	}
	var out []*PolicyOverride
	err = forRows(rows, func() error {
		o := &PolicyOverride{User: user}
		var (
			name string
			ms   int64
		)
		if err := rows.Scan(&o.Network, &o.Peer, &name, &ms); err != nil {
			return err
		}
		o.Policy, o.UpdatedAt = Policy(name), fromMillis(ms)
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list OTR policies: %w", err)
	}
	return out, nil
}
