-- The conversation timeline: a conversation's seqs number entries, which
-- are messages (kind 0, as every row stored before), edits (1), deletions
-- (2) and reactions (3). An edit, deletion or reaction names the message
-- it acts on (target); a message may name the one it answers (reply_to).
-- A message's row holds its current state: the latest edit's content and
-- time (edited_at), the seq of the deletion that emptied it (deleted_by,
-- 0 while it stands) and its reactions as [{"emoji", "users"}]. Adding a
-- column with a constant default rewrites no row.
ALTER TABLE messages
    ADD COLUMN kind       smallint NOT NULL DEFAULT 0,
    ADD COLUMN target     bigint NOT NULL DEFAULT 0,
    ADD COLUMN reply_to   bigint NOT NULL DEFAULT 0,
    ADD COLUMN emoji      text NOT NULL DEFAULT '',
    ADD COLUMN removed    boolean NOT NULL DEFAULT false,
    ADD COLUMN edited_at  timestamptz,
    ADD COLUMN deleted_by bigint NOT NULL DEFAULT 0,
    ADD COLUMN reactions  jsonb;

-- Read positions: everything up to seq counts as read by username. Kept
-- apart from cursors, which count what was delivered.
CREATE TABLE read_positions (
    username text COLLATE "C" NOT NULL,
    conv     text COLLATE "C" NOT NULL,
    seq      bigint NOT NULL,
    PRIMARY KEY (username, conv)
);

-- What was delivered before read positions existed counts as read, so that
-- unread counts (now counted from the read position) do not jump at the
-- upgrade.
INSERT INTO read_positions (username, conv, seq) SELECT username, conv, seq FROM cursors WHERE seq > 0;
