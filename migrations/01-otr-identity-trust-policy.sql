-- v0 -> v1: OTR identities, fingerprints and policy overrides
-- Times are Unix milliseconds. user_mxid is the Matrix user, network the
-- configured network name, peer the casemapped nick the DM portal is keyed by.

-- One long-term OTR identity per (Matrix user, network). sealed_key is the
-- DSA private key sealed with internal/seal (associated data binds it to
-- the row's user and network): the database alone never yields a usable key.
CREATE TABLE otr_identity (
	user_mxid    TEXT   NOT NULL,
	network      TEXT   NOT NULL,
	sealed_key   bytea  NOT NULL,
	instance_tag BIGINT NOT NULL CHECK (instance_tag >= 256 AND instance_tag <= 4294967295),
	created_at   BIGINT NOT NULL,

	PRIMARY KEY (user_mxid, network)
);

-- Every fingerprint ever seen for a peer. Trust belongs to one fingerprint:
-- a new key of the same peer starts untrusted.
CREATE TABLE otr_fingerprint (
	user_mxid    TEXT   NOT NULL,
	network      TEXT   NOT NULL,
	peer         TEXT   NOT NULL,
	fingerprint  bytea  NOT NULL,
	trust        TEXT   NOT NULL DEFAULT 'none' CHECK (trust IN ('none', 'manual', 'smp')),
	verified_how TEXT   NOT NULL DEFAULT '',
	verified_at  BIGINT,
	first_seen   BIGINT NOT NULL,
	last_seen    BIGINT NOT NULL,

	PRIMARY KEY (user_mxid, network, peer, fingerprint)
);

-- The nicks a fingerprint was seen with (peers change nicks; the portal and
-- its trust follow them).
CREATE TABLE otr_fingerprint_nick (
	user_mxid   TEXT   NOT NULL,
	network     TEXT   NOT NULL,
	peer        TEXT   NOT NULL,
	fingerprint bytea  NOT NULL,
	nick        TEXT   NOT NULL,
	first_seen  BIGINT NOT NULL,
	last_seen   BIGINT NOT NULL,

	PRIMARY KEY (user_mxid, network, peer, fingerprint, nick),
	CONSTRAINT otr_fingerprint_nick_fp_fkey FOREIGN KEY (user_mxid, network, peer, fingerprint)
		REFERENCES otr_fingerprint (user_mxid, network, peer, fingerprint)
		ON DELETE CASCADE ON UPDATE CASCADE
);

-- Policy overrides: peer '' is the user's default for the network, which
-- itself overrides the network default from the config.
CREATE TABLE otr_policy (
	user_mxid  TEXT   NOT NULL,
	network    TEXT   NOT NULL,
	peer       TEXT   NOT NULL,
	policy     TEXT   NOT NULL CHECK (policy IN ('never', 'manual', 'opportunistic', 'always')),
	updated_at BIGINT NOT NULL,

	PRIMARY KEY (user_mxid, network, peer)
);
