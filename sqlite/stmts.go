package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// The hot statements of the write path, prepared once on the single write
// connection so that SQLite does not parse them again for every message.
const (
	stInsertMessage = iota
	stByClientID
	stLastSeq
	stSetLastSeq
	stInsertChats
	stUpsertCursor
	stFirstOwnCursor
	stNextOwnCursor
	numStmts
)

var stmtText = [numStmts]string{
	stInsertMessage: `INSERT INTO messages (conv, seq, id, sender, client_id, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (sender, client_id) WHERE client_id IS NOT NULL DO NOTHING`,
	stByClientID: `SELECT conv, seq, id, content, created_at FROM messages WHERE sender = ? AND client_id = ?`,
	stLastSeq:    `SELECT last_seq FROM conversations WHERE id = ?`,
	stSetLastSeq: `INSERT INTO conversations (id, last_seq) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq`,
	stInsertChats:  `INSERT OR IGNORE INTO chats (username, peer, chat_id) VALUES (?, ?, ?), (?, ?, ?)`,
	stUpsertCursor: `INSERT INTO cursors (username, conv, seq) VALUES (?, ?, ?) ON CONFLICT (username, conv) DO UPDATE SET seq = max(seq, excluded.seq)`,
	// A sender's cursor follows their own message when it was right behind
	// it: their own messages count as delivered to them.
	stFirstOwnCursor: `INSERT INTO cursors (username, conv, seq) VALUES (?, ?, 1) ON CONFLICT (username, conv) DO UPDATE SET seq = 1 WHERE seq = 0`,
	stNextOwnCursor:  `UPDATE cursors SET seq = ?3 WHERE username = ?1 AND conv = ?2 AND seq = ?3 - 1`,
}

// stmts are the prepared statements of the write connection.
type stmts [numStmts]*sql.Stmt

func (s *stmts) prepare(ctx context.Context, db *sql.DB) error {
	for i, text := range stmtText {
		st, err := db.PrepareContext(ctx, text)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		s[i] = st
	}
	return nil
}

func (s *stmts) close() {
	for _, st := range s {
		if st != nil {
			st.Close()
		}
	}
}

// txStmts binds the prepared statements to one transaction, lazily.
type txStmts struct {
	ctx context.Context
	tx  *sql.Tx
	all *stmts
	in_ [numStmts]*sql.Stmt
}

func (s *stmts) in(ctx context.Context, tx *sql.Tx) *txStmts {
	return &txStmts{ctx: ctx, tx: tx, all: s}
}

func (w *txStmts) stmt(i int) *sql.Stmt {
	if w.in_[i] == nil {
		w.in_[i] = w.tx.StmtContext(w.ctx, w.all[i])
	}
	return w.in_[i]
}
