package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/parley-chat/parley"
)

// maxAttempts bounds how many times AppendMessages runs one batch (see
// retryable).
const maxAttempts = 5

// errKeyTaken fails a transaction that found one of its idempotency keys
// taken when it stored it: another node stored the key after this one
// looked it up.
var errKeyTaken = errors.New("an idempotency key was stored concurrently")

// AppendMessages stores a batch of messages in one transaction; see
// parley.MessageStore.
//
// The transaction makes three round trips. The first, one pipeline, begins
// it, creates the rows of new chats, locks the rows of every conversation
// of the batch in id order, and then reads what the batch needs: which
// recipients exist, the members of its groups, and the messages stored
// earlier under its idempotency keys. Seqs are assigned in memory, in
// batch order; the second pipeline writes the messages, the keys, the last
// seqs and the new chats with one set-based statement each; the third
// commits.
func (db *DB) AppendMessages(ctx context.Context, batch []*parley.Append) error {
	if len(batch) == 0 {
		return nil
	}
	now := ts(db.now())
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		ap := &appender{db: db, batch: batch, now: now}
		if err = ap.run(ctx); err == nil {
			return nil
		}
		for _, a := range batch {
			a.Message, a.Duplicate, a.Recipients, a.Err = parley.Message{}, false, nil, nil
		}
		if !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("postgres: append messages: %w", err)
}

// retryable reports whether a batch failed only because of what another
// transaction did, and can be run again: errKeyTaken (the next run finds
// the other node's message), and deadlocks and serialization failures,
// which should not happen (locks are taken in order, at READ COMMITTED)
// but would pass if they did.
func retryable(err error) bool {
	if errors.Is(err, errKeyTaken) {
		return true
	}
	switch pgCode(err) {
	case deadlockDetected, serializationFailure:
		return true
	}
	return false
}

// msgKey is an idempotency key.
type msgKey struct{ sender, clientID string }

// appender stores one batch in one transaction.
type appender struct {
	db    *DB
	batch []*parley.Append
	now   time.Time

	// What the reads found.
	locked    map[string]int64          // conversations locked, and their last seq
	cursors   map[[2]string]int64       // senders' cursors (user, conv), locked
	moved     map[[2]string]bool        // cursors this batch moves
	members   map[string][]string       // groups that exist, and their members, earliest first
	originals map[msgKey]parley.Message // messages stored earlier under the batch's keys

	// What the batch adds.
	last   map[string]int64           // last seq of each locked conversation
	stored map[msgKey]*parley.Message // new messages by key
	msgs   struct {
		conv, id, sender, content []string
		seq                       []int64
	}
	keys struct {
		sender, clientID, conv []string
		seq                    []int64
	}
	chats struct{ user, peer, id []string }
}

