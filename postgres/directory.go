package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parley-chat/parley"
)

// The DB is also the account store of a cluster whose messages live in a
// message log (parley.Split with the cassandra package): it answers the
// log's questions about accounts and groups as a parley.Directory.
var _ parley.AccountStore = (*DB)(nil)

// UserExists reports whether an account exists (disabled or not, but not
// deleted); see parley.Directory. Names known to exist are remembered, as
// for the messages this store keeps itself, with the same limit: a name
// deleted through another node passes until this one restarts (see
// DeleteUser), and a message to it then lands in a chat only its sender
// reads.
func (db *DB) UserExists(ctx context.Context, username string) (bool, error) {
	missing, err := db.missingUsers(ctx, db.pool, []string{username})
	if err != nil {
		return false, fmt.Errorf("postgres: user exists: %w", err)
	}
	return len(missing) == 0, nil
}

// GroupMembers lists a group's members, earliest membership first: nil for
// a missing group, empty for an emptied one.
//
// The list is read from PostgreSQL on every call and never kept in memory.
// The SQLite store can cache it because every change goes through the one
// process that owns the file; here any node of a cluster changes
// memberships, and a cache would need every node to hear of every change
// before its next read. Redis's pub/sub loses what is published while a
// node is disconnected, so it could not make that promise. The read is one
// index lookup per group per batch of messages (parley.Split asks once per
// batch), cheap next to the Paxos rounds that store the batch.
func (db *DB) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	var members []string
	err := db.pool.QueryRow(ctx, `SELECT array(SELECT username FROM group_members WHERE group_id = $1 ORDER BY ord)
		FROM groups WHERE id = $1`, groupID).Scan(&members)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: group members: %w", err)
	}
	if members == nil {
		members = []string{}
	}
	return members, nil
}

// UserGroups lists the groups username belongs to, in id order.
func (db *DB) UserGroups(ctx context.Context, username string) ([]parley.GroupSummary, error) {
	rows, _ := db.pool.Query(ctx, `SELECT g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.username = $1 ORDER BY g.id`, username)
	groups, err := pgx.AppendRows([]parley.GroupSummary{}, rows, func(row pgx.CollectableRow) (parley.GroupSummary, error) {
		var g parley.GroupSummary
		err := row.Scan(&g.GroupID, &g.Name)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: user groups: %w", err)
	}
	return groups, nil
}

// LastSeen returns when each user's last connection closed, in one query;
// zero for a user never seen or unknown.
func (db *DB) LastSeen(ctx context.Context, usernames []string) ([]time.Time, error) {
	out := make([]time.Time, len(usernames))
	if len(usernames) == 0 {
		return out, nil
	}
	rows, _ := db.pool.Query(ctx, `SELECT x.o, u.last_seen FROM unnest($1::text[]) WITH ORDINALITY AS x (username, o)
		JOIN users u ON u.username = x.username WHERE u.last_seen IS NOT NULL`, usernames)
	var o int64
	var seen time.Time
	if _, err := pgx.ForEachRow(rows, []any{&o, &seen}, func() error {
		out[o-1] = seen.UTC()
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: last seen: %w", err)
	}
	return out, nil
}
