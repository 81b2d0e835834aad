package cassandra

import (
	"context"
	"slices"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/parley-chat/parley"
)

// entryRow is a row of the timeline_entries table: an edit, deletion or reaction
// acting on a message.
type entryRow struct {
	seq     int64
	kind    parley.EntryKind
	sender  string
	emoji   string
	removed bool
	at      time.Time
}

// entriesOf lists the entries acting on the message at seq, in seq order.
func (db *DB) entriesOf(ctx context.Context, conv string, seq int64) ([]entryRow, error) {
	iter := db.s.Query(`SELECT seq, kind, sender, emoji, removed, at FROM timeline_entries WHERE conv = ? AND target = ?`, conv, seq).
		PageSize(1000).Idempotent(true).IterContext(ctx)
	var out []entryRow
	var e entryRow
	var kind int
	var emoji *string
	var removed *bool
	for iter.Scan(&e.seq, &kind, &e.sender, &emoji, &removed, &e.at) {
		e.kind, e.emoji, e.removed, e.at = parley.EntryKind(kind), deref(emoji), deref(removed), e.at.UTC()
		out = append(out, e)
	}
	if err := iter.Close(); err != nil {
		return nil, fail("read entries", err)
	}
	return out, nil
}

// fold sets a message's current state from the entries acting on it, by
// the rules every store applies: a deletion ends it (no content, no
// reactions, nothing after counts), the latest edit before that gives its
// content, reactions are added and taken back in order. It returns the
// seq of the latest edit whose content is the message's (0: none) and of
// the first deletion (0: none).
func fold(m *parley.Message, es []entryRow) (lastEdit, deletion int64) {
	for _, e := range es {
		if deletion > 0 {
			break
		}
		switch e.kind {
		case parley.KindEdit:
			lastEdit, m.Edited, m.EditedAt = e.seq, true, e.at
		case parley.KindDelete:
			deletion = e.seq
		case parley.KindReaction:
			m.React(e.sender, e.emoji, e.removed) // past the emoji limit: ignored, as it was refused
		}
	}
	if deletion > 0 || m.Deleted {
		m.Deleted, m.Content, m.Reactions = true, "", nil
	}
	return lastEdit, deletion
}

// state folds the current state of the message of r from its entries,
// reading the content of its latest edit when content is set (checking an
// entry against its target needs everything but the text).
func (db *DB) state(ctx context.Context, r *row, content bool) (deletion int64, err error) {
	if r.Kind != parley.KindMessage || !r.entries {
		return 0, nil
	}
	es, err := db.entriesOf(ctx, r.Conv, r.Seq)
	if err != nil {
		return 0, err
	}
	lastEdit, deletion := fold(&r.Message, es)
	if content && lastEdit > 0 && !r.Deleted {
		e, ok, err := db.message(ctx, r.Conv, lastEdit, gocql.LocalQuorum)
		if err != nil {
			return 0, err
		}
		if ok {
			r.Content = e.Content
		}
	}
	return deletion, nil
}

// withState returns the entries of rows, each message in its current state.
func (db *DB) withState(ctx context.Context, rows []row) ([]parley.Message, error) {
	// Only messages that entries act on need reads of their own.
	var acted []int
	for i := range rows {
		if rows[i].Kind == parley.KindMessage && rows[i].entries {
			acted = append(acted, i)
		}
	}
	err := db.each(len(acted), func(i int) error {
		_, err := db.state(ctx, &rows[acted[i]], true)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]parley.Message, len(rows))
	for i := range rows {
		out[i] = rows[i].Message
	}
	return out, nil
}

// target is the state of a message an entry of the run acts on, as the
// run goes: stored before it, or earlier in it.
type target struct {
	msg parley.Message
	// deletion is the seq of the deletion stored before the run; deleter
	// the item of the run that deletes it.
	deletion int64
	deleter  *item
}

