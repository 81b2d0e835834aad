package cassandra

import (
	"context"
	"errors"
	"slices"
	"sync"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/parley-chat/parley"
)

// bucket is the partition of a conversation that holds seq.
func (db *DB) bucket(seq int64) int64 {
	if seq < 1 {
		return 0
	}
	return (seq - 1) / db.bucketSize
}

// head finds a conversation's newest message: its bucket and seq (the
// bucket the next message goes to when last is 0 or ends a bucket, as
// appendRun expects). It starts at the hint in conversations, which is
// never ahead, and walks forward over full buckets. serial reads the
// buckets at LOCAL_SERIAL, which finishes a Paxos round in flight.
func (db *DB) head(ctx context.Context, conv string, serial bool) (bucket, last int64, err error) {
	var hint *int64
	err = db.s.Query(`SELECT last_seq FROM conversations WHERE conv = ?`, conv).Idempotent(true).ScanContext(ctx, &hint)
	if err != nil && !errors.Is(err, gocql.ErrNotFound) {
		return 0, 0, fail("read conversation", err)
	}
	var h int64
	if hint != nil {
		h = *hint
	}
	b := db.bucket(h + 1)
	for {
		st, err := db.static(ctx, conv, b, serial)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case st == nil:
			return b, b * db.bucketSize, nil
		case *st >= (b+1)*db.bucketSize:
			b++
		default:
			return b, *st, nil
		}
	}
}

// static reads the last seq of one bucket; nil when the bucket is empty.
func (db *DB) static(ctx context.Context, conv string, bucket int64, serial bool) (*int64, error) {
	q := db.s.Query(`SELECT last_seq FROM messages WHERE conv = ? AND bucket = ? LIMIT 1`, conv, bucket).Idempotent(true)
	if serial {
		q = q.Consistency(gocql.LocalSerial)
	}
	var st *int64
	err := q.ScanContext(ctx, &st)
	if errors.Is(err, gocql.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fail("read bucket", err)
	}
	return st, nil
}

const msgColumns = `seq, id, sender, recipient, content, sent_at, kind, target, reply_to, emoji, removed, deleted, has_entries`

// row is an entry as its row holds it: entries says that edits, deletions
// or reactions act on it, so that its current state is folded from them
// (withState).
type row struct {
	parley.Message
	entries bool
}

// rowScanner reads rows of msgColumns (then its extra destinations) from
// one query. Its destinations are made once, not once per row: a history
// page or an offline pass reads many rows.
type rowScanner struct {
	conv                     string
	r                        row
	to, emoji                *string
	kind                     *int
	target, replyTo          *int64
	removed, deleted, hasAny *bool
	dest                     []any
}

func newRowScanner(conv string, extra ...any) *rowScanner {
	s := &rowScanner{conv: conv}
	r := &s.r
	s.dest = append([]any{&r.Seq, &r.ID, &r.From, &s.to, &r.Content, &r.Time, &s.kind, &s.target, &s.replyTo, &s.emoji,
		&s.removed, &s.deleted, &s.hasAny}, extra...)
	return s
}

