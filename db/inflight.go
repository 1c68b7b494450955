package db

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// InflightMessage is a Matrix message the bridge was sending to IRC.
type InflightMessage struct {
	Login  string
	Room   id.RoomID
	Event  id.EventID
	Sender id.UserID
	Since  time.Time
}

// InflightStore records the messages on their way to IRC: a record exists
// from before the bridge hands a message to IRC until it knows the result,
// so the records left at startup are the messages a crash cut off. Only
// IDs are stored, never text.
type InflightStore struct {
	db *dbutil.Database
}

// Begin records that login starts sending the message event of sender in
// room.
func (s *InflightStore) Begin(ctx context.Context, m InflightMessage) error {
	_, err := s.db.Exec(ctx, `
		INSERT INTO inflight_message (login_id, room_id, event_id, sender, since) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (login_id, event_id) DO NOTHING`, m.Login, m.Room, m.Event, m.Sender, toMillis(m.Since))
	if err != nil {
		return fmt.Errorf("record a message in flight: %w", err)
	}
	return nil
}

// End removes the record of a message whose result is known.
func (s *InflightStore) End(ctx context.Context, login string, event id.EventID) error {
	if _, err := s.db.Exec(ctx, "DELETE FROM inflight_message WHERE login_id=$1 AND event_id=$2", login, event); err != nil {
		return fmt.Errorf("end a message in flight: %w", err)
	}
	return nil
}

// List returns the records of a login, oldest first.
func (s *InflightStore) List(ctx context.Context, login string) ([]*InflightMessage, error) {
	rows, err := s.db.Query(ctx, `
		SELECT login_id, room_id, event_id, sender, since FROM inflight_message
		WHERE login_id=$1 ORDER BY since, event_id`, login)
	if err != nil {
		return nil, fmt.Errorf("list messages in flight: %w", err)
	}
	var out []*InflightMessage
	err = forRows(rows, func() error {
		m := &InflightMessage{}
		var ms int64
		if err := rows.Scan(&m.Login, &m.Room, &m.Event, &m.Sender, &ms); err != nil {
			return err
		}
		m.Since = fromMillis(ms)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list messages in flight: %w", err)
	}
	return out, nil
}
