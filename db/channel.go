package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// Channel is one IRC channel a user joined through the bridge.
type Channel struct {
	User    id.UserID
	Network string
	// Channel is the casemapped name; Name as the server spells it.
	Channel string
	Name    string
	// SealedKey is the channel key sealed by the caller (internal/seal),
	// nil when the channel has no key.
	SealedKey []byte
	AddedAt   time.Time
}

// ChannelStore keeps the channels each user joined, so that a reconnect or
// a restart rejoins them.
type ChannelStore struct {
	db *dbutil.Database
}

func checkChannel(user id.UserID, network, channel string) error {
	if user == "" || network == "" || channel == "" {
		return errors.New("empty user, network or channel")
	}
	return nil
}

// Put adds a channel, or updates the spelling and key of one already
// stored (its AddedAt stays).
func (s *ChannelStore) Put(ctx context.Context, c *Channel) error {
	if err := checkChannel(c.User, c.Network, c.Channel); err != nil {
		return fmt.Errorf("store channel: %w", err)
	}
	if c.Name == "" {
		return errors.New("store channel: empty name")
	}
	_, err := s.db.Exec(ctx, `
		INSERT INTO irc_channel (user_mxid, network, channel, name, sealed_key, added_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_mxid, network, channel) DO UPDATE SET name=excluded.name, sealed_key=excluded.sealed_key`,
		c.User, c.Network, c.Channel, c.Name, c.SealedKey, toMillis(c.AddedAt))
	if err != nil {
		return fmt.Errorf("store channel %s on %s: %w", c.Name, c.Network, err)
	}
	return nil
}

// Remove deletes a channel; it reports whether it was stored.
func (s *ChannelStore) Remove(ctx context.Context, user id.UserID, network, channel string) (bool, error) {
	res, err := s.db.Exec(ctx, "DELETE FROM irc_channel WHERE user_mxid=$1 AND network=$2 AND channel=$3", user, network, channel)
	if err != nil {
		return false, fmt.Errorf("remove channel %s on %s: %w", channel, network, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// List returns a user's channels on a network, oldest first.
func (s *ChannelStore) List(ctx context.Context, user id.UserID, network string) ([]*Channel, error) {
	rows, err := s.db.Query(ctx, `
		SELECT user_mxid, network, channel, name, sealed_key, added_at FROM irc_channel
		WHERE user_mxid=$1 AND network=$2 ORDER BY added_at, channel`, user, network)
	if err != nil {
		return nil, fmt.Errorf("list channels on %s: %w", network, err)
	}
	var out []*Channel
	err = forRows(rows, func() error {
		c := &Channel{}
		var ms int64
		if err := rows.Scan(&c.User, &c.Network, &c.Channel, &c.Name, &c.SealedKey, &ms); err != nil {
			return err
		}
		c.AddedAt = fromMillis(ms)
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list channels on %s: %w", network, err)
	}
	return out, nil
}
