-- v2 -> v3: The IRC channels each user joined, for the rejoin after a reconnect or restart
-- channel is casemapped with the server's CASEMAPPING (the key of the channel's
-- portal), name is the channel as the server spells it. sealed_key is the
-- channel key (+k) sealed with internal/seal, bound to the row's user,
-- network and channel; NULL when the channel has no key.
CREATE TABLE irc_channel (
	user_mxid  TEXT   NOT NULL,
	network    TEXT   NOT NULL,
	channel    TEXT   NOT NULL,
	name       TEXT   NOT NULL,
	sealed_key bytea,
	added_at   BIGINT NOT NULL,

	PRIMARY KEY (user_mxid, network, channel)
);
