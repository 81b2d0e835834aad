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

// convSeq names an entry.
type convSeq struct {
	conv string
	seq  int64
}

// row is an entry as the batch leaves it: a new one, or a stored message
// an entry of the batch acts on (stored set; dirty once changed).
type row struct {
	m         parley.Message
	deletedBy int64
	deletion  *parley.Message // the entry that deleted it, when stored before
	stored    bool
	dirty     bool
}

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

	// targets are the messages stored before the batch that its entries
	// act on (or reply to), read after their conversations were locked.
	targets map[convSeq]*row

	// What the batch adds.
	last   map[string]int64           // last seq of each locked conversation
	stored map[msgKey]*parley.Message // new messages by key
	rows   []*row                     // new entries, in batch order
	// state is every message the batch may act on, as it leaves it: the
	// targets, and the new rows.
	state map[convSeq]*row
	// eraseEdits are the stored messages deleted by the batch, whose
	// stored edits lose their content.
	eraseEdits []convSeq
	keys       struct {
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
	ap.targets = make(map[convSeq]*row)
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
	ap.state = maps.Clone(ap.targets)
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
	var targetConvs []string
	var targetSeqs []int64
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
		if seq := targetOf(a); seq > 0 {
			targetConvs, targetSeqs = append(targetConvs, a.Conv), append(targetSeqs, seq)
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
	if len(targetConvs) > 0 {
		// After the conversations' locks: no other batch changes them
		// until this one commits.
		b.Queue(`SELECT m.conv, `+prefixed("m", msgCols)+`, d.id, d.sender, d.created_at
			FROM unnest($1::text[], $2::bigint[]) AS x (conv, seq)
			JOIN messages m ON m.conv = x.conv AND m.seq = x.seq
			LEFT JOIN messages d ON m.deleted_by > 0 AND d.conv = m.conv AND d.seq = m.deleted_by`, targetConvs, targetSeqs).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				r := &row{stored: true}
				var e extra
				var did, dsender *string
				var dat *time.Time
				if err := rows.Scan(append(append([]any{&r.m.Conv}, e.dest(&r.m)...), &did, &dsender, &dat)...); err != nil {
					return err
				}
				r.deletedBy = e.fill(&r.m)
				if did != nil {
					r.deletion = &parley.Message{ID: *did, Conv: r.m.Conv, Seq: r.deletedBy, From: *dsender, Kind: parley.KindDelete, Target: r.m.Seq, Time: dat.UTC()}
					if !parley.IsGroupID(r.m.Conv) {
						r.deletion.To = parley.ChatPeer(r.m.Conv, *dsender)
					}
				}
				ap.targets[convSeq{r.m.Conv, r.m.Seq}] = r
			}
			return rows.Err()
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
	b.Queue(`SELECT x.sender, x.client_id, m.conv, m.seq, m.id, m.content, m.created_at, m.kind, m.target, m.emoji
		FROM unnest($1::text[], $2::text[]) AS x (sender, client_id)
		CROSS JOIN LATERAL (SELECT conv, seq FROM message_keys k
			WHERE k.sender = x.sender AND k.client_id = x.client_id LIMIT 1) k
		CROSS JOIN LATERAL (SELECT conv, seq, id, content, created_at, kind, target, emoji FROM messages m
			WHERE m.conv = k.conv AND m.seq = k.seq LIMIT 1) m`, senders, clientIDs).Query(func(rows pgx.Rows) error {
		var k msgKey
		var m parley.Message
		var kind int16
		_, err := pgx.ForEachRow(rows, []any{&k.sender, &k.clientID, &m.Conv, &m.Seq, &m.ID, &m.Content, &m.Time, &kind, &m.Target, &m.Emoji}, func() error {
			m.Kind = parley.EntryKind(kind)
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

	var target *row
	if seq := targetOf(a); seq > 0 {
		target = ap.state[convSeq{a.Conv, seq}]
		var m *parley.Message
		if target != nil {
			m = &target.m
		}
		if err := parley.CheckTarget(a, m); err != nil {
			a.Err, a.Recipients = err, nil
			return nil
		}
		if a.Duplicate {
			return ap.firstDeletion(a, target)
		}
		if a.Kind == parley.KindReaction {
			changed, err := target.m.React(a.From, a.Emoji, a.Remove)
			switch {
			case err != nil:
				a.Err, a.Recipients = err, nil
				return nil
			case !changed:
				a.NoOp, a.Recipients = true, nil
				a.Message = parley.Message{Conv: a.Conv, From: a.From, To: a.To, Kind: a.Kind, Target: a.Target, Emoji: a.Emoji}
				return nil
			}
		}
	}

	last, ok := ap.last[a.Conv]
	if !ok {
		return fmt.Errorf("conversation %q was not locked", a.Conv)
	}
	seq := last + 1
	ap.last[a.Conv] = seq
	// The sender's cursor follows their own entry when it stood right
	// behind it.
	if ck := [2]string{a.From, a.Conv}; ap.cursors[ck] == seq-1 {
		ap.cursors[ck] = seq
		ap.moved[ck] = true
	}
	a.Message = parley.Message{ID: a.ID, Conv: a.Conv, Seq: seq, From: a.From, To: a.To, Content: a.Content, Time: ap.now,
		Kind: a.Kind, ReplyTo: a.ReplyTo}
	switch a.Kind {
	case parley.KindMessage:
		a.Message.ReplyTo = a.ReplyTo
	case parley.KindEdit:
		a.Message.Target = a.Target
		target.m.Content, target.m.Edited, target.m.EditedAt = a.Content, true, ap.now
	case parley.KindDelete:
		a.Message.Target, a.Message.Content = a.Target, ""
		target.m.Content, target.m.Deleted, target.deletedBy = "", true, seq
		ap.eraseEditsOf(target)
	case parley.KindReaction:
		a.Message.Target, a.Message.Content, a.Message.Emoji, a.Message.Removed = a.Target, "", a.Emoji, a.Remove
	}
	if target != nil && a.Kind != parley.KindMessage {
		target.dirty = true
	}
	if group {
		a.Message.To = ""
	} else if seq == 1 {
		ap.chats.user = append(ap.chats.user, a.From, a.To)
		ap.chats.peer = append(ap.chats.peer, a.To, a.From)
		ap.chats.id = append(ap.chats.id, a.Conv, a.Conv)
	}
	r := &row{m: a.Message}
	ap.rows = append(ap.rows, r)
	ap.state[convSeq{a.Conv, seq}] = r
	if a.ClientID != "" {
		ap.stored[k] = &a.Message
		ap.keys.sender = append(ap.keys.sender, a.From)
		ap.keys.clientID = append(ap.keys.clientID, a.ClientID)
		ap.keys.conv = append(ap.keys.conv, a.Conv)
		ap.keys.seq = append(ap.keys.seq, seq)
	}
	return nil
}

// targetOf is the seq of the message an entry acts on or replies to; 0
// for a message that is not a reply.
func targetOf(a *parley.Append) int64 {
	if a.Invalid != nil {
		return 0
	}
	if a.Kind == parley.KindMessage {
		return a.ReplyTo
	}
	return max(a.Target, 0)
}

// firstDeletion answers the deletion of a message already deleted with
// the entry that deleted it.
func (ap *appender) firstDeletion(a *parley.Append, target *row) error {
	a.Recipients = nil
	if target.deletion != nil {
		a.Message = *target.deletion
		return nil
	}
	d := ap.state[convSeq{a.Conv, target.deletedBy}]
	if d == nil {
		return fmt.Errorf("message %s/%d names a missing deletion %d", a.Conv, target.m.Seq, target.deletedBy)
	}
	a.Message = d.m
	return nil
}

// eraseEditsOf empties the content of the deleted message's edits: those
// of this batch here, the stored ones when the batch is written.
func (ap *appender) eraseEditsOf(target *row) {
	for _, r := range ap.rows {
		if r.m.Conv == target.m.Conv && r.m.Kind == parley.KindEdit && r.m.Target == target.m.Seq {
			r.m.Content = ""
		}
	}
	if target.stored {
		ap.eraseEdits = append(ap.eraseEdits, convSeq{target.m.Conv, target.m.Seq})
	}
}

// write stores what add decided, in one pipeline. Keys are inserted in key
// order, so that two batches waiting on each other's keys cannot deadlock;
// a key that another node stored since the lookup is errKeyTaken.
func (ap *appender) write(ctx context.Context, tx pgx.Tx) error {
	if len(ap.rows) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	ap.queueRows(b)
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
	if len(ap.eraseEdits) > 0 {
		convs, seqs := make([]string, len(ap.eraseEdits)), make([]int64, len(ap.eraseEdits))
		for i, t := range ap.eraseEdits {
			convs[i], seqs[i] = t.conv, t.seq
		}
		b.Queue(`UPDATE messages m SET content = '' FROM unnest($1::text[], $2::bigint[]) AS x (conv, seq)
			WHERE m.conv = x.conv AND m.seq > x.seq AND m.kind = 1 AND m.target = x.seq AND m.content <> ''`, convs, seqs)
	}
	err := tx.SendBatch(ctx, b).Close()
	var e *pgconn.PgError
	if errors.As(err, &e) && e.Code == uniqueViolation && e.ConstraintName == "message_keys_pkey" {
		return errKeyTaken
	}
	return err
}

// queueRows queues the inserts of the batch's new entries, and the
// updates of the stored messages they changed. Plain messages (most of
// every batch) take the columns of version 1 alone and leave the
// timeline's to their defaults.
func (ap *appender) queueRows(b *pgx.Batch) {
	var plain, ext struct {
		conv, id, sender, content []string
		seq                       []int64
	}
	var kinds []int16
	var targets, replyTo, editedAt, deletedBy []int64
	var emoji, reactions []string
	var removed []bool
	for _, r := range ap.rows {
		m := &r.m
		e := encodeExtra(m, r.deletedBy)
		if e.plain() {
			plain.conv, plain.seq, plain.id = append(plain.conv, m.Conv), append(plain.seq, m.Seq), append(plain.id, m.ID)
			plain.sender, plain.content = append(plain.sender, m.From), append(plain.content, m.Content)
			continue
		}
		ext.conv, ext.seq, ext.id = append(ext.conv, m.Conv), append(ext.seq, m.Seq), append(ext.id, m.ID)
		ext.sender, ext.content = append(ext.sender, m.From), append(ext.content, m.Content)
		kinds, targets, replyTo = append(kinds, int16(m.Kind)), append(targets, m.Target), append(replyTo, m.ReplyTo)
		emoji, removed = append(emoji, m.Emoji), append(removed, m.Removed)
		editedAt, deletedBy, reactions = append(editedAt, e.editedAt), append(deletedBy, e.deletedBy), append(reactions, e.reactions)
	}
	if len(plain.conv) > 0 {
		b.Queue(`INSERT INTO messages (conv, seq, id, sender, content, created_at)
			SELECT *, $6::timestamptz FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[])`,
			plain.conv, plain.seq, plain.id, plain.sender, plain.content, ap.now)
	}
	if len(ext.conv) > 0 {
		b.Queue(`INSERT INTO messages (conv, seq, id, sender, content, created_at, kind, target, reply_to, emoji, removed, edited_at, deleted_by, reactions)
			SELECT x.conv, x.seq, x.id, x.sender, x.content, $6::timestamptz, x.kind, x.target, x.reply_to, x.emoji, x.removed,
				`+editedAtSQL+`, x.deleted_by, nullif(x.reactions, '')::jsonb
			FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $7::smallint[], $8::bigint[], $9::bigint[],
				$10::text[], $11::boolean[], $12::bigint[], $13::bigint[], $14::text[])
				AS x (conv, seq, id, sender, content, kind, target, reply_to, emoji, removed, edited_at, deleted_by, reactions)`,
			ext.conv, ext.seq, ext.id, ext.sender, ext.content, ap.now, kinds, targets, replyTo, emoji, removed, editedAt, deletedBy, reactions)
	}
	var convs, contents, reacts []string
	var seqs, edited, deleted []int64
	for _, r := range ap.targets {
		if !r.dirty {
			continue
		}
		e := encodeExtra(&r.m, r.deletedBy)
		convs, seqs, contents = append(convs, r.m.Conv), append(seqs, r.m.Seq), append(contents, r.m.Content)
		edited, deleted, reacts = append(edited, e.editedAt), append(deleted, e.deletedBy), append(reacts, e.reactions)
	}
	if len(convs) > 0 {
		b.Queue(`UPDATE messages m SET content = x.content, edited_at = `+editedAtSQL+`, deleted_by = x.deleted_by,
				reactions = nullif(x.reactions, '')::jsonb
			FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::text[])
				AS x (conv, seq, content, edited_at, deleted_by, reactions)
			WHERE m.conv = x.conv AND m.seq = x.seq`, convs, seqs, contents, edited, deleted, reacts)
	}
}

// editedAtSQL turns x.edited_at (Unix ms, 0 for none) into a timestamp.
const editedAtSQL = `CASE WHEN x.edited_at = 0 THEN NULL ELSE to_timestamp(x.edited_at / 1e3) END`
