package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parley-chat/parley"
)

// AppendMessages stores a batch of messages in one transaction; see
// parley.MessageStore.
//
// The store owns its database file, so it keeps each conversation's last
// seq in memory (db.seqs, under the write lock): a new message is one
// INSERT, and each conversation's row is written once per batch.
func (db *DB) AppendMessages(ctx context.Context, batch []*parley.Append) error {
	ctx = noCancel(ctx)
	db.wmu.Lock()
	defer db.wmu.Unlock()
	now := db.now()
	last := make(map[string]int64) // this batch's seqs, applied on commit
	err := db.tx(ctx, func(tx *sql.Tx) error {
		w := db.stmts.in(ctx, tx)
		for _, a := range batch {
			if err := db.append(ctx, w, a, now, last); err != nil {
				return err
			}
		}
		for conv, seq := range last {
			if _, err := w.stmt(stSetLastSeq).ExecContext(ctx, conv, seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, a := range batch {
			a.Message, a.Duplicate, a.Recipients, a.Err = parley.Message{}, false, nil, nil
		}
		return fmt.Errorf("sqlite: append messages: %w", err)
	}
	for conv, seq := range last {
		db.seqs[conv] = seq
	}
	return nil
}

// lastSeq returns a conversation's last seq: this batch's, the cached one,
// or the stored one. The caller holds db.wmu.
func (db *DB) lastSeq(ctx context.Context, w *txStmts, conv string, batch map[string]int64) (int64, error) {
	if seq, ok := batch[conv]; ok {
		return seq, nil
	}
	if seq, ok := db.seqs[conv]; ok {
		return seq, nil
	}
	var seq int64
	err := w.stmt(stLastSeq).QueryRowContext(ctx, conv).Scan(&seq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	db.seqs[conv] = seq
	return seq, nil
}

// append stores one message of a batch. A returned error fails the batch;
// a problem with this message alone goes into a.Err.
func (db *DB) append(ctx context.Context, w *txStmts, a *parley.Append, now time.Time, batch map[string]int64) error {
	a.Message, a.Duplicate, a.Recipients, a.Err = parley.Message{}, false, nil, nil
	failed := a.Invalid
	group := parley.IsGroupID(a.Conv)
	if failed == nil && group {
		members, err := groupMembers(ctx, w.tx, a.Conv)
		if err != nil {
			return err
		}
		switch {
		case members == nil:
			failed = parley.Errorf(parley.ENOTFOUND, "no group %q", a.Conv)
		case !slices.Contains(members, a.From):
			failed = parley.Errorf(parley.EFORBIDDEN, "you are not a member of group %q", a.Conv)
		default:
			a.Recipients = slices.DeleteFunc(members, func(m string) bool { return m == a.From })
		}
	} else if failed == nil {
		ok, err := db.userExists(ctx, w.tx, a.To)
		if err != nil {
			return err
		}
		if !ok {
			failed = parley.Errorf(parley.ENOTFOUND, "no user %q", a.To)
		}
		a.Recipients = []string{a.To}
	}
	if failed != nil {
		// A repeat gets its original even if it would fail now.
		a.Recipients = nil
		if dup, err := db.original(ctx, w, a); dup || err != nil {
			return err
		}
		a.Err = failed
		return nil
	}

	last, err := db.lastSeq(ctx, w, a.Conv, batch)
	if err != nil {
		return err
	}
	seq := last + 1
	var clientID sql.NullString
	if a.ClientID != "" {
		clientID = sql.NullString{String: a.ClientID, Valid: true}
	}
	created := now.UnixMilli()
	res, err := w.stmt(stInsertMessage).ExecContext(ctx, a.Conv, seq, a.ID, a.From, clientID, a.Content, created)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		// The idempotency key exists: this is a repeat.
		a.Recipients = nil
		if dup, err := db.original(ctx, w, a); err != nil || !dup {
			return errors.Join(err, errors.New("message neither stored nor found"))
		}
		return nil
	}
	batch[a.Conv] = seq
	if seq == 1 {
		if _, err := w.stmt(stFirstOwnCursor).ExecContext(ctx, a.From, a.Conv); err != nil {
			return err
		}
	} else if _, err := w.stmt(stNextOwnCursor).ExecContext(ctx, a.From, a.Conv, seq); err != nil {
		return err
	}
	if seq == 1 && !group {
		if _, err := w.stmt(stInsertChats).ExecContext(ctx, a.From, a.To, a.Conv, a.To, a.From, a.Conv); err != nil {
			return err
		}
	}
	a.Message = parley.Message{ID: a.ID, Conv: a.Conv, Seq: seq, From: a.From, To: a.To, Content: a.Content, Time: fromMS(created)}
	if group {
		a.Message.To = ""
	}
	return nil
}

// original looks up the message stored earlier under a's idempotency key
// and, if there is one, makes it a's result.
func (db *DB) original(ctx context.Context, w *txStmts, a *parley.Append) (bool, error) {
	if a.ClientID == "" {
		return false, nil
	}
	var m parley.Message
	var created int64
	err := w.stmt(stByClientID).QueryRowContext(ctx, a.From, a.ClientID).Scan(&m.Conv, &m.Seq, &m.ID, &m.Content, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	m.From, m.Time = a.From, fromMS(created)
	if !parley.IsGroupID(m.Conv) {
		m.To = peerOf(m.Conv, a.From)
	}
	a.Message, a.Duplicate = m, true
	return true, nil
}

// peerOf returns the other participant of a chat.
func peerOf(chatID, me string) string {
	a, b, _ := parley.ChatPeers(chatID)
	if a == me {
		return b
	}
	return a
}

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

// History returns a page of a conversation; see parley.MessageStore.
func (db *DB) History(ctx context.Context, conv string, p parley.Page) ([]parley.Message, bool, error) {
	ctx = noCancel(ctx)
	var rows *sql.Rows
	var err error
	const cols = `SELECT seq, id, sender, content, created_at FROM messages WHERE conv = ? `
	switch {
	case p.Forward:
		rows, err = db.r.QueryContext(ctx, cols+`AND seq > ? ORDER BY seq LIMIT ?`, conv, p.After, p.Limit+1)
	case p.Before > 0:
		rows, err = db.r.QueryContext(ctx, cols+`AND seq < ? ORDER BY seq DESC LIMIT ?`, conv, p.Before, p.Limit)
	default:
		rows, err = db.r.QueryContext(ctx, cols+`ORDER BY seq DESC LIMIT ?`, conv, p.Limit)
	}
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: history: %w", err)
	}
	msgs, err := scanMessages(rows, conv)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: history: %w", err)
	}
	return parley.PageResult(msgs, p)
}

// scanMessages reads (seq, id, sender, content, created_at) rows of conv.
func scanMessages(rows *sql.Rows, conv string) ([]parley.Message, error) {
	defer rows.Close()
	msgs := []parley.Message{}
	for rows.Next() {
		m := parley.Message{Conv: conv}
		var created int64
		if err := rows.Scan(&m.Seq, &m.ID, &m.From, &m.Content, &created); err != nil {
			return nil, err
		}
		m.Time = fromMS(created)
		if !parley.IsGroupID(conv) {
			m.To = peerOf(conv, m.From)
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// Undelivered returns messages above a cursor that username did not send.
func (db *DB) Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]parley.Message, error) {
	ctx = noCancel(ctx)
	rows, err := db.r.QueryContext(ctx, `SELECT seq, id, sender, content, created_at FROM messages
		WHERE conv = ? AND seq > ? AND sender <> ? ORDER BY seq LIMIT ?`, conv, after, username, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: undelivered: %w", err)
	}
	msgs, err := scanMessages(rows, conv)
	if err != nil {
		return nil, fmt.Errorf("sqlite: undelivered: %w", err)
	}
	return msgs, nil
}

// Ack moves delivery cursors forward, clamped to each conversation's last
// seq.
func (db *DB) Ack(ctx context.Context, cursors []parley.Cursor) error {
	ctx = noCancel(ctx)
	db.wmu.Lock()
	defer db.wmu.Unlock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		w := db.stmts.in(ctx, tx)
		for _, c := range cursors {
			last, err := db.lastSeq(ctx, w, c.Conv, nil)
			if err != nil {
				return err
			}
			if _, err := w.stmt(stUpsertCursor).ExecContext(ctx, c.Username, c.Conv, min(c.Seq, last)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: ack: %w", err)
	}
	return nil
}

// Inbox lists a user's chats and groups with their unread counts.
func (db *DB) Inbox(ctx context.Context, username string) (*parley.Inbox, error) {
	ctx = noCancel(ctx)
	in := &parley.Inbox{Chats: []parley.ChatSummary{}, Groups: []parley.GroupSummary{}}
	rows, err := db.r.QueryContext(ctx, `SELECT c.chat_id, c.peer, u.last_seen, coalesce(v.last_seq, 0), coalesce(k.seq, 0)
		FROM chats c
		LEFT JOIN users u ON u.username = c.peer
		LEFT JOIN conversations v ON v.id = c.chat_id
		LEFT JOIN cursors k ON k.username = c.username AND k.conv = c.chat_id
		WHERE c.username = ? ORDER BY c.chat_id`, username)
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbox: %w", err)
	}
	for rows.Next() {
		var s parley.ChatSummary
		var seen sql.NullInt64
		if err := rows.Scan(&s.ChatID, &s.With, &seen, &s.LastSeq, &s.Cursor); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: inbox: %w", err)
		}
		s.WithLastSeen = nullMS(seen)
		in.Chats = append(in.Chats, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: inbox: %w", err)
	}

	rows, err = db.r.QueryContext(ctx, `SELECT g.id, g.name, coalesce(v.last_seq, 0), coalesce(k.seq, 0)
		FROM group_members m
		JOIN groups g ON g.id = m.group_id
		LEFT JOIN conversations v ON v.id = g.id
		LEFT JOIN cursors k ON k.username = m.username AND k.conv = g.id
		WHERE m.username = ? ORDER BY g.id`, username)
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbox: %w", err)
	}
	for rows.Next() {
		var s parley.GroupSummary
		if err := rows.Scan(&s.GroupID, &s.Name, &s.LastSeq, &s.Cursor); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: inbox: %w", err)
		}
		in.Groups = append(in.Groups, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: inbox: %w", err)
	}

	for i := range in.Chats {
		c := &in.Chats[i]
		if c.Unread, err = db.unread(ctx, username, c.ChatID, c.Cursor, c.LastSeq); err != nil {
			return nil, err
		}
	}
	for i := range in.Groups {
		g := &in.Groups[i]
		if g.Unread, err = db.unread(ctx, username, g.GroupID, g.Cursor, g.LastSeq); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func (db *DB) unread(ctx context.Context, username, conv string, cursor, last int64) (int64, error) {
	if last <= cursor {
		return 0, nil
	}
	var n int64
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE conv = ? AND seq > ? AND sender <> ?`,
		conv, cursor, username).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: unread: %w", err)
	}
	return n, nil
}

// Contacts lists the users who share a one-to-one chat with username.
func (db *DB) Contacts(ctx context.Context, username string) ([]string, error) {
	ctx = noCancel(ctx)
	rows, err := db.r.QueryContext(ctx, `SELECT peer FROM chats WHERE username = ? ORDER BY peer`, username)
	if err != nil {
		return nil, fmt.Errorf("sqlite: contacts: %w", err)
	}
	defer rows.Close()
	var peers []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("sqlite: contacts: %w", err)
		}
		peers = append(peers, p)
	}
	return peers, rows.Err()
}
