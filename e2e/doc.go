// Package e2e is the end-to-end suite: it runs the real otrbridge binary
// against a private Dendrite and private InspIRCd servers (see
// internal/teststack), drives Matrix users over the client-server API and IRC
// users over raw sockets, and checks what arrives on each side.
//
// The tests skip when InspIRCd or Dendrite is missing, and fail instead when
// OTRBRIDGE_REQUIRE_PEERS=1. The whole suite runs once on SQLite
// (TestSQLite) and once on PostgreSQL (TestPostgres).
package e2e
