-- v1 -> v2: Markers of private conversations, for notices after a restart
-- Only the fact that a DM portal had a private OTR conversation is kept,
-- never session state (forward secrecy): after a restart the bridge tells
-- these portals that the private conversation is gone and clears the marker.
CREATE TABLE otr_private_marker (
	user_mxid TEXT   NOT NULL,
	network   TEXT   NOT NULL,
	peer      TEXT   NOT NULL,
	since     BIGINT NOT NULL,

	PRIMARY KEY (user_mxid, network, peer)
);
