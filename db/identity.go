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

// Identity is a Matrix user's long-term OTR identity on one network.
type Identity struct {
	User    id.UserID
	Network string
	// SealedKey is the private key sealed by the caller with internal/seal,
	// using KeyAssociatedData(User, Network) as associated data. The
	// database never sees the key itself.
	SealedKey   []byte
	InstanceTag uint32
	CreatedAt   time.Time
}

// KeyAssociatedData is the associated data to seal an identity's private key
// with: it binds the sealed key to its owner, so a key copied into another
// user's row does not open.
func KeyAssociatedData(user id.UserID, network string) []byte {
	return []byte("otr-identity\x00" + string(user) + "\x00" + network)
}

// IdentityStore reads and writes OTR identities.
type IdentityStore struct {
	db *dbutil.Database
}

// Get returns the identity, or nil and no error if there is none yet.
func (s *IdentityStore) Get(ctx context.Context, user id.UserID, network string) (*Identity, error) {
	var (
		ident   = Identity{User: user, Network: network}
		tag     int64
		created int64
	)
	err := s.db.QueryRow(ctx,
		"SELECT sealed_key, instance_tag, created_at FROM otr_identity WHERE user_mxid=$1 AND network=$2",
		user, network).Scan(&ident.SealedKey, &tag, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("get OTR identity of %s on %s: %w", user, network, err)
	}
	ident.InstanceTag, ident.CreatedAt = uint32(tag), fromMillis(created)
	return &ident, nil
}

// Put stores an identity, replacing the user's previous one on that network
// (a new key after "genkey").
func (s *IdentityStore) Put(ctx context.Context, ident *Identity) error {
	switch {
	case ident.User == "" || ident.Network == "":
		return errors.New("put OTR identity: empty user or network")
	case len(ident.SealedKey) == 0:
		return errors.New("put OTR identity: empty sealed key")
	case ident.InstanceTag < 0x100:
		// Tags below 0x100 are reserved by the OTRv3 protocol.
		return fmt.Errorf("put OTR identity: invalid instance tag %#x", ident.InstanceTag)
	}
	_, err := s.db.Exec(ctx, `
		INSERT INTO otr_identity (user_mxid, network, sealed_key, instance_tag, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_mxid, network) DO UPDATE
			SET sealed_key=excluded.sealed_key, instance_tag=excluded.instance_tag, created_at=excluded.created_at`,
		ident.User, ident.Network, ident.SealedKey, int64(ident.InstanceTag), toMillis(ident.CreatedAt))
	if err != nil {
		return fmt.Errorf("put OTR identity of %s on %s: %w", ident.User, ident.Network, err)
	}
	return nil
}

// Delete removes the identity; it reports whether there was one.
func (s *IdentityStore) Delete(ctx context.Context, user id.UserID, network string) (bool, error) {
	res, err := s.db.Exec(ctx, "DELETE FROM otr_identity WHERE user_mxid=$1 AND network=$2", user, network)
	if err != nil {
		return false, fmt.Errorf("delete OTR identity of %s on %s: %w", user, network, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// List returns the user's identities on all networks, by network.
func (s *IdentityStore) List(ctx context.Context, user id.UserID) ([]*Identity, error) {
	rows, err := s.db.Query(ctx,
		"SELECT network, sealed_key, instance_tag, created_at FROM otr_identity WHERE user_mxid=$1 ORDER BY network", user)
	if err != nil {
		return nil, fmt.Errorf("list OTR identities of %s: %w", user, err)
	}
	var out []*Identity
	err = forRows(rows, func() error {
		ident := &Identity{User: user}
		var tag, created int64
		if err := rows.Scan(&ident.Network, &ident.SealedKey, &tag, &created); err != nil {
			return err
		}
		ident.InstanceTag, ident.CreatedAt = uint32(tag), fromMillis(created)
		out = append(out, ident)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list OTR identities of %s: %w", user, err)
	}
	return out, nil
}
