package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parley-chat/parley"
)

// CreateUser stores a new account; a taken username is ECONFLICT.
func (db *DB) CreateUser(ctx context.Context, u *parley.User) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3)`,
		u.Username, u.PasswordHash, ts(u.CreatedAt))
	switch {
	case isUnique(err):
		return db.takenError(ctx, u.Username)
	case err != nil:
		return fmt.Errorf("postgres: create user: %w", err)
	}
	db.users.Add(u.Username)
	return nil
}

// CreateUsers stores many accounts in one statement, skipping taken names.
// Rows go in name order, so that two concurrent seeds cannot deadlock.
func (db *DB) CreateUsers(ctx context.Context, users []*parley.User) (int, error) {
	names := make([]string, len(users))
	hashes := make([][]byte, len(users))
	created := make([]time.Time, len(users))
	for i, u := range users {
		names[i], hashes[i], created[i] = u.Username, u.PasswordHash, ts(u.CreatedAt)
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO users (username, password_hash, created_at)
		SELECT * FROM unnest($1::text[], $2::bytea[], $3::timestamptz[]) ORDER BY 1
		ON CONFLICT (username) DO NOTHING`, names, hashes, created)
	if err != nil {
		return 0, fmt.Errorf("postgres: create users: %w", err)
	}
	for _, u := range users {
		db.users.Add(u.Username)
	}
	return int(tag.RowsAffected()), nil
}

// Stats counts what the database holds.
func (db *DB) Stats(ctx context.Context, now time.Time) (*parley.Stats, error) {
	var st parley.Stats
	err := db.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM users WHERE deleted_at IS NULL),
		(SELECT count(*) FROM users WHERE disabled AND deleted_at IS NULL),
		(SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > $1),
		(SELECT count(*) FROM chats) / 2,
		(SELECT count(*) FROM groups),
		(SELECT coalesce(sum(last_seq), 0)::bigint FROM conversations)`, ts(now)).
		Scan(&st.Users, &st.DisabledUsers, &st.ActiveSessions, &st.Chats, &st.Groups, &st.Messages)
	if err != nil {
		return nil, fmt.Errorf("postgres: stats: %w", err)
	}
	return &st, nil
}

const userQuery = `SELECT username, password_hash, created_at, disabled, last_seen, deleted_at FROM users `

// User returns one account or ENOTFOUND.
func (db *DB) User(ctx context.Context, username string) (*parley.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, userQuery+`WHERE username = $1`, username))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, parley.Errorf(parley.ENOTFOUND, "no user %q", username)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: user: %w", err)
	}
	if !u.Deleted() {
		db.users.Add(u.Username)
	}
	return u, nil
}

// Users lists accounts in username order after the given name.
func (db *DB) Users(ctx context.Context, after string, limit int) ([]*parley.User, error) {
	rows, _ := db.pool.Query(ctx, userQuery+`WHERE username > $1 ORDER BY username LIMIT $2`, after, limit)
	users, err := pgx.AppendRows([]*parley.User(nil), rows, func(row pgx.CollectableRow) (*parley.User, error) {
		return scanUser(row)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	return users, nil
}

// FindUsers lists usernames starting with prefix, compared bytewise
// (COLLATE "C", which the index on usernames for this search uses); every
// character a username may hold sorts below 0x7f.
func (db *DB) FindUsers(ctx context.Context, prefix string, limit int) ([]string, error) {
	rows, _ := db.pool.Query(ctx, `SELECT username FROM users
		WHERE username COLLATE "C" >= $1 AND username COLLATE "C" < $2 AND NOT disabled AND deleted_at IS NULL
		ORDER BY username COLLATE "C" LIMIT $3`, prefix, prefix+"\x7f", limit)
	names, err := pgx.AppendRows([]string{}, rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: find users: %w", err)
	}
	return names, nil
}

type scanner interface{ Scan(...any) error }

func scanUser(row scanner) (*parley.User, error) {
	var u parley.User
	var lastSeen, deleted *time.Time
	if err := row.Scan(&u.Username, &u.PasswordHash, &u.CreatedAt, &u.Disabled, &lastSeen, &deleted); err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	u.LastSeen = nullTime(lastSeen)
	u.DeletedAt = nullTime(deleted)
	return &u, nil
}

// SetLastSeen records when users' last connections closed, in one
// transaction; unknown users are ignored. A time never moves back, as a
// node may store an old one late, after another node stored a newer. The
// rows are locked in name order first, so that two nodes storing
// overlapping users cannot deadlock.
func (db *DB) SetLastSeen(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	names := make([]string, 0, len(seen))
	times := make([]time.Time, 0, len(seen))
	for u, t := range seen {
		names, times = append(names, u), append(times, ts(t))
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT FROM users WHERE username = ANY($1) ORDER BY username FOR NO KEY UPDATE`, names)
		b.Queue(`UPDATE users u SET last_seen = greatest(u.last_seen, x.t)
			FROM unnest($1::text[], $2::timestamptz[]) AS x (username, t) WHERE u.username = x.username`, names, times)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: set last seen: %w", err)
	}
	return nil
}

// SetDisabled disables or enables an account.
func (db *DB) SetDisabled(ctx context.Context, username string, disabled bool) error {
	return db.updateUser(ctx, "set disabled", `UPDATE users SET disabled = $1 WHERE username = $2 AND deleted_at IS NULL`, disabled, username)
}

func (db *DB) updateUser(ctx context.Context, op, query string, value any, username string) error {
	tag, err := db.pool.Exec(ctx, query, value, username)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if tag.RowsAffected() == 0 {
		return parley.Errorf(parley.ENOTFOUND, "no user %q", username)
	}
	return nil
}

// missingUsers returns those of names that have no account, asking q about
// the ones not known to exist.
func (db *DB) missingUsers(ctx context.Context, q querier, names []string) ([]string, error) {
	var ask []string
	for _, n := range names {
		if !db.users.Has(n) {
			ask = append(ask, n)
		}
	}
	if len(ask) == 0 {
		return nil, nil
	}
	rows, _ := q.Query(ctx, `SELECT username FROM users WHERE username = ANY($1) AND deleted_at IS NULL`, ask)
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, n := range found {
		db.users.Add(n)
	}
	var missing []string
	for _, n := range ask {
		if !db.users.Has(n) {
			missing = append(missing, n)
		}
	}
	return missing, nil
}
