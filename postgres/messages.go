package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parley-chat/parley"
)

// History returns a page of a conversation; see parley.MessageStore. Every
// page is one range of the primary key of one partition.
func (db *DB) History(ctx context.Context, conv string, p parley.Page) ([]parley.Message, bool, error) {
	var rows pgx.Rows
	const cols = `SELECT ` + msgCols + ` FROM messages WHERE conv = $1 `
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

// msgCols are the columns scanMessages reads, in order.
const msgCols = `seq, id, sender, content, created_at, kind, target, reply_to, emoji, removed, edited_at, deleted_by, reactions`

// prefixed qualifies each of cols with table.
func prefixed(table, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = table + "." + c
	}
	return strings.Join(parts, ", ")
}

// extra holds the timeline's columns of a row as scanned.
type extra struct {
	kind      int16
	editedAt  *time.Time
	deletedBy int64
	reactions []reactionJSON
}

// reactionJSON is a reaction as the reactions column stores it.
type reactionJSON struct {
	Emoji string   `json:"emoji"`
	Users []string `json:"users"`
}

// dest returns the scan destinations of msgCols, into m and e.
func (e *extra) dest(m *parley.Message) []any {
	return []any{&m.Seq, &m.ID, &m.From, &m.Content, &m.Time, &e.kind, &m.Target, &m.ReplyTo, &m.Emoji, &m.Removed, &e.editedAt, &e.deletedBy, &e.reactions}
}

// fill completes m from the scanned columns, and returns the seq of the
// entry that deleted it (0 if none).
func (e *extra) fill(m *parley.Message) int64 {
	m.Time = m.Time.UTC()
	m.Kind = parley.EntryKind(e.kind)
	if e.editedAt != nil {
		m.Edited, m.EditedAt = true, e.editedAt.UTC()
	}
	m.Deleted = e.deletedBy > 0
	for _, r := range e.reactions {
		m.Reactions = append(m.Reactions, parley.Reaction{Emoji: r.Emoji, Users: r.Users})
	}
	if !parley.IsGroupID(m.Conv) {
		m.To = parley.ChatPeer(m.Conv, m.From)
	}
	return e.deletedBy
}

// encodedExtra is a message's state as the batch writes it.
type encodedExtra struct {
	m                   *parley.Message
	editedAt, deletedBy int64  // Unix ms, 0: never; the deletion's seq
	reactions           string // JSON, "" for none
}

func encodeExtra(m *parley.Message, deletedBy int64) encodedExtra {
	e := encodedExtra{m: m, deletedBy: deletedBy}
	if m.Edited {
		e.editedAt = m.EditedAt.UnixMilli()
	}
	if len(m.Reactions) > 0 {
		rs := make([]reactionJSON, len(m.Reactions))
		for i, r := range m.Reactions {
			rs[i] = reactionJSON{r.Emoji, r.Users}
		}
		b, _ := json.Marshal(rs) // strings and slices of strings always encode
		e.reactions = string(b)
	}
	return e
}

// plain reports whether the row needs none of the timeline's columns.
func (e encodedExtra) plain() bool {
	m := e.m
	return m.Kind == parley.KindMessage && m.ReplyTo == 0 && e.editedAt == 0 && e.deletedBy == 0 && e.reactions == ""
}

// scanMessages reads msgCols rows of conv.
func scanMessages(rows pgx.Rows, conv string) ([]parley.Message, error) {
	return pgx.AppendRows([]parley.Message{}, rows, func(row pgx.CollectableRow) (parley.Message, error) {
		m := parley.Message{Conv: conv}
		var e extra
		if err := row.Scan(e.dest(&m)...); err != nil {
			return m, err
		}
		e.fill(&m)
		return m, nil
	})
}

