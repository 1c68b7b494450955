package teststack

import (
	"context"
	"database/sql"
	"testing"
)

func TestPostgres(t *testing.T) {
	dsn := Postgres(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES ($1)", "hello"); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRowContext(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != "hello" {
		t.Fatalf("got %q, %v", v, err)
	}
	// Each call gets its own cluster and database.
	if other := Postgres(t); other == dsn {
		t.Fatal("two clusters share a DSN")
	}
}
