package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
)

// DeleteUser deletes an account and keeps its name reserved; see
// parley.UserStore.
func (db *DB) DeleteUser(ctx context.Context, username string, now time.Time) ([]parley.GroupLeft, error) {
	ctx = noCancel(ctx)
	var left []parley.GroupLeft
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET deleted_at = ?, password_hash = x'' WHERE username = ? AND deleted_at IS NULL`, ms(now), username)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return parley.Errorf(parley.ENOTFOUND, "no account %q (unknown, or deleted already)", username)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE username = ?)`, username); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE username = ?`, username); err != nil {
			return err
		}
		if left, err = leaveAll(ctx, tx, username); err != nil {
			return err
		}
		return nil
	})
	// Forget what the caches knew, unless there was no such account
	// (after a failure, the account may or may not be deleted).
	if parley.ErrorCode(err) != parley.ENOTFOUND {
		db.users.Forget(username)
	}
	for _, g := range left {
		db.members.forget(g.GroupID)
	}
	if err != nil {
		if parley.ErrorCode(err) != parley.EINTERNAL {
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: delete user: %w", err)
	}
	return left, nil
}

// leaveAll ends every membership of username, passing the ownership of
// the groups it owned as RemoveMember does.
func leaveAll(ctx context.Context, tx *sql.Tx, username string) ([]parley.GroupLeft, error) {
	rows, err := tx.QueryContext(ctx, `SELECT g.id, g.owner FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.username = ? ORDER BY g.id`, username)
	if err != nil {
		return nil, err
	}
	var left []parley.GroupLeft
	for rows.Next() {
		var g parley.GroupLeft
		if err := rows.Scan(&g.GroupID, &g.Owner); err != nil {
			rows.Close()
			return nil, err
		}
		left = append(left, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE username = ?`, username); err != nil {
		return nil, err
	}
	for i := range left {
		g := &left[i]
		if g.Members, err = groupMembers(ctx, tx, g.GroupID); err != nil {
			return nil, err
		}
		if g.Owner != username {
			continue
		}
		g.Owner = ""
		if len(g.Members) > 0 {
			g.Owner = g.Members[0]
		}
		if _, err := tx.ExecContext(ctx, `UPDATE groups SET owner = ? WHERE id = ?`, g.Owner, g.GroupID); err != nil {
			return nil, err
		}
	}
	return left, nil
}

// UserSessions lists a user's sessions, oldest first.
func (db *DB) UserSessions(ctx context.Context, username string) ([]*parley.Session, error) {
	ctx = noCancel(ctx)
	rows, err := db.r.QueryContext(ctx, sessionQuery+`WHERE s.username = ? ORDER BY s.created_at, s.id`, username)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user sessions: %w", err)
	}
	defer rows.Close()
	var out []*parley.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: user sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: user sessions: %w", err)
	}
	return out, nil
}