func (ap *appender) run(ctx context.Context) error {
	ap.locked = make(map[string]int64)
	ap.cursors = make(map[[2]string]int64)
	ap.moved = make(map[[2]string]bool)
	ap.members = make(map[string][]string)
	ap.originals = make(map[msgKey]parley.Message)
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	ap.queueReads(b)
	br := ap.db.pool.SendBatch(ctx, b)
	err := br.Close()
	tx := br.Tx()
	defer tx.Rollback(ctx) // after Commit, a no-op
	if err != nil {
		return err
	}

	ap.last = maps.Clone(ap.locked)
	ap.stored = make(map[msgKey]*parley.Message)
	for _, a := range ap.batch {
		if err := ap.add(a); err != nil {
			return err
		}
	}
	if err := ap.write(ctx, tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// queueReads queues the reads of the batch after the BEGIN. The statements
// run in order, each seeing what committed before it started: group
// members are read after the group's conversation is locked, so that they
// are the members at commit time, and keys after every conversation is
// locked, so that a repeat racing on another node in the same
// conversation has committed.
func (ap *appender) queueReads(b *pgx.Batch) {
	var ask, chatConvs, chatPeers, groups, convs []string
	var keys []msgKey
	var curUsers, curConvs []string
	seenCursor := map[[2]string]bool{}
	seenConv, seenUser := map[string]bool{}, map[string]bool{}
	seenChat, seenKey := map[[2]string]bool{}, map[msgKey]bool{}
	for _, a := range ap.batch {
		if k := (msgKey{a.From, a.ClientID}); a.ClientID != "" && !seenKey[k] {
			seenKey[k] = true
			keys = append(keys, k)
		}
		switch {
		case a.Invalid != nil:
			continue
		case parley.IsGroupID(a.Conv):
			if !seenConv[a.Conv] {
				groups = append(groups, a.Conv)
			}
		default:
			if chat := [2]string{a.Conv, a.To}; !seenChat[chat] {
				seenChat[chat] = true
				chatConvs, chatPeers = append(chatConvs, a.Conv), append(chatPeers, a.To)
			}
			if !seenUser[a.To] && !ap.db.users.Has(a.To) {
				seenUser[a.To] = true
				ask = append(ask, a.To)
			}
		}
		if !seenConv[a.Conv] {
			seenConv[a.Conv] = true
			convs = append(convs, a.Conv)
		}
		if c := [2]string{a.From, a.Conv}; !seenCursor[c] {
			seenCursor[c] = true
			curUsers, curConvs = append(curUsers, a.From), append(curConvs, a.Conv)
		}
	}

	if len(ask) > 0 {
		b.Queue(`SELECT username FROM users WHERE username = ANY($1) AND deleted_at IS NULL`, ask).Query(func(rows pgx.Rows) error {
			names, err := pgx.CollectRows(rows, pgx.RowTo[string])
			for _, n := range names {
				ap.db.users.Add(n)
			}
			return err
		})
	}
	if len(chatConvs) > 0 {
		// The row of a new chat, unless its recipient does not exist.
		b.Queue(`INSERT INTO conversations (id, last_seq)
			SELECT DISTINCT x.id, 0::bigint FROM unnest($1::text[], $2::text[]) AS x (id, peer)
			WHERE EXISTS (SELECT 1 FROM users u WHERE u.username = x.peer AND u.deleted_at IS NULL)
			ORDER BY x.id
			ON CONFLICT (id) DO NOTHING`, chatConvs, chatPeers)
	}
	if len(convs) > 0 {
		b.Queue(`SELECT id, last_seq FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE`, convs).Query(func(rows pgx.Rows) error {
			var id string
			var last int64
			_, err := pgx.ForEachRow(rows, []any{&id, &last}, func() error {
				ap.locked[id] = last
				return nil
			})
			return err
		})
	}
	if len(curUsers) > 0 {
		// Senders' cursors, locked after the conversations and in key
		// order, as every cursor write takes them.
		b.Queue(`SELECT c.username, c.conv, c.seq FROM cursors c
			JOIN unnest($1::text[], $2::text[]) AS x (username, conv) ON c.username = x.username AND c.conv = x.conv
			ORDER BY 1, 2 FOR UPDATE OF c`, curUsers, curConvs).Query(func(rows pgx.Rows) error {
			var k [2]string
			var seq int64
			_, err := pgx.ForEachRow(rows, []any{&k[0], &k[1], &seq}, func() error {
				ap.cursors[k] = seq
				return nil
			})
			return err
		})
	}
	if len(groups) > 0 {
		b.Queue(`SELECT g.id, m.username FROM groups g LEFT JOIN group_members m ON m.group_id = g.id
			WHERE g.id = ANY($1) ORDER BY g.id, m.ord`, groups).Query(func(rows pgx.Rows) error {
			var id string
			var member *string
			_, err := pgx.ForEachRow(rows, []any{&id, &member}, func() error {
				ms := ap.members[id]
				if ms == nil {
					ms = []string{}
				}
				if member != nil {
					ms = append(ms, *member)
				}
				ap.members[id] = ms
				return nil
			})
			return err
		})
	}
	if len(keys) == 0 {
		return
	}
	// Each key is one probe of an index (LATERAL ... LIMIT 1 keeps the
	// planner from joining whole tables when its statistics are stale).
	senders, clientIDs := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		senders[i], clientIDs[i] = k.sender, k.clientID
	}
	b.Queue(`SELECT x.sender, x.client_id, m.conv, m.seq, m.id, m.content, m.created_at
		FROM unnest($1::text[], $2::text[]) AS x (sender, client_id)
		CROSS JOIN LATERAL (SELECT conv, seq FROM message_keys k
			WHERE k.sender = x.sender AND k.client_id = x.client_id LIMIT 1) k
		CROSS JOIN LATERAL (SELECT conv, seq, id, content, created_at FROM messages m
			WHERE m.conv = k.conv AND m.seq = k.seq LIMIT 1) m`, senders, clientIDs).Query(func(rows pgx.Rows) error {
		var k msgKey
		var m parley.Message
		_, err := pgx.ForEachRow(rows, []any{&k.sender, &k.clientID, &m.Conv, &m.Seq, &m.ID, &m.Content, &m.Time}, func() error {
			m.From, m.Time = k.sender, m.Time.UTC()
			if !parley.IsGroupID(m.Conv) {
				m.To = parley.ChatPeer(m.Conv, k.sender)
			}
			ap.originals[k] = m
			m = parley.Message{}
			return nil
		})
		return err
	})
}

// add decides the outcome of one message of the batch. A returned error
// fails the batch; a problem with this message alone goes into a.Err.
func (ap *appender) add(a *parley.Append) error {
	a.Message, a.Duplicate, a.Recipients, a.Err = parley.Message{}, false, nil, nil
	k := msgKey{a.From, a.ClientID}
	if a.ClientID != "" {
		// A repeat gets its original even if it would fail now.
		if m, ok := ap.originals[k]; ok {
			a.Message, a.Duplicate = m, true
			return nil
		}
		if m, ok := ap.stored[k]; ok {
			a.Message, a.Duplicate = *m, true
			return nil
		}
	}
	group := parley.IsGroupID(a.Conv)
	switch {
	case a.Invalid != nil:
		a.Err = a.Invalid
	case group:
		members, ok := ap.members[a.Conv]
		switch {
		case !ok:
			a.Err = parley.Errorf(parley.ENOTFOUND, "no group %q", a.Conv)
		case !slices.Contains(members, a.From):
			a.Err = parley.Errorf(parley.EFORBIDDEN, "you are not a member of group %q", a.Conv)
		default:
			a.Recipients = slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == a.From })
		}
	case !ap.db.users.Has(a.To):
		a.Err = parley.Errorf(parley.ENOTFOUND, "no user %q", a.To)
	default:
		a.Recipients = []string{a.To}
	}
	if a.Err != nil {
		return nil
	}

	last, ok := ap.last[a.Conv]
	if !ok {
		return fmt.Errorf("conversation %q was not locked", a.Conv)
	}
	seq := last + 1
	ap.last[a.Conv] = seq
	// The sender's cursor follows their own message when it stood right
	// behind it.
	if ck := [2]string{a.From, a.Conv}; ap.cursors[ck] == seq-1 {
		ap.cursors[ck] = seq
		ap.moved[ck] = true
	}
	a.Message = parley.Message{ID: a.ID, Conv: a.Conv, Seq: seq, From: a.From, To: a.To, Content: a.Content, Time: ap.now}
	if group {
		a.Message.To = ""
	} else if seq == 1 {
		ap.chats.user = append(ap.chats.user, a.From, a.To)
		ap.chats.peer = append(ap.chats.peer, a.To, a.From)
		ap.chats.id = append(ap.chats.id, a.Conv, a.Conv)
	}
	ap.msgs.conv = append(ap.msgs.conv, a.Conv)
	ap.msgs.seq = append(ap.msgs.seq, seq)
	ap.msgs.id = append(ap.msgs.id, a.ID)
	ap.msgs.sender = append(ap.msgs.sender, a.From)
	ap.msgs.content = append(ap.msgs.content, a.Content)
	if a.ClientID != "" {
		ap.stored[k] = &a.Message
		ap.keys.sender = append(ap.keys.sender, a.From)
		ap.keys.clientID = append(ap.keys.clientID, a.ClientID)
		ap.keys.conv = append(ap.keys.conv, a.Conv)
		ap.keys.seq = append(ap.keys.seq, seq)
	}
	return nil
}

