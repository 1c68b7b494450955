// Package teststack starts the real servers the integration and end-to-end
// tests run against: a private InspIRCd, a private Dendrite homeserver and a
// private PostgreSQL cluster, each on a free loopback port with its state in
// a temporary directory, each stopped by t.Cleanup. It also has small
// clients that drive a Matrix user over the client-server API and an IRC
// user over a raw socket, so tests can see exactly what crosses each wire,
// and puts an OTR test peer (testpeers/otrtest) on IRC (AttachOTRPeer).
// For the login and transport options there are a services stand-in that
// links to InspIRCd and answers SASL (PLAIN, and EXTERNAL with the
// certificate fingerprint InspIRCd computed), a SOCKS5 proxy (microsocks),
// and a watched TCP port that records where each connection came from.
//
// A missing tool makes the test skip with a clear message, or fail when
// OTRBRIDGE_REQUIRE_PEERS=1 (CI sets it, so nothing is silently skipped).
package teststack
