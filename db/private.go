package db

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// PrivateMarker records that a DM portal has (or had, when the bridge
// stopped) a private OTR conversation.
type PrivateMarker struct {
	User    id.UserID
	Network string
	Peer    string
	Since   time.Time
}

// PrivateStore keeps the markers. The bridge sets one when a conversation
// becomes private and clears it when the conversation ends; whatever is left
// at startup belongs to conversations a restart cut off.
type PrivateStore struct {
	db *dbutil.Database
}

// Mark notes that the conversation with peer is private since now; an
// existing marker keeps its original time.
func (s *PrivateStore) Mark(ctx context.Context, user id.UserID, network, peer string, now time.Time) error {
	if err := checkPeer(user, network, peer); err != nil {
		return fmt.Errorf("mark private conversation: %w", err)
	}
	_, err := s.db.Exec(ctx, `
		INSERT INTO otr_private_marker (user_mxid, network, peer, since) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_mxid, network, peer) DO NOTHING`, user, network, peer, toMillis(now))
	if err != nil {
		return fmt.Errorf("mark private conversation with %s on %s: %w", peer, network, err)
	}
	return nil
}

// Clear removes the marker; it reports whether there was one.
func (s *PrivateStore) Clear(ctx context.Context, user id.UserID, network, peer string) (bool, error) {
	res, err := s.db.Exec(ctx, "DELETE FROM otr_private_marker WHERE user_mxid=$1 AND network=$2 AND peer=$3", user, network, peer)
	if err != nil {
		return false, fmt.Errorf("clear private conversation marker of %s on %s: %w", peer, network, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// List returns the markers of a user, or of all users if user is empty.
func (s *PrivateStore) List(ctx context.Context, user id.UserID) ([]*PrivateMarker, error) {
	rows, err := s.db.Query(ctx, `
		SELECT user_mxid, network, peer, since FROM otr_private_marker
		WHERE $1='' OR user_mxid=$1 ORDER BY user_mxid, network, peer`, user)
	if err != nil {
		return nil, fmt.Errorf("list private conversation markers: %w", err)
	}
	var out []*PrivateMarker
	err = forRows(rows, func() error {
		m := &PrivateMarker{}
		var ms int64
		if err := rows.Scan(&m.User, &m.Network, &m.Peer, &ms); err != nil {
			return err
		}
		m.Since = fromMillis(ms)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list private conversation markers: %w", err)
	}
	return out, nil
}
