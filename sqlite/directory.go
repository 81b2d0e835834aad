package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

var _ parley.AccountStore = (*DB)(nil)

// UserExists reports whether an account exists; see parley.Directory.
func (db *DB) UserExists(ctx context.Context, username string) (bool, error) {
	ok, err := db.userExists(noCancel(ctx), db.r, username)
	if err != nil {
		return false, fmt.Errorf("sqlite: user exists: %w", err)
	}
	return ok, nil
}

// GroupMembers lists a group's members, served from memory after the first
// read: the store owns its database file, and every membership change goes
// through it and forgets the group's entry.
func (db *DB) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	m, gen, ok := db.members.get(groupID)
	if ok {
		return m, nil
	}
	m, err := groupMembers(noCancel(ctx), db.r, groupID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: group members: %w", err)
	}
	db.members.put(groupID, m, gen)
	return m, nil
}

// UserGroups lists the groups username belongs to, in id order.
func (db *DB) UserGroups(ctx context.Context, username string) ([]parley.GroupSummary, error) {
	rows, err := db.r.QueryContext(noCancel(ctx), `SELECT g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.username = ? ORDER BY g.id`, username)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user groups: %w", err)
	}
	defer rows.Close()
	groups := []parley.GroupSummary{}
	for rows.Next() {
		var g parley.GroupSummary
		if err := rows.Scan(&g.GroupID, &g.Name); err != nil {
			return nil, fmt.Errorf("sqlite: user groups: %w", err)
		}
		groups = append(groups, g)
	}
	return groups, rows.Err()
}

// LastSeen returns when each user's last connection closed.
func (db *DB) LastSeen(ctx context.Context, usernames []string) ([]time.Time, error) {
	ctx = noCancel(ctx)
	out := make([]time.Time, len(usernames))
	for i, u := range usernames {
		var seen sql.NullInt64
		err := db.r.QueryRowContext(ctx, `SELECT last_seen FROM users WHERE username = ?`, u).Scan(&seen)
		if err != nil && err != sql.ErrNoRows {
			return nil, fmt.Errorf("sqlite: last seen: %w", err)
		}
		out[i] = nullMS(seen)
	}
	return out, nil
}

// memberCache keeps the member lists of recently used groups. A reader
// that missed stores what it read only if no change was forgotten since it
// looked (gen), so a list read before a change never outlives it.
type memberCache struct {
	mu     sync.Mutex
	gen    uint64
	groups map[string][]string
}

// maxCachedGroups bounds the cache; past it, it starts over.
const maxCachedGroups = 10000

func (c *memberCache) get(id string) ([]string, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.groups[id]
	return m, c.gen, ok
}

func (c *memberCache) put(id string, members []string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.groups == nil || len(c.groups) >= maxCachedGroups {
		c.groups = make(map[string][]string)
	}
	c.groups[id] = members
}

func (c *memberCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.groups, id)
}
