-- v3 -> v4: Matrix messages on their way to IRC, for a visible failure after a crash
-- A row exists while the bridge sends one message: the login, the room and
-- the event, never the text. Whatever a crash leaves behind is reported in
-- its room after the restart (the message may or may not have reached IRC).
CREATE TABLE inflight_message (
	login_id TEXT   NOT NULL,
	room_id  TEXT   NOT NULL,
	event_id TEXT   NOT NULL,
	sender   TEXT   NOT NULL,
	since    BIGINT NOT NULL,

	PRIMARY KEY (login_id, event_id)
);
