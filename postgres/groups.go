package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parley-chat/parley"
)

// CreateGroup stores a group with its owner and members.
func (db *DB) CreateGroup(ctx context.Context, g *parley.Group, members []string, now time.Time) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		missing, err := db.missingUsers(ctx, tx, members)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return parley.Errorf(parley.ENOTFOUND, "no user %q", missing[0])
		}
		if _, err := tx.Exec(ctx, `INSERT INTO groups (id, name, owner, private, created_at) VALUES ($1, $2, $3, $4, $5)`,
			g.ID, g.Name, g.Owner, g.Private, ts(g.CreatedAt)); err != nil {
			if isUnique(err) {
				return parley.Errorf(parley.ECONFLICT, "group %q exists", g.ID)
			}
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO conversations (id, last_seq) VALUES ($1, 0)`, g.ID); err != nil {
			return err
		}
		// The owner first, then the members in the order given, each once.
		all := []string{g.Owner}
		for _, m := range members {
			if !slices.Contains(all, m) {
				all = append(all, m)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO group_members (group_id, username, joined_at, ord)
			SELECT $1::text, u, $2::timestamptz, o FROM unnest($3::text[]) WITH ORDINALITY AS x (u, o)`, g.ID, ts(now), all); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO cursors (username, conv, seq)
			SELECT u, $1::text, 0 FROM unnest($2::text[]) AS u ORDER BY u
			ON CONFLICT (username, conv) DO NOTHING`, g.ID, all)
		return err
	})
	if err != nil && parley.ErrorCode(err) == parley.EINTERNAL {
		return fmt.Errorf("postgres: create group: %w", err)
	}
	return err
}

// addMember inserts a membership whose cursor starts at lastSeq; it reports
// false if username already was a member. The caller holds the group's
// lock, which makes max(ord) safe.
func addMember(ctx context.Context, tx pgx.Tx, groupID, username string, now time.Time, lastSeq int64) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO group_members (group_id, username, joined_at, ord)
		VALUES ($1, $2, $3, (SELECT coalesce(max(ord), 0) + 1 FROM group_members WHERE group_id = $1))
		ON CONFLICT (group_id, username) DO NOTHING`, groupID, username, ts(now))
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	// The read position starts with the cursor.
	for _, table := range []string{"cursors", "read_positions"} {
		_, err = tx.Exec(ctx, `INSERT INTO `+table+` AS t (username, conv, seq) VALUES ($1, $2, $3)
			ON CONFLICT (username, conv) DO UPDATE SET seq = greatest(t.seq, excluded.seq)`, username, groupID, lastSeq)
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// Group returns one group or ENOTFOUND.
func (db *DB) Group(ctx context.Context, id string) (*parley.Group, error) {
	g, err := loadGroup(ctx, db.pool, id, "")
	if err != nil && parley.ErrorCode(err) == parley.EINTERNAL {
		return nil, fmt.Errorf("postgres: group: %w", err)
	}
	return g, err
}

// loadGroup reads a group, with the row lock named by lock ("" for none).
func loadGroup(ctx context.Context, q querier, id, lock string) (*parley.Group, error) {
	var g parley.Group
	err := q.QueryRow(ctx, `SELECT id, name, owner, private, created_at FROM groups WHERE id = $1 `+lock, id).
		Scan(&g.ID, &g.Name, &g.Owner, &g.Private, &g.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, parley.Errorf(parley.ENOTFOUND, "no group %q", id)
	}
	if err != nil {
		return nil, err
	}
	g.CreatedAt = g.CreatedAt.UTC()
	return &g, nil
}

// Members lists a group's members, earliest membership first.
func (db *DB) Members(ctx context.Context, id string) ([]parley.Member, error) {
	rows, _ := db.pool.Query(ctx, `SELECT username, joined_at FROM group_members WHERE group_id = $1 ORDER BY ord`, id)
	ms, err := pgx.AppendRows([]parley.Member(nil), rows, func(row pgx.CollectableRow) (parley.Member, error) {
		var m parley.Member
		err := row.Scan(&m.Username, &m.JoinedAt)
		m.JoinedAt = m.JoinedAt.UTC()
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: members: %w", err)
	}
	return ms, nil
}

// JoinGroup makes username a member of an open group.
func (db *DB) JoinGroup(ctx context.Context, id, username string, now time.Time) (bool, error) {
	return db.changeMembers(ctx, "join group", id, func(tx pgx.Tx, g *parley.Group) (bool, error) {
		if g.Private {
			return false, parley.Errorf(parley.EFORBIDDEN, "group %q is private", id)
		}
		return join(ctx, tx, g, username, now)
	})
}

// AddMember makes username a member on behalf of by.
func (db *DB) AddMember(ctx context.Context, id, by, username string, now time.Time) (bool, error) {
	return db.changeMembers(ctx, "add member", id, func(tx pgx.Tx, g *parley.Group) (bool, error) {
		member, err := isMember(ctx, tx, id, by)
		if err != nil {
			return false, err
		}
		if err := parley.CanAdd(g, by, member); err != nil {
			return false, err
		}
		missing, err := db.missingUsers(ctx, tx, []string{username})
		if err != nil {
			return false, err
		}
		if len(missing) > 0 {
			return false, parley.Errorf(parley.ENOTFOUND, "no user %q", username)
		}
		return join(ctx, tx, g, username, now)
	})
}

// join adds a membership starting at the group's last seq, and makes the
// newcomer owner of an emptied group. The conversation row is share-locked
// so that a batch appending to the group either commits first, and its
// seq is below the cursor, or waits, and then lists the newcomer as a
// recipient.
func join(ctx context.Context, tx pgx.Tx, g *parley.Group, username string, now time.Time) (bool, error) {
	var last int64
	if err := tx.QueryRow(ctx, `SELECT last_seq FROM conversations WHERE id = $1 FOR SHARE`, g.ID).Scan(&last); err != nil {
		return false, err
	}
	added, err := addMember(ctx, tx, g.ID, username, now, last)
	if err != nil || !added {
		return added, err
	}
	if g.Owner == "" {
		_, err = tx.Exec(ctx, `UPDATE groups SET owner = $1 WHERE id = $2`, username, g.ID)
	}
	return true, err
}

// RemoveMember ends a membership and returns the owner after the change.
func (db *DB) RemoveMember(ctx context.Context, id, by, username string, now time.Time) (string, error) {
	var owner string
	_, err := db.changeMembers(ctx, "remove member", id, func(tx pgx.Tx, g *parley.Group) (bool, error) {
		if err := parley.CanRemove(g, by, username); err != nil {
			return false, err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1 AND username = $2`, id, username)
		if err != nil {
			return false, err
		}
		if tag.RowsAffected() == 0 {
			return false, parley.Errorf(parley.ENOTFOUND, "%s is not a member of group %q", username, id)
		}
		owner = g.Owner
		if owner == username {
			err := tx.QueryRow(ctx, `SELECT username FROM group_members WHERE group_id = $1 ORDER BY ord LIMIT 1`, id).Scan(&owner)
			if errors.Is(err, pgx.ErrNoRows) {
				owner = ""
			} else if err != nil {
				return false, err
			}
			if _, err := tx.Exec(ctx, `UPDATE groups SET owner = $1 WHERE id = $2`, owner, id); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	return owner, err
}

// changeMembers runs fn in a transaction that holds the lock of group id,
// so that the membership rules see and leave a consistent group.
func (db *DB) changeMembers(ctx context.Context, op, id string, fn func(pgx.Tx, *parley.Group) (bool, error)) (bool, error) {
	var changed bool
	err := db.tx(ctx, func(tx pgx.Tx) error {
		g, err := loadGroup(ctx, tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		changed, err = fn(tx, g)
		return err
	})
	if err != nil && parley.ErrorCode(err) == parley.EINTERNAL {
		return false, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return changed, err
}

// IsMember reports whether username is a member of group id; a missing
// group is ENOTFOUND.
func (db *DB) IsMember(ctx context.Context, id, username string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM group_members WHERE group_id = $1 AND username = $2)
		FROM groups WHERE id = $1`, id, username).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, parley.Errorf(parley.ENOTFOUND, "no group %q", id)
	}
	if err != nil {
		return false, fmt.Errorf("postgres: is member: %w", err)
	}
	return ok, nil
}

func isMember(ctx context.Context, q querier, id, username string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM group_members WHERE group_id = $1 AND username = $2)`, id, username).Scan(&ok)
	return ok, err
}
