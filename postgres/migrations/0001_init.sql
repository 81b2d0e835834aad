-- Parley's PostgreSQL schema.
--
-- Times are timestamptz, written to the millisecond. Every name and key
-- column uses the "C" collation, so that names compare and sort bytewise
-- (as chat IDs are built, and as SQLite does) whatever the locale of the
-- database.

CREATE TABLE users (
    username      text COLLATE "C" PRIMARY KEY,
    password_hash bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    last_seen     timestamptz
);

CREATE TABLE sessions (
    id         text COLLATE "C" PRIMARY KEY,
    username   text COLLATE "C" NOT NULL REFERENCES users (username),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_active ON sessions (username) WHERE revoked_at IS NULL;

-- Every refresh token a session was given; used_at is set when it is
-- rotated out, so that presenting it again can be recognized as theft.
CREATE TABLE refresh_tokens (
    hash       text COLLATE "C" PRIMARY KEY,
    session_id text COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- One row per conversation (chatId or groupId): the last seq handed out.
-- Appending locks the row, which is what keeps seqs gapless with several
-- nodes on one database.
CREATE TABLE conversations (
    id       text COLLATE "C" PRIMARY KEY,
    last_seq bigint NOT NULL
);

-- One-to-one chats, one row per participant.
CREATE TABLE chats (
    username text COLLATE "C" NOT NULL,
    peer     text COLLATE "C" NOT NULL,
    chat_id  text COLLATE "C" NOT NULL,
    PRIMARY KEY (username, peer)
);

CREATE TABLE groups (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    owner      text COLLATE "C" NOT NULL DEFAULT '',
    private    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

-- ord orders memberships: the smallest current ord is the longest-standing.
CREATE TABLE group_members (
    group_id  text COLLATE "C" NOT NULL REFERENCES groups (id),
    username  text COLLATE "C" NOT NULL REFERENCES users (username),
    joined_at timestamptz NOT NULL,
    ord       bigint NOT NULL,
    PRIMARY KEY (group_id, username)
);
CREATE INDEX group_members_ord ON group_members (group_id, ord) INCLUDE (username);
CREATE INDEX group_members_username ON group_members (username);

-- Messages are laid out as a wide-column store would partition them: the
-- conversation is the partition key and seq the clustering key. The table
-- is hash-partitioned on conv into 16 partitions, and (conv, seq) is the
-- primary key, so a conversation lives in one partition and any page of its
-- history is one range of one index. Nothing reads messages across
-- conversations.
--
-- A unique index on a partitioned table must include the partition key, so
-- the idempotency key (sender, client_id) cannot be one on messages: it has
-- its own table, message_keys, which points at the message it names.
--
-- Every access is by conversation, or by idempotency key, so moving
-- messages to Cassandra or Scylla later is a new adapter with these two
-- tables as its two tables (messages keyed by ((conv), seq), message_keys
-- keyed by ((sender, client_id))), not a redesign; the seq counter would
-- stay in a store with transactions or move to lightweight transactions.
CREATE TABLE messages (
    conv       text COLLATE "C" NOT NULL,
    seq        bigint NOT NULL,
    id         text COLLATE "C" NOT NULL,
    sender     text COLLATE "C" NOT NULL,
    content    text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (conv, seq)
) PARTITION BY HASH (conv);

DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format('CREATE TABLE messages_p%s PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
            lpad(i::text, 2, '0'), i);
    END LOOP;
END
$$;

CREATE TABLE message_keys (
    sender    text COLLATE "C" NOT NULL,
    client_id text COLLATE "C" NOT NULL,
    conv      text COLLATE "C" NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (sender, client_id)
);

-- Delivery cursors: everything up to seq counts as delivered to username.
CREATE TABLE cursors (
    username text COLLATE "C" NOT NULL,
    conv     text COLLATE "C" NOT NULL,
    seq      bigint NOT NULL,
    PRIMARY KEY (username, conv)
);
