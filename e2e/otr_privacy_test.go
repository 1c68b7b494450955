package e2e

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	// The driver of the bridge's "postgres" database URIs.
	_ "github.com/lib/pq"
)

// checkDatabase fails if any remembered message text or secret is in the
// bridge's database: the SQLite files (with the WAL), or every row of
// every table of the PostgreSQL database.
func (e *env) checkDatabase(t *testing.T) {
	t.Helper()
	secrets := e.remembered(t)
	var total int
	if e.dbKind == "postgres" {
		total = e.checkPostgres(t, secrets)
	} else {
		total = e.checkSQLiteFiles(t, secrets)
	}
	t.Logf("checked %d bytes of the bridge's %s database for %d test texts", total, e.dbKind, len(secrets))
}

func (e *env) checkSQLiteFiles(t *testing.T, secrets []string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.bridge.Opts.Dir, "otrbridge.db*"))
	return checkFilesFree(t, files, secrets, "no bridge database found")
}

// checkPostgres reads every row of every table of the bridge's database as
// text (bytea columns come out as hex, so the secrets are looked for in
// hex too) and returns how many bytes it read.
func (e *env) checkPostgres(t *testing.T, secrets []string) int {
	t.Helper()
	db, err := sql.Open("postgres", e.bridge.Opts.DatabaseURI)
	if err != nil {
		t.Fatalf("open the bridge's PostgreSQL database: %v", err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var tables []string
	for rows.Next() {
		var schema, name string
		if err := rows.Scan(&schema, &name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, quoteIdent(schema)+"."+quoteIdent(name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	// The OTR tables must be among them, or the check proves nothing.
	joined := strings.Join(tables, " ")
	for _, want := range []string{"otr_identity", "otr_fingerprint"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no table %s* in the bridge's PostgreSQL database (tables: %s)", want, joined)
		}
	}
	needles := make(map[string]string, 2*len(secrets))
	for _, s := range secrets {
		needles[s] = s
		needles[hex.EncodeToString([]byte(s))] = s
	}
	total, nrows := 0, 0
	for _, tbl := range tables {
		rs, err := db.Query(fmt.Sprintf("SELECT t::text FROM %s t", tbl))
		if err != nil {
			t.Fatalf("read %s: %v", tbl, err)
		}
		for rs.Next() {
			var row string
			if err := rs.Scan(&row); err != nil {
				t.Fatal(err)
			}
			total += len(row)
			nrows++
			for needle, s := range needles {
				if strings.Contains(row, needle) {
					t.Errorf("table %s contains the test message or secret %q", tbl, s)
				}
			}
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		rs.Close()
	}
	if nrows == 0 {
		t.Fatal("the bridge's PostgreSQL database has no rows; the check would prove nothing")
	}
	t.Logf("%d tables, %d rows", len(tables), nrows)
	return total
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
