// Package db is otrbridge's own storage in the bridge database: OTR
// identities, the fingerprint trust store, OTR policy overrides, markers
// of private conversations, the IRC channels users joined and the IDs of
// messages on their way to IRC. The tables live beside bridgev2's as a
// dbutil child database with its own version table ("otrbridge_version");
// the SQL is in package migrations and runs on SQLite and PostgreSQL alike.
//
// Users are Matrix user IDs, networks the configured network names, peers the
// casemapped nicks DM portals are keyed by: callers casemap before calling.
// Times are stored as Unix milliseconds.
package db

import (
	"errors"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"

	"github.com/otrbridge/otrbridge/migrations"
)

// VersionTable is the name of the table holding the schema version of
// otrbridge's own tables.
const VersionTable = "otrbridge_version"

// ErrNotFound is returned by updates of a row that does not exist.
var ErrNotFound = errors.New("db: no such record")

// Database gives typed access to otrbridge's tables. Call Upgrade once at
// startup before using it.
type Database struct {
	*dbutil.Database
	Identity     *IdentityStore
	Fingerprints *FingerprintStore
	Policies     *PolicyStore
	Private      *PrivateStore
	Channels     *ChannelStore
	Inflight     *InflightStore
}

// New wraps the bridge's database (bridgev2's Bridge.DB.Database).
func New(parent *dbutil.Database, log zerolog.Logger) *Database {
	d := parent.Child(VersionTable, migrations.Table, dbutil.ZeroLogger(log))
	return &Database{
		Database:     d,
		Identity:     &IdentityStore{db: d},
		Fingerprints: &FingerprintStore{db: d},
		Policies:     &PolicyStore{db: d},
		Private:      &PrivateStore{db: d},
		Channels:     &ChannelStore{db: d},
		Inflight:     &InflightStore{db: d},
	}
}

func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms) }