// Undelivered returns messages above a cursor that username did not send.
func (db *DB) Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]parley.Message, error) {
	rows, _ := db.pool.Query(ctx, `SELECT `+msgCols+` FROM messages
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
	if err := db.advance(ctx, "cursors", cursors); err != nil {
		return fmt.Errorf("postgres: ack: %w", err)
	}
	return nil
}

// MarkRead moves read positions forward as Ack moves cursors.
func (db *DB) MarkRead(ctx context.Context, positions []parley.Cursor) error {
	if err := db.advance(ctx, "read_positions", positions); err != nil {
		return fmt.Errorf("postgres: mark read: %w", err)
	}
	return nil
}

// ReadPositions returns the read position in conv of each user.
func (db *DB) ReadPositions(ctx context.Context, conv string, usernames []string) ([]int64, error) {
	rows, _ := db.pool.Query(ctx, `SELECT coalesce(r.seq, 0) FROM unnest($2::text[]) WITH ORDINALITY AS x (username, i)
		LEFT JOIN read_positions r ON r.username = x.username AND r.conv = $1 ORDER BY x.i`, conv, usernames)
	seqs, err := pgx.AppendRows(make([]int64, 0, len(usernames)), rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("postgres: read positions: %w", err)
	}
	return seqs, nil
}

// advance moves positions forward in table (cursors or read_positions),
// clamped to each conversation's last seq, in one statement. Several
// positions of one user and conversation count as their highest; rows
// are written in key order, so that two concurrent writes cannot
// deadlock.
func (db *DB) advance(ctx context.Context, table string, cursors []parley.Cursor) error {
	if len(cursors) == 0 {
		return nil
	}
	users := make([]string, len(cursors))
	convs := make([]string, len(cursors))
	seqs := make([]int64, len(cursors))
	for i, c := range cursors {
		users[i], convs[i], seqs[i] = c.Username, c.Conv, c.Seq
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO `+table+` AS t (username, conv, seq)
		SELECT a.username, a.conv, least(max(a.seq), max(v.last_seq))
		FROM unnest($1::text[], $2::text[], $3::bigint[]) AS a (username, conv, seq)
		JOIN conversations v ON v.id = a.conv AND v.last_seq > 0
		GROUP BY a.username, a.conv ORDER BY a.username, a.conv
		ON CONFLICT (username, conv) DO UPDATE SET seq = greatest(t.seq, excluded.seq)`, users, convs, seqs)
	return err
}

// Inbox lists a user's chats and groups with their unread counts, in one
// round trip.
func (db *DB) Inbox(ctx context.Context, username string) (*parley.Inbox, error) {
	in := &parley.Inbox{Chats: []parley.ChatSummary{}, Groups: []parley.GroupSummary{}}
	// unread counts the messages above the read position r.seq of the
	// conversation id that others sent and did not delete, when there
	// are any.
	const unread = `CASE WHEN coalesce(v.last_seq, 0) > coalesce(r.seq, 0) THEN
		(SELECT count(*) FROM messages m WHERE m.conv = v.id AND m.seq > coalesce(r.seq, 0) AND m.sender <> $1
			AND m.kind = 0 AND m.deleted_by = 0)
		ELSE 0 END`
	b := &pgx.Batch{}
	b.Queue(`SELECT c.chat_id, c.peer, u.last_seen, coalesce(v.last_seq, 0), coalesce(k.seq, 0),
			coalesce(r.seq, 0), coalesce(p.seq, 0), `+unread+`
		FROM chats c
		LEFT JOIN users u ON u.username = c.peer
		LEFT JOIN conversations v ON v.id = c.chat_id
		LEFT JOIN cursors k ON k.username = c.username AND k.conv = c.chat_id
		LEFT JOIN read_positions r ON r.username = c.username AND r.conv = c.chat_id
		LEFT JOIN read_positions p ON p.username = c.peer AND p.conv = c.chat_id
		WHERE c.username = $1 ORDER BY c.chat_id`, username).Query(func(rows pgx.Rows) (err error) {
		in.Chats, err = pgx.AppendRows(in.Chats, rows, func(row pgx.CollectableRow) (parley.ChatSummary, error) {
			var s parley.ChatSummary
			var seen *time.Time
			err := row.Scan(&s.ChatID, &s.With, &seen, &s.LastSeq, &s.Cursor, &s.ReadSeq, &s.PeerReadSeq, &s.Unread)
			s.WithLastSeen = nullTime(seen)
			return s, err
		})
		return err
	})
	b.Queue(`SELECT g.id, g.name, coalesce(v.last_seq, 0), coalesce(k.seq, 0), coalesce(r.seq, 0), `+unread+`
		FROM group_members gm
		JOIN groups g ON g.id = gm.group_id
		LEFT JOIN conversations v ON v.id = g.id
		LEFT JOIN cursors k ON k.username = gm.username AND k.conv = g.id
		LEFT JOIN read_positions r ON r.username = gm.username AND r.conv = g.id
		WHERE gm.username = $1 ORDER BY g.id`, username).Query(func(rows pgx.Rows) (err error) {
		in.Groups, err = pgx.AppendRows(in.Groups, rows, func(row pgx.CollectableRow) (parley.GroupSummary, error) {
			var s parley.GroupSummary
			err := row.Scan(&s.GroupID, &s.Name, &s.LastSeq, &s.Cursor, &s.ReadSeq, &s.Unread)
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
