package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// groupMembers lists a group's members, earliest first; nil if the group
// does not exist, empty if it has no members.
func groupMembers(ctx context.Context, q querier, groupID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT username FROM group_members WHERE group_id = ? ORDER BY ord`, groupID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	members := []string{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		members = append(members, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(members) == 0 {
		var one int
		err := q.QueryRowContext(ctx, `SELECT 1 FROM groups WHERE id = ?`, groupID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return members, nil
}
