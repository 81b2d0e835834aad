package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
)

// CreateUser stores a new account; a taken username is ECONFLICT.
func (db *DB) CreateUser(ctx context.Context, u *parley.User) error {
	ctx = noCancel(ctx)
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)`,
			u.Username, u.PasswordHash, ms(u.CreatedAt))
		return err
	})
	switch {
	case isUnique(err):
		return takenError(ctx, db.r, u.Username)
	case err != nil:
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	db.users.Add(u.Username)
	return nil
}

// takenError says why a username cannot be registered.
func takenError(ctx context.Context, q querier, username string) error {
	var deleted sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT deleted_at FROM users WHERE username = ?`, username).Scan(&deleted); err == nil && deleted.Valid {
		return parley.Errorf(parley.ECONFLICT, "username %q belonged to a deleted account and stays reserved", username)
	}
	return parley.Errorf(parley.ECONFLICT, "username %q is taken", username)
}

// CreateUsers stores many accounts in one transaction, skipping taken
// names.
func (db *DB) CreateUsers(ctx context.Context, users []*parley.User) (int, error) {
	ctx = noCancel(ctx)
	var created int
	err := db.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO users (username, password_hash, created_at) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, u := range users {
			res, err := st.ExecContext(ctx, u.Username, u.PasswordHash, ms(u.CreatedAt))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			created += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: create users: %w", err)
	}
	for _, u := range users {
		db.users.Add(u.Username)
	}
	return created, nil
}

// Stats counts what the database holds.
func (db *DB) Stats(ctx context.Context, now time.Time) (*parley.Stats, error) {
	ctx = noCancel(ctx)
	var st parley.Stats
	err := db.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM users WHERE deleted_at IS NULL),
		(SELECT count(*) FROM users WHERE disabled AND deleted_at IS NULL),
		(SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > ?),
		(SELECT count(*) FROM groups)`, ms(now)).
		Scan(&st.Users, &st.DisabledUsers, &st.ActiveSessions, &st.Groups)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stats: %w", err)
	}
	return &st, nil
}

// User returns one account or ENOTFOUND.
func (db *DB) User(ctx context.Context, username string) (*parley.User, error) {
	ctx = noCancel(ctx)
	u, err := scanUser(db.r.QueryRowContext(ctx, userQuery+`WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, parley.Errorf(parley.ENOTFOUND, "no user %q", username)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user: %w", err)
	}
	if !u.Deleted() {
		db.users.Add(u.Username)
	}
	return u, nil
}

// Users lists accounts in username order after the given name.
func (db *DB) Users(ctx context.Context, after string, limit int) ([]*parley.User, error) {
	ctx = noCancel(ctx)
	rows, err := db.r.QueryContext(ctx, userQuery+`WHERE username > ? ORDER BY username LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: users: %w", err)
	}
	defer rows.Close()
	var users []*parley.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: users: %w", err)
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// FindUsers lists usernames starting with prefix: a range of the primary
// key, since usernames compare bytewise and every character a username
// may hold sorts below 0x7f.
func (db *DB) FindUsers(ctx context.Context, prefix string, limit int) ([]string, error) {
	ctx = noCancel(ctx)
	rows, err := db.r.QueryContext(ctx, `SELECT username FROM users
		WHERE username >= ? AND username < ? AND NOT disabled AND deleted_at IS NULL
		ORDER BY username LIMIT ?`, prefix, prefix+"\x7f", limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find users: %w", err)
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("sqlite: find users: %w", err)
		}
		names = append(names, name)
	}
	return names, rows.Err()
}

type scanner interface{ Scan(...any) error }

const userQuery = `SELECT username, password_hash, created_at, disabled, last_seen, deleted_at FROM users `

func scanUser(row scanner) (*parley.User, error) {
	var u parley.User
	var created int64
	var lastSeen, deleted sql.NullInt64
	if err := row.Scan(&u.Username, &u.PasswordHash, &created, &u.Disabled, &lastSeen, &deleted); err != nil {
		return nil, err
	}
	u.CreatedAt = fromMS(created)
	u.LastSeen = nullMS(lastSeen)
	u.DeletedAt = nullMS(deleted)
	return &u, nil
}

// SetLastSeen records when users' last connections closed, in one
// transaction.
func (db *DB) SetLastSeen(ctx context.Context, seen map[string]time.Time) error {
	ctx = noCancel(ctx)
	err := db.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE users SET last_seen = ? WHERE username = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for u, t := range seen {
			if _, err := st.ExecContext(ctx, ms(t), u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: set last seen: %w", err)
	}
	return nil
}

// SetDisabled disables or enables an account.
func (db *DB) SetDisabled(ctx context.Context, username string, disabled bool) error {
	ctx = noCancel(ctx)
	return db.updateUser(ctx, "set disabled", `UPDATE users SET disabled = ? WHERE username = ? AND deleted_at IS NULL`, disabled, username)
}

func (db *DB) updateUser(ctx context.Context, op, query string, value any, username string) error {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, value, username)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n == 0 {
		return parley.Errorf(parley.ENOTFOUND, "no user %q", username)
	}
	return nil
}

// userExists reports whether an account exists, asking q on a cache miss.
func (db *DB) userExists(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, username string) (bool, error) {
	if db.users.Has(username) {
		return true, nil
	}
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM users WHERE username = ? AND deleted_at IS NULL`, username).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	db.users.Add(username)
	return true, nil
}
