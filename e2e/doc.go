// Package e2e is the end-to-end suite: it runs the real otrbridge binary
// against a private Dendrite and private InspIRCd servers (see
// internal/teststack), drives Matrix users over the client-server API and IRC
// users over raw sockets, and checks what arrives on each side.
//
// TestSQLite runs every scenario on SQLite, TestPostgres the same scenarios
// (except the slow IRC-side ones: flood pacing, connection lifetime) on a
// private PostgreSQL. Each scenario uses its own Matrix user and IRC nicks,
// so they share one stack per database. The last subtest greps the bridge's
// debug-level logs for every message text the scenarios sent.
//
// The tests skip when InspIRCd, Dendrite or PostgreSQL is missing, and fail
// instead when OTRBRIDGE_REQUIRE_PEERS=1 (scripts/test.sh sets it).
//
//	go test -tags goolm ./e2e -run 'TestSQLite/DMFromIRC' -v
//	go test -tags goolm ./e2e -run '^$' -bench Relay -benchtime 100x
//	go test -tags goolm ./e2e -run '^$' -bench Memory -benchtime 1x
//	go test -tags goolm ./e2e -run '^$' -bench Flood -benchtime 1x
package e2e
