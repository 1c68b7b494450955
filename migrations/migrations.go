// Package migrations holds the SQL that creates and upgrades otrbridge's own
// tables (not bridgev2's) in the bridge database. Files are named
// NN-what.sql and start with dbutil's header "-- vA -> vB: message"; one
// file serves SQLite and PostgreSQL, with "-- only: postgres" / "-- only:
// sqlite" lines where the dialects differ. Package db runs them as a dbutil
// child database with its own version table.
package migrations

import (
	"embed"

	"go.mau.fi/util/dbutil"
)

//go:embed *.sql
var files embed.FS

// Table is the upgrade table for dbutil.
var Table = dbutil.BuildUpgradeTable().WithFS(files).Finish()