// scan reads the next row into r.
func (s *rowScanner) scan(iter *gocql.Iter, r *row) bool {
	if !iter.Scan(s.dest...) {
		return false
	}
	m := s.r.Message
	*r = row{Message: parley.Message{ID: m.ID, Conv: s.conv, Seq: m.Seq, From: m.From, Content: m.Content, Time: m.Time.UTC(),
		To: deref(s.to), Kind: parley.EntryKind(deref(s.kind)), Target: deref(s.target), ReplyTo: deref(s.replyTo),
		Emoji: deref(s.emoji), Removed: deref(s.removed), Deleted: deref(s.deleted)}, entries: deref(s.hasAny)}
	return true
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// message reads one entry, in the state its row holds (see withState).
func (db *DB) message(ctx context.Context, conv string, seq int64, cons gocql.Consistency) (parley.Message, bool, error) {
	r, ok, err := db.row(ctx, conv, seq, cons)
	return r.Message, ok, err
}

func (db *DB) row(ctx context.Context, conv string, seq int64, cons gocql.Consistency) (row, bool, error) {
	iter := db.s.Query(`SELECT `+msgColumns+` FROM messages WHERE conv = ? AND bucket = ? AND seq = ?`, conv, db.bucket(seq), seq).
		Consistency(cons).Idempotent(true).IterContext(ctx)
	var r row
	ok := newRowScanner(conv).scan(iter, &r)
	if err := iter.Close(); err != nil {
		return row{}, false, fail("read message", err)
	}
	return r, ok && r.ID != "", nil
}

// scan calls f for the entries of conv with after < seq <= upTo (upTo 0:
// to the end) in ascending order, until f returns false, in the state
// their rows hold (see withState). senderOnly reads only seqs, senders,
// kinds and whether deleted.
func (db *DB) scan(ctx context.Context, conv string, after, upTo int64, senderOnly bool, f func(row) bool) error {
	cols := msgColumns
	if senderOnly {
		cols = `seq, sender, kind, deleted`
	}
	for b := db.bucket(after + 1); ; b++ {
		iter := db.s.Query(`SELECT `+cols+`, last_seq FROM messages WHERE conv = ? AND bucket = ? AND seq > ?`, conv, b, after).
			PageSize(1000).Idempotent(true).IterContext(ctx)
		var m row
		var st *int64
		var kind *int
		var deleted *bool
		rows := newRowScanner(conv, &st)
		n, stop := 0, false
		for !stop {
			var ok bool
			if senderOnly {
				ok = iter.Scan(&m.Seq, &m.From, &kind, &deleted, &st)
				m.Kind, m.Deleted = parley.EntryKind(deref(kind)), deref(deleted)
			} else {
				ok = rows.scan(iter, &m)
			}
			if !ok || m.ID == "" && !senderOnly {
				break
			}
			n++
			if upTo > 0 && m.Seq > upTo {
				stop = true
				break
			}
			if !f(m) {
				stop = true
			}
		}
		if err := iter.Close(); err != nil {
			return fail("read messages", err)
		}
		if stop || n == 0 || st == nil || *st < (b+1)*db.bucketSize || (upTo > 0 && upTo <= (b+1)*db.bucketSize) {
			return nil
		}
		after = (b + 1) * db.bucketSize
	}
}

// History returns a page of conv; see parley.MessageStore.
func (db *DB) History(ctx context.Context, conv string, page parley.Page) ([]parley.Message, bool, error) {
	if page.Limit <= 0 {
		return nil, false, parley.Errorf(parley.EINVALID, "limit must be positive")
	}
	var rows []row
	if page.Forward {
		err := db.scan(ctx, conv, page.After, 0, false, func(r row) bool {
			rows = append(rows, r)
			return len(rows) <= page.Limit
		})
		if err != nil {
			return nil, false, err
		}
		msgs, err := db.withState(ctx, rows)
		if err != nil {
			return nil, false, err
		}
		return parley.PageResult(msgs, page)
	}
	// Clamped to the head: buckets above it are empty, and a Before far
	// beyond it must not walk them one by one.
	_, last, err := db.head(ctx, conv, false)
	if err != nil {
		return nil, false, err
	}
	before := last + 1
	if page.Before > 0 {
		before = min(page.Before, before)
	}
	rows = []row{}
	for b := db.bucket(before - 1); before > 1 && len(rows) < page.Limit; b-- {
		iter := db.s.Query(`SELECT `+msgColumns+` FROM messages WHERE conv = ? AND bucket = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
			conv, b, before, page.Limit-len(rows)).Idempotent(true).IterContext(ctx)
		var r row
		for sc := newRowScanner(conv); sc.scan(iter, &r); {
			if r.ID != "" {
				rows = append(rows, r)
			}
		}
		if err := iter.Close(); err != nil {
			return nil, false, fail("history", err)
		}
		if b == 0 {
			break
		}
	}
	msgs, err := db.withState(ctx, rows)
	if err != nil {
		return nil, false, err
	}
	return parley.PageResult(msgs, page)
}

// Undelivered returns up to limit messages of conv after the given seq that
// username did not send.
func (db *DB) Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]parley.Message, error) {
	var rows []row
	if limit <= 0 {
		return []parley.Message{}, nil
	}
	err := db.scan(ctx, conv, after, 0, false, func(r row) bool {
		if r.From != username {
			rows = append(rows, r)
		}
		return len(rows) < limit
	})
	if err != nil {
		return nil, err
	}
	return db.withState(ctx, rows)
}

// LastSeq returns the seq of conv's newest message.
func (db *DB) LastSeq(ctx context.Context, conv string) (int64, error) {
	_, last, err := db.head(ctx, conv, false)
	return last, err
}

// cursor reads username's cursor in conv: the newest of its rows.
func (db *DB) cursor(ctx context.Context, username, conv string) (int64, error) {
	return db.position(ctx, "cursors", username, conv)
}

// position reads username's position in conv from table (cursors or
// read_positions): the newest of its rows.
func (db *DB) position(ctx context.Context, table, username, conv string) (int64, error) {
	var seq int64
	err := db.s.Query(`SELECT seq FROM `+table+` WHERE username = ? AND conv = ? LIMIT 1`, username, conv).Idempotent(true).ScanContext(ctx, &seq)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fail("read cursor", err)
	}
	return seq, nil
}

// setCursor adds a cursor row and deletes the rows below it, in one
// single-partition batch: the newest row stays the greatest ever written,
// so concurrent writers never move a cursor back.
func (db *DB) setCursor(ctx context.Context, username, conv string, seq int64) error {
	return db.setPosition(ctx, "cursors", username, conv, seq)
}

// setPosition writes a position to table as setCursor writes a cursor.
func (db *DB) setPosition(ctx context.Context, table, username, conv string, seq int64) error {
	b := db.s.Batch(gocql.UnloggedBatch)
	b.Query(`INSERT INTO `+table+` (username, conv, seq) VALUES (?, ?, ?)`, username, conv, seq)
	b.Query(`DELETE FROM `+table+` WHERE username = ? AND conv = ? AND seq < ?`, username, conv, seq)
	if err := idempotent(b).ExecContext(ctx); err != nil {
		return fail("write cursor", err)
	}
	return nil
}

// Ack moves cursors forward, each clamped to its conversation's last seq.
func (db *DB) Ack(ctx context.Context, cursors []parley.Cursor) error {
	return db.advance(ctx, "cursors", cursors)
}

// MarkRead moves read positions forward as Ack moves cursors.
func (db *DB) MarkRead(ctx context.Context, positions []parley.Cursor) error {
	return db.advance(ctx, "read_positions", positions)
}

func (db *DB) advance(ctx context.Context, table string, positions []parley.Cursor) error {
	return db.each(len(positions), func(i int) error {
		c := positions[i]
		last, err := db.LastSeq(ctx, c.Conv)
		if err != nil {
			return err
		}
		if seq := min(c.Seq, last); seq > 0 {
			return db.setPosition(ctx, table, c.Username, c.Conv, seq)
		}
		return nil
	})
}

// ReadPositions returns the read position in conv of each user.
func (db *DB) ReadPositions(ctx context.Context, conv string, usernames []string) ([]int64, error) {
	out := make([]int64, len(usernames))
	err := db.each(len(usernames), func(i int) error {
		var err error
		out[i], err = db.position(ctx, "read_positions", usernames[i], conv)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newestRows reads username's positions in table, by conversation.
func (db *DB) newestRows(ctx context.Context, table, username string) (map[string]int64, error) {
	out := map[string]int64{}
	iter := db.s.Query(`SELECT conv, seq FROM `+table+` WHERE username = ?`, username).Idempotent(true).IterContext(ctx)
	var conv string
	var seq int64
	for iter.Scan(&conv, &seq) {
		if _, ok := out[conv]; !ok { // rows are newest first
			out[conv] = seq
		}
	}
	if err := iter.Close(); err != nil {
		return nil, fail("read "+table, err)
	}
	return out, nil
}

// chats lists username's chats: chatId and peer, in chatId order.
func (db *DB) chats(ctx context.Context, username string) (ids, peers []string, err error) {
	iter := db.s.Query(`SELECT chat, peer FROM user_chats WHERE username = ?`, username).Idempotent(true).IterContext(ctx)
	var id, peer string
	for iter.Scan(&id, &peer) {
		ids, peers = append(ids, id), append(peers, peer)
	}
	if err := iter.Close(); err != nil {
		return nil, nil, fail("read chats", err)
	}
	return ids, peers, nil
}

// Contacts lists the users who share a chat with username, sorted.
func (db *DB) Contacts(ctx context.Context, username string) ([]string, error) {
	_, peers, err := db.chats(ctx, username)
	if err != nil {
		return nil, err
	}
	slices.Sort(peers)
	return slices.Compact(peers), nil
}

// Inbox lists username's chats and fills in the state of the given groups.
// Unread counts come from reading the senders, kinds and deletion marks of
// the entries above each read position.
func (db *DB) Inbox(ctx context.Context, username string, groups []parley.GroupSummary) (*parley.Inbox, error) {
	ids, peers, err := db.chats(ctx, username)
	if err != nil {
		return nil, err
	}
	cursors, err := db.newestRows(ctx, "cursors", username)
	if err != nil {
		return nil, err
	}
	reads, err := db.newestRows(ctx, "read_positions", username)
	if err != nil {
		return nil, err
	}
	in := &parley.Inbox{Chats: make([]parley.ChatSummary, len(ids)), Groups: slices.Clone(groups)}
	var mu sync.Mutex
	err = db.each(len(ids)+len(groups), func(i int) error {
		conv := ""
		if i < len(ids) {
			conv = ids[i]
		} else {
			conv = groups[i-len(ids)].GroupID
		}
		_, last, err := db.head(ctx, conv, false)
		if err != nil {
			return err
		}
		cur, read := min(cursors[conv], last), min(reads[conv], last)
		var unread, peerRead int64
		if i < len(ids) {
			if peerRead, err = db.position(ctx, "read_positions", peers[i], conv); err != nil {
				return err
			}
		}
		if last > read {
			err = db.scan(ctx, conv, read, last, true, func(r row) bool {
				if r.From != username && r.Kind == parley.KindMessage && !r.Deleted {
					unread++
				}
				return true
			})
			if err != nil {
				return err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if i < len(ids) {
			in.Chats[i] = parley.ChatSummary{ChatID: conv, With: peers[i], LastSeq: last, Cursor: cur, ReadSeq: read, PeerReadSeq: peerRead, Unread: unread}
		} else {
			g := &in.Groups[i-len(ids)]
			g.LastSeq, g.Cursor, g.ReadSeq, g.Unread = last, cur, read, unread
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// Stats counts conversations and messages from the conversations' hints:
// seqs have no gaps, so a conversation holds as many messages as its last
// seq. It reads the whole conversations table.
func (db *DB) Stats(ctx context.Context) (*parley.LogStats, error) {
	st := &parley.LogStats{}
	iter := db.s.Query(`SELECT conv, last_seq FROM conversations`).PageSize(5000).Idempotent(true).IterContext(ctx)
	var conv string
	var last *int64
	for iter.Scan(&conv, &last) {
		if last != nil {
			st.Messages += *last
		}
		if !parley.IsGroupID(conv) {
			st.Chats++
		}
	}
	if err := iter.Close(); err != nil {
		return nil, fail("stats", err)
	}
	return st, nil
}

// each runs f(0..n-1) with at most db.parallel calls at once and returns
// the first error.
func (db *DB) each(n int, f func(i int) error) error {
	switch n {
	case 0:
		return nil
	case 1:
		return f(0)
	}
	sem := make(chan struct{}, db.parallel)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// idempotent marks every statement of a batch of upserts and deletes as
// safe to retry.
func idempotent(b *gocql.Batch) *gocql.Batch {
	for i := range b.Entries {
		b.Entries[i].Idempotent = true
	}
	return b
}
