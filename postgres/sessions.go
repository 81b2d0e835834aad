package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parley-chat/parley"
)

// CreateSession stores a new session and its first refresh token hash.
func (db *DB) CreateSession(ctx context.Context, s *parley.Session, refreshHash string) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (id, username, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			s.ID, s.Username, ts(s.CreatedAt), ts(s.ExpiresAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id) VALUES ($1, $2)`, refreshHash, s.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	return nil
}

// Session returns one session or ENOTFOUND.
func (db *DB) Session(ctx context.Context, id string) (*parley.Session, error) {
	s, err := scanSession(db.pool.QueryRow(ctx, sessionQuery+`WHERE s.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, parley.Errorf(parley.ENOTFOUND, "no such session")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: session: %w", err)
	}
	return s, nil
}

const sessionQuery = `SELECT s.id, s.username, s.created_at, s.expires_at, s.revoked_at, coalesce(u.disabled, true)
	FROM sessions s LEFT JOIN users u ON u.username = s.username `

func scanSession(row scanner) (*parley.Session, error) {
	var s parley.Session
	var revoked *time.Time
	if err := row.Scan(&s.ID, &s.Username, &s.CreatedAt, &s.ExpiresAt, &revoked, &s.UserDisabled); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC(), nullTime(revoked)
	return &s, nil
}

var errRefresh = parley.Errorf(parley.EUNAUTHORIZED, "refresh token is invalid, expired or revoked")

// RotateRefresh swaps a refresh token for a new one; see parley.SessionStore.
//
// The token's row is locked first and its session's second, so that two
// nodes refreshing one token at once are serialized: the second finds the
// token rotated out, and either retries the rotation (within the grace) or
// ends the session, as any reuse does. Locking the session also orders the
// refresh against a concurrent logout.
func (db *DB) RotateRefresh(ctx context.Context, oldHash, newHash string, now, expiresAt time.Time, grace time.Duration) (*parley.Session, error) {
	var s *parley.Session
	var stolen bool
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var sid string
		var used, retired *time.Time
		err := tx.QueryRow(ctx, `SELECT session_id, used_at, retired_at FROM refresh_tokens WHERE hash = $1 FOR UPDATE`, oldHash).Scan(&sid, &used, &retired)
		if errors.Is(err, pgx.ErrNoRows) {
			return errRefresh
		}
		if err != nil {
			return err
		}
		s, err = scanSession(tx.QueryRow(ctx, sessionQuery+`WHERE s.id = $1 FOR UPDATE OF s`, sid))
		if err != nil {
			return err
		}
		if !s.Active(now) {
			return errRefresh
		}
		if used != nil || retired != nil {
			retried := false
			if retired == nil && now.Before(used.Add(grace)) {
				// The last rotation again, soon: retire what it issued.
				tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET retired_at = $1 WHERE parent = $2 AND session_id = $3 AND used_at IS NULL AND retired_at IS NULL`, ts(now), oldHash, sid)
				if err != nil {
					return err
				}
				retried = tag.RowsAffected() == 1
			}
			if !retried {
				// A rotated-out token came back: whoever holds it is not
				// the client that rotated it. End the session.
				stolen = true
				s.RevokedAt = ts(now)
				_, err = tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2`, s.RevokedAt, sid)
				return err
			}
		} else if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2`, ts(now), oldHash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, parent) VALUES ($1, $2, $3)`, newHash, sid, oldHash); err != nil {
			return err
		}
		s.ExpiresAt = ts(expiresAt)
		_, err = tx.Exec(ctx, `UPDATE sessions SET expires_at = $1 WHERE id = $2`, s.ExpiresAt, sid)
		return err
	})
	switch {
	case stolen && err == nil:
		return s, errRefresh
	case parley.ErrorCode(err) == parley.EUNAUTHORIZED:
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("postgres: rotate refresh: %w", err)
	}
	return s, nil
}

// RevokeSession ends a session.
func (db *DB) RevokeSession(ctx context.Context, id string, now time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, ts(now), id)
	if err != nil {
		return fmt.Errorf("postgres: revoke session: %w", err)
	}
	return nil
}

// RevokeUserSessions ends every active session of a user.
func (db *DB) RevokeUserSessions(ctx context.Context, username string, now time.Time) ([]string, error) {
	rows, _ := db.pool.Query(ctx, `UPDATE sessions SET revoked_at = $1 WHERE username = $2 AND revoked_at IS NULL RETURNING id`,
		ts(now), username)
	ids, err := pgx.AppendRows([]string(nil), rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: revoke user sessions: %w", err)
	}
	return ids, nil
}

// EndedSessions returns the given sessions that are revoked, unknown or of
// a disabled user.
func (db *DB) EndedSessions(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, _ := db.pool.Query(ctx, `SELECT s.id FROM sessions s JOIN users u ON u.username = s.username
		WHERE s.id = ANY($1) AND s.revoked_at IS NULL AND NOT u.disabled`, ids)
	live, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: ended sessions: %w", err)
	}
	alive := make(map[string]bool, len(live))
	for _, id := range live {
		alive[id] = true
	}
	var ended []string
	for _, id := range ids {
		if !alive[id] {
			ended = append(ended, id)
		}
	}
	return ended, nil
}
