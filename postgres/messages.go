package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parley-chat/parley"
)

// History returns a page of a conversation; see parley.MessageStore. Every
// page is one range of the primary key of one partition.
func (db *DB) History(ctx context.Context, conv string, p parley.Page) ([]parley.Message, bool, error) {
	var rows pgx.Rows
	const cols = `SELECT seq, id, sender, content, created_at FROM messages WHERE conv = $1 `
	switch {
	case p.Forward:
		rows, _ = db.pool.Query(ctx, cols+`AND seq > $2 ORDER BY seq LIMIT $3`, conv, p.After, p.Limit+1)
	case p.Before > 0:
		rows, _ = db.pool.Query(ctx, cols+`AND seq < $2 ORDER BY seq DESC LIMIT $3`, conv, p.Before, p.Limit)
	default:
		rows, _ = db.pool.Query(ctx, cols+`ORDER BY seq DESC LIMIT $2`, conv, p.Limit)
	}
	msgs, err := scanMessages(rows, conv)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: history: %w", err)
	}
	return parley.PageResult(msgs, p)
}

// scanMessages reads (seq, id, sender, content, created_at) rows of conv.
func scanMessages(rows pgx.Rows, conv string) ([]parley.Message, error) {
	group := parley.IsGroupID(conv)
	return pgx.AppendRows([]parley.Message{}, rows, func(row pgx.CollectableRow) (parley.Message, error) {
		m := parley.Message{Conv: conv}
		if err := row.Scan(&m.Seq, &m.ID, &m.From, &m.Content, &m.Time); err != nil {
			return m, err
		}
		m.Time = m.Time.UTC()
		if !group {
			m.To = parley.ChatPeer(conv, m.From)
		}
		return m, nil
	})
}


// Undelivered returns messages above a cursor that username did not send.
func (db *DB) Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]parley.Message, error) {
	rows, _ := db.pool.Query(ctx, `SELECT seq, id, sender, content, created_at FROM messages
		WHERE conv = $1 AND seq > $2 AND sender <> $3 ORDER BY seq LIMIT $4`, conv, after, username, limit)
	msgs, err := scanMessages(rows, conv)
	if err != nil {
		return nil, fmt.Errorf("postgres: undelivered: %w", err)
	}
	return msgs, nil
}

// Ack moves delivery cursors forward, clamped to each conversation's last
// seq, in one statement. Several cursors of one user and conversation
// count as their highest; rows are written in key order, so that two
// concurrent ACKs cannot deadlock.
func (db *DB) Ack(ctx context.Context, cursors []parley.Cursor) error {
	if len(cursors) == 0 {
		return nil
	}
	users := make([]string, len(cursors))
	convs := make([]string, len(cursors))
	seqs := make([]int64, len(cursors))
	for i, c := range cursors {
		users[i], convs[i], seqs[i] = c.Username, c.Conv, c.Seq
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO cursors (username, conv, seq)
		SELECT a.username, a.conv, least(max(a.seq), max(v.last_seq))
		FROM unnest($1::text[], $2::text[], $3::bigint[]) AS a (username, conv, seq)
		JOIN conversations v ON v.id = a.conv AND v.last_seq > 0
		GROUP BY a.username, a.conv ORDER BY a.username, a.conv
		ON CONFLICT (username, conv) DO UPDATE SET seq = greatest(cursors.seq, excluded.seq)`, users, convs, seqs)
	if err != nil {
		return fmt.Errorf("postgres: ack: %w", err)
	}
	return nil
}

// Inbox lists a user's chats and groups with their unread counts, in one
// round trip.
func (db *DB) Inbox(ctx context.Context, username string) (*parley.Inbox, error) {
	in := &parley.Inbox{Chats: []parley.ChatSummary{}, Groups: []parley.GroupSummary{}}
	// unread counts the messages above the cursor k.seq of the
	// conversation id that the user did not send, when there are any.
	const unread = `CASE WHEN coalesce(v.last_seq, 0) > coalesce(k.seq, 0) THEN
		(SELECT count(*) FROM messages m WHERE m.conv = v.id AND m.seq > coalesce(k.seq, 0) AND m.sender <> $1)
		ELSE 0 END`
	b := &pgx.Batch{}
	b.Queue(`SELECT c.chat_id, c.peer, u.last_seen, coalesce(v.last_seq, 0), coalesce(k.seq, 0), `+unread+`
		FROM chats c
		LEFT JOIN users u ON u.username = c.peer
		LEFT JOIN conversations v ON v.id = c.chat_id
		LEFT JOIN cursors k ON k.username = c.username AND k.conv = c.chat_id
		WHERE c.username = $1 ORDER BY c.chat_id`, username).Query(func(rows pgx.Rows) (err error) {
		in.Chats, err = pgx.AppendRows(in.Chats, rows, func(row pgx.CollectableRow) (parley.ChatSummary, error) {
			var s parley.ChatSummary
			var seen *time.Time
			err := row.Scan(&s.ChatID, &s.With, &seen, &s.LastSeq, &s.Cursor, &s.Unread)
			s.WithLastSeen = nullTime(seen)
			return s, err
		})
		return err
	})
	b.Queue(`SELECT g.id, g.name, coalesce(v.last_seq, 0), coalesce(k.seq, 0), `+unread+`
		FROM group_members gm
		JOIN groups g ON g.id = gm.group_id
		LEFT JOIN conversations v ON v.id = g.id
		LEFT JOIN cursors k ON k.username = gm.username AND k.conv = g.id
		WHERE gm.username = $1 ORDER BY g.id`, username).Query(func(rows pgx.Rows) (err error) {
		in.Groups, err = pgx.AppendRows(in.Groups, rows, func(row pgx.CollectableRow) (parley.GroupSummary, error) {
			var s parley.GroupSummary
			err := row.Scan(&s.GroupID, &s.Name, &s.LastSeq, &s.Cursor, &s.Unread)
			return s, err
		})
		return err
	})
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("postgres: inbox: %w", err)
	}
	return in, nil
}

// Contacts lists the users who share a one-to-one chat with username.
func (db *DB) Contacts(ctx context.Context, username string) ([]string, error) {
	rows, _ := db.pool.Query(ctx, `SELECT peer FROM chats WHERE username = $1 ORDER BY peer`, username)
	peers, err := pgx.AppendRows([]string(nil), rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: contacts: %w", err)
	}
	return peers, nil
}

// LastSeq returns the seq of a conversation's newest message.
func (db *DB) LastSeq(ctx context.Context, conv string) (int64, error) {
	var seq int64
	err := db.pool.QueryRow(ctx, `SELECT last_seq FROM conversations WHERE id = $1`, conv).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: last seq: %w", err)
	}
	return seq, nil
}