// write stores what add decided, in one pipeline. Keys are inserted in key
// order, so that two batches waiting on each other's keys cannot deadlock;
// a key that another node stored since the lookup is errKeyTaken.
func (ap *appender) write(ctx context.Context, tx pgx.Tx) error {
	if len(ap.msgs.conv) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO messages (conv, seq, id, sender, content, created_at)
		SELECT *, $6::timestamptz FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[])`,
		ap.msgs.conv, ap.msgs.seq, ap.msgs.id, ap.msgs.sender, ap.msgs.content, ap.now)
	if len(ap.keys.sender) > 0 {
		b.Queue(`INSERT INTO message_keys (sender, client_id, conv, seq)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) ORDER BY 1, 2`,
			ap.keys.sender, ap.keys.clientID, ap.keys.conv, ap.keys.seq)
	}
	var ids []string
	var seqs []int64
	for id, seq := range ap.last {
		if seq != ap.locked[id] {
			ids, seqs = append(ids, id), append(seqs, seq)
		}
	}
	// An upsert rather than an UPDATE ... FROM: its arbiter index finds
	// each row, whatever plan the statistics of the moment would suggest.
	b.Queue(`INSERT INTO conversations (id, last_seq) SELECT * FROM unnest($1::text[], $2::bigint[])
		ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq`, ids, seqs)
	if len(ap.moved) > 0 {
		var users, convs []string
		var seqs []int64
		for ck := range ap.moved {
			users, convs, seqs = append(users, ck[0]), append(convs, ck[1]), append(seqs, ap.cursors[ck])
		}
		b.Queue(`INSERT INTO cursors (username, conv, seq)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ORDER BY 1, 2
			ON CONFLICT (username, conv) DO UPDATE SET seq = GREATEST(cursors.seq, excluded.seq)`, users, convs, seqs)
	}
	if len(ap.chats.id) > 0 {
		b.Queue(`INSERT INTO chats (username, peer, chat_id)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1, 2
			ON CONFLICT (username, peer) DO NOTHING`, ap.chats.user, ap.chats.peer, ap.chats.id)
	}
	err := tx.SendBatch(ctx, b).Close()
	var e *pgconn.PgError
	if errors.As(err, &e) && e.Code == uniqueViolation && e.ConstraintName == "message_keys_pkey" {
		return errKeyTaken
	}
	return err
}
