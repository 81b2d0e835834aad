package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
)

// CreateGroup stores a group with its owner and members.
func (db *DB) CreateGroup(ctx context.Context, g *parley.Group, members []string, now time.Time) error {
	ctx = noCancel(ctx)
	err := db.write(ctx, func(tx *sql.Tx) error {
		for _, m := range members {
			ok, err := db.userExists(ctx, tx, m)
			if err != nil {
				return err
			}
			if !ok {
				return parley.Errorf(parley.ENOTFOUND, "no user %q", m)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO groups (id, name, owner, private, created_at) VALUES (?, ?, ?, ?, ?)`,
			g.ID, g.Name, g.Owner, g.Private, ms(g.CreatedAt)); err != nil {
			if isUnique(err) {
				return parley.Errorf(parley.ECONFLICT, "group %q exists", g.ID)
			}
			return err
		}
		for _, m := range append([]string{g.Owner}, members...) {
			if _, err := addMember(ctx, tx, g.ID, m, now); err != nil {
				return err
			}
		}
		return nil
	})
	db.members.forget(g.ID)
	if err != nil && parley.ErrorCode(err) == parley.EINTERNAL {
		return fmt.Errorf("sqlite: create group: %w", err)
	}
	return err
}

// addMember inserts a membership; it reports false if username already was
// a member. (The new member's cursor is the message log's: see
// parley.Split.)
func addMember(ctx context.Context, tx *sql.Tx, groupID, username string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO group_members (group_id, username, joined_at, ord)
		VALUES (?, ?, ?, (SELECT coalesce(max(ord), 0) + 1 FROM group_members WHERE group_id = ?))`,
		groupID, username, ms(now), groupID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Group returns one group or ENOTFOUND.
func (db *DB) Group(ctx context.Context, id string) (*parley.Group, error) {
	ctx = noCancel(ctx)
	g, err := loadGroup(ctx, db.r, id)
	if err != nil && parley.ErrorCode(err) == parley.EINTERNAL {
		return nil, fmt.Errorf("sqlite: group: %w", err)
	}
	return g, err
}

func loadGroup(ctx context.Context, q querier, id string) (*parley.Group, error) {
	var g parley.Group
	var created int64
	err := q.QueryRowContext(ctx, `SELECT id, name, owner, private, created_at FROM groups WHERE id = ?`, id).
		Scan(&g.ID, &g.Name, &g.Owner, &g.Private, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, parley.Errorf(parley.ENOTFOUND, "no group %q", id)
	}
	if err != nil {
		return nil, err
	}
	g.CreatedAt = fromMS(created)
	return &g, nil
}

// Members lists a group's members, earliest membership first.
func (db *DB) Members(ctx context.Context, id string) ([]parley.Member, error) {
	ctx = noCancel(ctx)
	rows, err := db.r.QueryContext(ctx, `SELECT username, joined_at FROM group_members WHERE group_id = ? ORDER BY ord`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: members: %w", err)
	}
	defer rows.Close()
	var ms []parley.Member
	for rows.Next() {
		var m parley.Member
		var joined int64
		if err := rows.Scan(&m.Username, &joined); err != nil {
			return nil, fmt.Errorf("sqlite: members: %w", err)
		}
		m.JoinedAt = fromMS(joined)
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// JoinGroup makes username a member of an open group.
func (db *DB) JoinGroup(ctx context.Context, id, username string, now time.Time) (bool, error) {
	ctx = noCancel(ctx)
	return db.changeMembers(ctx, id, "join group", func(tx *sql.Tx) (bool, error) {
		g, err := loadGroup(ctx, tx, id)
		if err != nil {
			return false, err
		}
		if g.Private {
			return false, parley.Errorf(parley.EFORBIDDEN, "group %q is private", id)
		}
		return join(ctx, tx, g, username, now)
	})
}

// AddMember makes username a member on behalf of by.
func (db *DB) AddMember(ctx context.Context, id, by, username string, now time.Time) (bool, error) {
	ctx = noCancel(ctx)
	return db.changeMembers(ctx, id, "add member", func(tx *sql.Tx) (bool, error) {
		g, err := loadGroup(ctx, tx, id)
		if err != nil {
			return false, err
		}
		member, err := isMember(ctx, tx, id, by)
		if err != nil {
			return false, err
		}
		if err := parley.CanAdd(g, by, member); err != nil {
			return false, err
		}
		ok, err := db.userExists(ctx, tx, username)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, parley.Errorf(parley.ENOTFOUND, "no user %q", username)
		}
		return join(ctx, tx, g, username, now)
	})
}

// join adds a membership, and makes the newcomer owner of an emptied group.
func join(ctx context.Context, tx *sql.Tx, g *parley.Group, username string, now time.Time) (bool, error) {
	added, err := addMember(ctx, tx, g.ID, username, now)
	if err != nil || !added {
		return added, err
	}
	if g.Owner == "" {
		_, err = tx.ExecContext(ctx, `UPDATE groups SET owner = ? WHERE id = ?`, username, g.ID)
	}
	return true, err
}

// RemoveMember ends a membership and returns the owner after the change.
func (db *DB) RemoveMember(ctx context.Context, id, by, username string, now time.Time) (string, error) {
	ctx = noCancel(ctx)
	var owner string
	_, err := db.changeMembers(ctx, id, "remove member", func(tx *sql.Tx) (bool, error) {
		g, err := loadGroup(ctx, tx, id)
		if err != nil {
			return false, err
		}
		if err := parley.CanRemove(g, by, username); err != nil {
			return false, err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = ? AND username = ?`, id, username)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return false, err
		} else if n == 0 {
			return false, parley.Errorf(parley.ENOTFOUND, "%s is not a member of group %q", username, id)
		}
		owner = g.Owner
		if owner == username {
			err := tx.QueryRowContext(ctx, `SELECT username FROM group_members WHERE group_id = ? ORDER BY ord LIMIT 1`, id).Scan(&owner)
			if errors.Is(err, sql.ErrNoRows) {
				owner = ""
			} else if err != nil {
				return false, err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE groups SET owner = ? WHERE id = ?`, owner, id); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	return owner, err
}

func (db *DB) changeMembers(ctx context.Context, id, op string, fn func(*sql.Tx) (bool, error)) (bool, error) {
	var changed bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		changed, err = fn(tx)
		return err
	})
	db.members.forget(id)
	if err != nil && parley.ErrorCode(err) == parley.EINTERNAL {
		return false, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return changed, err
}

// IsMember reports whether username is a member of group id; a missing
// group is ENOTFOUND.
func (db *DB) IsMember(ctx context.Context, id, username string) (bool, error) {
	ctx = noCancel(ctx)
	if _, err := db.Group(ctx, id); err != nil {
		return false, err
	}
	ok, err := isMember(ctx, db.r, id, username)
	if err != nil {
		return false, fmt.Errorf("sqlite: is member: %w", err)
	}
	return ok, nil
}

func isMember(ctx context.Context, q querier, id, username string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM group_members WHERE group_id = ? AND username = ?`, id, username).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
