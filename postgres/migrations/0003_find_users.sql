-- The directory search (FindUsers) reads usernames by prefix, compared
-- bytewise; the primary key's index uses the database's collation, which
-- need not be bytewise.
CREATE INDEX IF NOT EXISTS users_username_bytewise ON users (username COLLATE "C");
