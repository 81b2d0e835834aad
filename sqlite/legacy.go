package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parley-chat/parley"
)

// A release before the message log kept messages, cursors, chats and
// conversations in this database. These read them out once, for an import
// into the log, and then drop them.

// HasLegacyMessages reports whether the database still holds the tables of
// messages.
func (db *DB) HasLegacyMessages(ctx context.Context) (bool, error) {
	var n int
	err := db.r.QueryRowContext(noCancel(ctx), `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'messages'`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite: legacy messages: %w", err)
	}
	return n > 0, nil
}

// LegacyMessageCount counts the stored messages.
func (db *DB) LegacyMessageCount(ctx context.Context) (int64, error) {
	var n int64
	if err := db.r.QueryRowContext(noCancel(ctx), `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: legacy messages: %w", err)
	}
	return n, nil
}

// LegacyMessages returns up to limit stored messages after (conv, seq) in
// (conv, seq) order.
func (db *DB) LegacyMessages(ctx context.Context, conv string, seq int64, limit int) ([]parley.StoredMessage, error) {
	rows, err := db.r.QueryContext(noCancel(ctx), `SELECT conv, seq, id, sender, coalesce(client_id, ''), content, created_at
		FROM messages WHERE (conv, seq) > (?, ?) ORDER BY conv, seq LIMIT ?`, conv, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: legacy messages: %w", err)
	}
	defer rows.Close()
	var out []parley.StoredMessage
	for rows.Next() {
		var m parley.StoredMessage
		var created int64
		if err := rows.Scan(&m.Conv, &m.Seq, &m.ID, &m.From, &m.ClientID, &m.Content, &created); err != nil {
			return nil, fmt.Errorf("sqlite: legacy messages: %w", err)
		}
		m.Time = fromMS(created)
		if !parley.IsGroupID(m.Conv) {
			m.To = parley.ChatPeer(m.Conv, m.From)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// LegacyCursors returns every stored delivery cursor above 0.
func (db *DB) LegacyCursors(ctx context.Context) ([]parley.Cursor, error) {
	rows, err := db.r.QueryContext(noCancel(ctx), `SELECT username, conv, seq FROM cursors WHERE seq > 0 ORDER BY username, conv`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: legacy cursors: %w", err)
	}
	defer rows.Close()
	var out []parley.Cursor
	for rows.Next() {
		var c parley.Cursor
		if err := rows.Scan(&c.Username, &c.Conv, &c.Seq); err != nil {
			return nil, fmt.Errorf("sqlite: legacy cursors: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DropLegacyMessages drops the tables of messages, cursors, chats and
// conversations; dropping them again is not an error.
func (db *DB) DropLegacyMessages(ctx context.Context) error {
	return db.write(noCancel(ctx), func(tx *sql.Tx) error {
		for _, table := range []string{"messages", "cursors", "chats", "conversations"} {
			if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+table); err != nil {
				return fmt.Errorf("sqlite: drop %s: %w", table, err)
			}
		}
		return nil
	})
}
