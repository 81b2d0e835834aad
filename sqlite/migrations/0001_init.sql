-- Parley's embedded store. Times are Unix milliseconds.

CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    last_seen     INTEGER
) WITHOUT ROWID;

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users (username),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX sessions_username ON sessions (username);

-- Every refresh token a session was given; used_at is set when it is
-- rotated out, so that presenting it again can be recognized as theft.
CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- One row per conversation (chatId or groupId): the last seq handed out.
CREATE TABLE conversations (
    id       TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;

-- One-to-one chats, one row per participant.
CREATE TABLE chats (
    username TEXT NOT NULL,
    peer     TEXT NOT NULL,
    chat_id  TEXT NOT NULL,
    PRIMARY KEY (username, peer)
) WITHOUT ROWID;
CREATE INDEX chats_peer ON chats (peer);

CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    owner      TEXT NOT NULL DEFAULT '',
    private    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- ord orders memberships: the smallest current ord is the longest-standing.
CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES groups (id),
    username  TEXT NOT NULL REFERENCES users (username),
    joined_at INTEGER NOT NULL,
    ord       INTEGER NOT NULL,
    PRIMARY KEY (group_id, username)
) WITHOUT ROWID;
CREATE INDEX group_members_username ON group_members (username);

-- Messages, clustered by conversation and seq: a page of history is one
-- range of the primary key.
CREATE TABLE messages (
    conv       TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    id         TEXT NOT NULL,
    sender     TEXT NOT NULL,
    client_id  TEXT,
    content    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (conv, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_idempotency ON messages (sender, client_id) WHERE client_id IS NOT NULL;

-- Delivery cursors: everything up to seq counts as delivered to username.
CREATE TABLE cursors (
    username TEXT NOT NULL,
    conv     TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (username, conv)
) WITHOUT ROWID;
