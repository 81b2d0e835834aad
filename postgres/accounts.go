package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parley-chat/parley"
)

// DeleteUser deletes an account and keeps its name reserved; see
// parley.UserStore. The groups it leaves are locked in id order, as every
// membership change locks its group, so that it cannot deadlock with one.
//
// This node forgets the name at once. Other nodes remember names they
// have seen exist, to spare the database a read per message: until they
// restart, they store a message sent to the deleted name in its chat
// (readable by the sender alone) instead of refusing it.
func (db *DB) DeleteUser(ctx context.Context, username string, now time.Time) ([]parley.GroupLeft, error) {
	var left []parley.GroupLeft
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET deleted_at = $1, password_hash = ''::bytea WHERE username = $2 AND deleted_at IS NULL`, ts(now), username)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return parley.Errorf(parley.ENOTFOUND, "no account %q (unknown, or deleted already)", username)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE username = $1)`, username); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE username = $1`, username); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT g.id, g.owner FROM groups g
			WHERE g.id IN (SELECT group_id FROM group_members WHERE username = $1) ORDER BY g.id FOR UPDATE`, username)
		var g parley.GroupLeft
		if _, err := pgx.ForEachRow(rows, []any{&g.GroupID, &g.Owner}, func() error {
			left = append(left, g)
			return nil
		}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM group_members WHERE username = $1`, username); err != nil {
			return err
		}
		for i := range left {
			g := &left[i]
			rows, _ := tx.Query(ctx, `SELECT username FROM group_members WHERE group_id = $1 ORDER BY ord`, g.GroupID)
			if g.Members, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			if g.Owner != username {
				continue
			}
			g.Owner = ""
			if len(g.Members) > 0 {
				g.Owner = g.Members[0]
			}
			if _, err := tx.Exec(ctx, `UPDATE groups SET owner = $1 WHERE id = $2`, g.Owner, g.GroupID); err != nil {
				return err
			}
		}
		return nil
	})
	if parley.ErrorCode(err) != parley.ENOTFOUND {
		db.users.Forget(username)
	}
	if err != nil {
		if parley.ErrorCode(err) != parley.EINTERNAL {
			return nil, err
		}
		return nil, fmt.Errorf("postgres: delete user: %w", err)
	}
	return left, nil
}

// UserSessions lists a user's sessions, oldest first.
func (db *DB) UserSessions(ctx context.Context, username string) ([]*parley.Session, error) {
	rows, _ := db.pool.Query(ctx, sessionQuery+`WHERE s.username = $1 ORDER BY s.created_at, s.id`, username)
	out, err := pgx.AppendRows([]*parley.Session(nil), rows, func(row pgx.CollectableRow) (*parley.Session, error) {
		return scanSession(row)
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: user sessions: %w", err)
	}
	return out, nil
}

// EraseSender empties the content of every message username sent, in
// every conversation (groups is not needed: the sender is a column). The
// messages table is partitioned by conversation and has no index on the
// sender, so this reads every partition once: a sequential scan of the
// whole table, in one transaction.
func (db *DB) EraseSender(ctx context.Context, username string, _ []string) (int64, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE messages SET content = '' WHERE sender = $1 AND content <> ''`, username)
	if err != nil {
		return 0, fmt.Errorf("postgres: erase sender: %w", err)
	}
	return tag.RowsAffected(), nil
}

// takenError says why a username cannot be registered.
func (db *DB) takenError(ctx context.Context, username string) error {
	var deleted *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT deleted_at FROM users WHERE username = $1`, username).Scan(&deleted); err == nil && deleted != nil {
		return parley.Errorf(parley.ECONFLICT, "username %q belonged to a deleted account and stays reserved", username)
	}
	return parley.Errorf(parley.ECONFLICT, "username %q is taken", username)
}