// settle applies the timeline's rules to a run of conv about to be
// numbered from last: each edit, deletion, reaction and reply is checked
// against its target in its current state, as the items before it in the
// run leave it. It returns the items to store, in order; the others are
// answered (Err, NoOp, or Duplicate for a deletion of a deleted message)
// and returned apart. Conditional batches serialize the runs of a
// conversation: a run that loses its batch to another writer is settled
// again against what that writer stored.
func (db *DB) settle(ctx context.Context, conv string, last int64, run []*item) (keep, answered []*item, err error) {
	var seqs []int64
	for _, it := range run {
		ref := it.a.Target
		if it.a.Kind == parley.KindMessage {
			ref = it.a.ReplyTo
		}
		if ref >= 1 && ref <= last && !slices.Contains(seqs, ref) {
			seqs = append(seqs, ref)
		}
	}
	targets := make([]*target, len(seqs))
	err = db.each(len(seqs), func(i int) error {
		r, ok, err := db.row(ctx, conv, seqs[i], gocql.LocalQuorum)
		if err != nil || !ok {
			return err
		}
		t := &target{}
		if t.deletion, err = db.state(ctx, &r, false); err != nil {
			return err
		}
		t.msg = r.Message
		targets[i] = t
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	sim := map[int64]*target{}
	for i, s := range seqs {
		if targets[i] != nil {
			sim[s] = targets[i]
		}
	}
	next := last
	answer := func(it *item) {
		it.a.Recipients = nil
		answered = append(answered, it)
	}
	for _, it := range run {
		a := it.a
		ref := a.Target
		if a.Kind == parley.KindMessage {
			ref = a.ReplyTo
		}
		t := sim[ref]
		if ref != 0 {
			var tm *parley.Message
			if t != nil {
				tm = &t.msg
			}
			if err := parley.CheckTarget(a, tm); err != nil {
				a.Err = err
				answer(it)
				continue
			}
		}
		switch a.Kind {
		case parley.KindDelete:
			if a.Duplicate {
				if err := db.firstDeletion(ctx, conv, it, t); err != nil {
					a.Duplicate, a.Err = false, err
				}
				answer(it)
				continue
			}
			t.msg.Deleted, t.msg.Content, t.msg.Reactions = true, "", nil
			t.deleter = it
		case parley.KindEdit:
			t.msg.Content, t.msg.Edited = a.Content, true
		case parley.KindReaction:
			changed, err := t.msg.React(a.From, a.Emoji, a.Remove)
			if err != nil {
				a.Err = err
				answer(it)
				continue
			}
			if !changed {
				a.NoOp = true
				a.Message = parley.Message{Conv: conv, From: a.From, To: a.To, Kind: a.Kind, Target: a.Target, Emoji: a.Emoji, Removed: a.Remove}
				answer(it)
				continue
			}
		}
		next++
		sim[next] = &target{msg: parley.Message{Seq: next, From: a.From, Kind: a.Kind}}
		keep = append(keep, it)
	}
	return keep, answered, nil
}

// firstDeletion answers the deletion of a deleted message with the
// deletion that deleted it: stored before, or earlier in the run (copied
// once that one is stored, see appendRun).
func (db *DB) firstDeletion(ctx context.Context, conv string, it *item, t *target) error {
	if t.deleter != nil {
		it.dupOf = t.deleter
		return nil
	}
	if t.deletion == 0 {
		// Marked deleted, with its deletion's entry row lost: answer with
		// the tombstone itself.
		it.a.Message = t.msg
		return nil
	}
	m, ok, err := db.message(ctx, conv, t.deletion, gocql.LocalQuorum)
	if err != nil {
		return err
	}
	if !ok {
		m = t.msg
	}
	it.a.Message = m
	return nil
}

// entryWrites records a stored edit, deletion or reaction where reads of
// its target find it: a row of timeline_entries, and has_entries on the target. A
// deletion also marks the target deleted and erases its content and its
// edits'. Every write is an idempotent upsert, repeated when a client
// repeats the entry (claim), so that one cut short by a crash is finished.
func (db *DB) entryWrites(ctx context.Context, m parley.Message) error {
	if m.Kind == parley.KindMessage || m.Target < 1 {
		return nil
	}
	err := db.s.Query(`INSERT INTO timeline_entries (conv, target, seq, kind, sender, emoji, removed, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Conv, m.Target, m.Seq, int(m.Kind), m.From, m.Emoji, m.Removed, m.Time).Idempotent(true).ExecContext(ctx)
	if err != nil {
		return fail("append: list entry", err)
	}
	set := `has_entries = true`
	if m.Kind == parley.KindDelete {
		set = `has_entries = true, deleted = true, content = ''`
	}
	err = db.s.Query(`UPDATE messages SET `+set+` WHERE conv = ? AND bucket = ? AND seq = ?`, m.Conv, db.bucket(m.Target), m.Target).
		Idempotent(true).ExecContext(ctx)
	if err != nil {
		return fail("append: mark target", err)
	}
	if m.Kind != parley.KindDelete {
		return nil
	}
	es, err := db.entriesOf(ctx, m.Conv, m.Target)
	if err != nil {
		return err
	}
	return db.each(len(es), func(i int) error {
		if es[i].kind != parley.KindEdit {
			return nil
		}
		err := db.s.Query(`UPDATE messages SET content = '' WHERE conv = ? AND bucket = ? AND seq = ?`, m.Conv, db.bucket(es[i].seq), es[i].seq).
			Idempotent(true).ExecContext(ctx)
		if err != nil {
			return fail("append: erase edit", err)
		}
		return nil
	})
}

// hasTimeline says whether a run holds entries or replies, which settle
// checks.
func hasTimeline(run []*item) bool {
	return slices.ContainsFunc(run, func(it *item) bool { return it.a.Kind != parley.KindMessage || it.a.ReplyTo != 0 })
}

// maxRef is the highest seq an entry or reply of the run refers to.
func maxRef(run []*item) int64 {
	var m int64
	for _, it := range run {
		if it.a.Kind != parley.KindMessage {
			m = max(m, it.a.Target)
		} else {
			m = max(m, it.a.ReplyTo)
		}
	}
	return m
}
