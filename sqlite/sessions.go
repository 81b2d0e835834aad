package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-chat/parley"
)

// CreateSession stores a new session and its first refresh token hash.
func (db *DB) CreateSession(ctx context.Context, s *parley.Session, refreshHash string) error {
	ctx = noCancel(ctx)
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, username, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			s.ID, s.Username, ms(s.CreatedAt), ms(s.ExpiresAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id) VALUES (?, ?)`, refreshHash, s.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	return nil
}

// Session returns one session or ENOTFOUND.
func (db *DB) Session(ctx context.Context, id string) (*parley.Session, error) {
	ctx = noCancel(ctx)
	s, err := scanSession(db.r.QueryRowContext(ctx, sessionQuery+`WHERE s.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, parley.Errorf(parley.ENOTFOUND, "no such session")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: session: %w", err)
	}
	return s, nil
}

const sessionQuery = `SELECT s.id, s.username, s.created_at, s.expires_at, s.revoked_at, coalesce(u.disabled, 1)
	FROM sessions s LEFT JOIN users u ON u.username = s.username `

func scanSession(row scanner) (*parley.Session, error) {
	var s parley.Session
	var created, expires int64
	var revoked sql.NullInt64
	if err := row.Scan(&s.ID, &s.Username, &created, &expires, &revoked, &s.UserDisabled); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMS(created), fromMS(expires), nullMS(revoked)
	return &s, nil
}

var errRefresh = parley.Errorf(parley.EUNAUTHORIZED, "refresh token is invalid, expired or revoked")

// RotateRefresh swaps a refresh token for a new one; see parley.SessionStore.
func (db *DB) RotateRefresh(ctx context.Context, oldHash, newHash string, now, expiresAt time.Time, grace time.Duration) (*parley.Session, error) {
	ctx = noCancel(ctx)
	var s *parley.Session
	var stolen bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		var sid string
		var used, retired sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT session_id, used_at, retired_at FROM refresh_tokens WHERE hash = ?`, oldHash).Scan(&sid, &used, &retired)
		if errors.Is(err, sql.ErrNoRows) {
			return errRefresh
		}
		if err != nil {
			return err
		}
		s, err = scanSession(tx.QueryRowContext(ctx, sessionQuery+`WHERE s.id = ?`, sid))
		if err != nil {
			return err
		}
		if !s.Active(now) {
			return errRefresh
		}
		if used.Valid || retired.Valid {
			retried := false
			if !retired.Valid && now.Before(fromMS(used.Int64).Add(grace)) {
				// The last rotation again, soon: retire what it issued.
				res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET retired_at = ? WHERE parent = ? AND session_id = ? AND used_at IS NULL AND retired_at IS NULL`, ms(now), oldHash, sid)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				retried = n == 1
			}
			if !retried {
				// A rotated-out token came back: whoever holds it is not
				// the client that rotated it. End the session.
				stolen = true
				_, err = tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, ms(now), sid)
				return err
			}
		} else if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE hash = ?`, ms(now), oldHash); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, parent) VALUES (?, ?, ?)`, newHash, sid, oldHash); err != nil {
			return err
		}
		s.ExpiresAt = expiresAt
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET expires_at = ? WHERE id = ?`, ms(expiresAt), sid)
		return err
	})
	switch {
	case stolen && err == nil:
		return s, errRefresh
	case parley.ErrorCode(err) == parley.EUNAUTHORIZED:
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("sqlite: rotate refresh: %w", err)
	}
	return s, nil
}

// RevokeSession ends a session.
func (db *DB) RevokeSession(ctx context.Context, id string, now time.Time) error {
	ctx = noCancel(ctx)
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, ms(now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke session: %w", err)
	}
	return nil
}

// RevokeUserSessions ends every active session of a user.
func (db *DB) RevokeUserSessions(ctx context.Context, username string, now time.Time) ([]string, error) {
	ctx = noCancel(ctx)
	var ids []string
	err := db.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL RETURNING id`, ms(now), username)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoke user sessions: %w", err)
	}
	return ids, nil
}

// EndedSessions returns the given sessions that are revoked, unknown or of
// a disabled user.
func (db *DB) EndedSessions(ctx context.Context, ids []string) ([]string, error) {
	ctx = noCancel(ctx)
	var ended []string
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := db.r.QueryContext(ctx, `SELECT s.id FROM sessions s JOIN users u ON u.username = s.username
			WHERE s.id IN (`+placeholders(len(chunk))+`) AND s.revoked_at IS NULL AND NOT u.disabled`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: ended sessions: %w", err)
		}
		live := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: ended sessions: %w", err)
			}
			live[id] = true
		}
		rows.Close()
		for _, id := range chunk {
			if !live[id] {
				ended = append(ended, id)
			}
		}
	}
	return ended, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
