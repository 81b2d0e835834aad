package pebble

import (
	"bytes"
	"errors"
	"slices"

	pdb "github.com/cockroachdb/pebble/v2"

	"context"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
)

// pending is what one write batch has set and not yet committed, so that
// later items of the same batch see it.
type pending struct {
	last    map[string]int64  // conv -> last seq
	cursors map[string]int64  // cursorKey -> seq
	idem    map[string]string // idemKey -> msgKey
	msgs    map[string][]byte // msgKey -> record, of messages with an idempotency key (all, when timeline)
	// timeline is set when the batch holds entries acting on a message:
	// then every record written goes into msgs, for later items to find.
	timeline bool
	// erased lists the conversations whose deleted content is to be purged
	// from the files once the batch is committed.
	erased []string
	chats  int64
	count  int64
	// idemIter reads stored idempotency keys; opened at the first lookup.
	idemIter *pdb.Iterator
}

// close releases the batch's iterator.
func (p *pending) close() {
	if p.idemIter != nil {
		p.idemIter.Close()
	}
}

func newPending() *pending {
	return &pending{last: map[string]int64{}, cursors: map[string]int64{}, idem: map[string]string{}, msgs: map[string][]byte{}}
}

// write runs fill on a new batch under wmu and commits it synced. fill sets
// the batch's keys and notes in p what they change; write adds each
// conversation's last seq and the totals to the batch and, once it is
// committed, keeps p's seqs, cursors and totals in memory. An empty batch
// commits nothing.
func (l *Log) write(fill func(b *sortedBatch, p *pending) error) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return errClosed
	}
	b := &sortedBatch{}
	p := newPending()
	defer p.close()
	if err := fill(b, p); err != nil {
		return err
	}
	for conv, seq := range p.last {
		b.Set(lastKey(conv), encodeInt(seq))
	}
	if p.count > 0 || p.chats > 0 {
		b.Set(countsKey, l.counts(p.count, p.chats))
	}
	if len(b.kvs) == 0 {
		return nil
	}
	if err := b.commit(l.db); err != nil {
		return err
	}
	l.messages += p.count
	l.chats += p.chats
	if len(l.seqs)+len(p.last) > maxCached {
		clear(l.seqs)
	}
	for conv, seq := range p.last {
		l.seqs[conv] = seq
	}
	for k, seq := range p.cursors {
		l.cacheCursor(k, seq)
	}
	return nil
}

// AppendMessages stores a batch in one synced Pebble batch; see
// parley.MessageLog.
func (l *Log) AppendMessages(ctx context.Context, batch []*parley.Append) error {
	now := l.now()
	var erased []string
	err := l.write(func(b *sortedBatch, p *pending) error {
		p.timeline = slices.ContainsFunc(batch, func(a *parley.Append) bool { return a.Kind != parley.KindMessage || a.ReplyTo != 0 })
		defer func() { erased = p.erased }()
		for _, a := range batch {
			if err := l.append(b, p, a, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		if len(erased) > 0 {
			l.purge(erased)
		}
		return nil
	}
	for _, a := range batch {
		a.Message, a.Duplicate, a.NoOp, a.Recipients, a.Err = parley.Message{}, false, false, nil, nil
	}
	if errors.Is(err, errClosed) {
		return err
	}
	return fmt.Errorf("pebble: append messages: %w", err)
}

// counts encodes the totals after adding a batch's.
func (l *Log) counts(messages, chats int64) []byte {
	return append(encodeInt(l.messages+messages), encodeInt(l.chats+chats)...)
}

// sortedBatch collects the keys of one write and gives them to Pebble in
// key order. Pebble inserts a batch into its memtable (a skiplist) key by
// key, remembering where the previous key went; in key order each insert
// starts its search next to the previous one instead of at the top of a
// list of a million keys. That search was the largest single cost of a
// message (a third of the append path in a CPU profile), and sorting
// 3,000 keys costs a fraction of it.
type sortedBatch struct {
	kvs []keyValue
}

type keyValue struct{ key, value []byte }

// Set adds a key; a later Set of the same key wins.
func (b *sortedBatch) Set(key, value []byte) {
	b.kvs = append(b.kvs, keyValue{key, value})
}

// commit writes the keys, each once, in one synced Pebble batch.
func (b *sortedBatch) commit(db *pdb.DB) error {
	slices.SortStableFunc(b.kvs, func(x, y keyValue) int { return bytes.Compare(x.key, y.key) })
	pb := db.NewBatch()
	defer pb.Close()
	for i, kv := range b.kvs {
		if i+1 < len(b.kvs) && bytes.Equal(kv.key, b.kvs[i+1].key) {
			continue // set again later in the same write
		}
		if err := pb.Set(kv.key, kv.value, nil); err != nil {
			return err
		}
	}
	return pb.Commit(syncWrite)
}

// append adds one entry to the batch. A returned error fails the batch;
// a problem with this entry alone goes into a.Err.
func (l *Log) append(b *sortedBatch, p *pending, a *parley.Append, now time.Time) error {
	a.Message, a.Duplicate, a.NoOp, a.Err = parley.Message{}, false, false, nil
	var ik []byte
	if a.ClientID != "" {
		ik = idemKey(a.From, a.ClientID)
		dup, err := l.original(p, a, ik)
		if err != nil || dup {
			return err
		}
	}
	if a.Invalid != nil {
		a.Err, a.Recipients = a.Invalid, nil
		return nil
	}
	created := a.Time
	if created.IsZero() {
		created = now
	}
	r := record{created: created.UnixMilli(), id: a.ID, from: a.From, clientID: a.ClientID, content: a.Content,
		kind: a.Kind, replyTo: a.ReplyTo}
	// An entry acting on a message (and a reply) reads it first.
	var target *targetState
	if a.Kind != parley.KindMessage || a.ReplyTo != 0 {
		t, err := l.target(b, p, a)
		if err != nil || t == nil {
			return err
		}
		target = t
		if a.Kind != parley.KindMessage {
			r.target = a.Target
		}
		switch a.Kind {
		case parley.KindDelete:
			r.content = ""
		case parley.KindReaction:
			r.content, r.emoji, r.removed = "", a.Emoji, a.Remove
		}
	}
	last, err := l.lastSeq(p, a.Conv)
	if err != nil {
		return err
	}
	seq := last + 1
	mk, rv := msgKey(a.Conv, seq), r.encode()
	b.Set(mk, rv)
	if ik != nil || p.timeline {
		smk := string(mk) // one copy for both maps
		if ik != nil {
			// A repeat later in this batch finds the entry here.
			b.Set(ik, encodeIdem(a.Conv, seq))
			p.idem[string(ik)] = smk
		}
		p.msgs[smk] = rv
	}
	p.last[a.Conv] = seq
	p.count++
	if target != nil && a.Kind != parley.KindMessage {
		if err := l.applyTo(b, p, target, a, seq, created); err != nil {
			return err
		}
	}

	// The sender's cursor follows their own entry if it stood right
	// behind it: a user's own entries count as delivered to them.
	ck := cursorKey(a.From, a.Conv)
	cur, err := l.cursor(p, ck)
	if err != nil {
		return err
	}
	if cur == seq-1 {
		b.Set(ck, encodeInt(seq))
		p.cursors[string(ck)] = seq
	}
	if seq == 1 && !parley.IsGroupID(a.Conv) {
		p.addChat(b, a.From, a.To)
	}
	a.Message = r.message(a.Conv, seq)
	return nil
}

// targetState is the message an entry acts on, as this batch leaves it.
type targetState struct {
	key []byte
	rec record
}

// target reads the message a acts on (a.Target, or a.ReplyTo for a
// reply) and checks a against it. It returns nil when a fails alone
// (a.Err set) or, for the deletion of a message already deleted, after
// making the first deletion a's result.
func (l *Log) target(b *sortedBatch, p *pending, a *parley.Append) (*targetState, error) {
	seq := a.Target
	if a.Kind == parley.KindMessage {
		seq = a.ReplyTo
	}
	key := msgKey(a.Conv, seq)
	rv, err := l.pendingGet(p, key)
	if err != nil {
		return nil, err
	}
	var t *targetState
	var m *parley.Message
	if rv != nil {
		r, err := decodeRecord(rv)
		if err != nil {
			return nil, err
		}
		t = &targetState{key: key, rec: r}
		msg := r.message(a.Conv, seq)
		m = &msg
	}
	if err := parley.CheckTarget(a, m); err != nil {
		a.Err, a.Recipients = err, nil
		return nil, nil
	}
	if a.Duplicate {
		first, err := l.pendingGet(p, msgKey(a.Conv, t.rec.deletedBy))
		if err != nil {
			return nil, err
		}
		if first == nil {
			return nil, fmt.Errorf("message %s/%d names a missing deletion %d", a.Conv, seq, t.rec.deletedBy)
		}
		r, err := decodeRecord(first)
		if err != nil {
			return nil, err
		}
		a.Message, a.Recipients = r.message(a.Conv, t.rec.deletedBy), nil
		return nil, nil
	}
	if a.Kind == parley.KindReaction {
		changed, err := m.React(a.From, a.Emoji, a.Remove)
		if err != nil {
			a.Err, a.Recipients = err, nil
			return nil, nil
		}
		if !changed {
			a.NoOp, a.Recipients = true, nil
			a.Message = parley.Message{Conv: a.Conv, From: a.From, To: a.To, Kind: a.Kind, Target: a.Target, Emoji: a.Emoji}
			return nil, nil
		}
		t.rec.reactions = m.Reactions
	}
	return t, nil
}

// applyTo changes the state of the message an entry (stored at seq) acts
// on: its content and edit time, its deletion, its reactions (already
// applied by target). A deletion also erases the content of the
// message's edits.
func (l *Log) applyTo(b *sortedBatch, p *pending, t *targetState, a *parley.Append, seq int64, at time.Time) error {
	switch a.Kind {
	case parley.KindEdit:
		t.rec.content, t.rec.editedAt = a.Content, at.UnixMilli()
	case parley.KindDelete:
		t.rec.content, t.rec.deletedBy = "", seq
		if err := l.eraseEdits(b, p, a.Conv, a.Target, seq); err != nil {
			return err
		}
		p.erased = append(p.erased, a.Conv)
	}
	rv := t.rec.encode()
	b.Set(t.key, rv)
	p.msgs[string(t.key)] = rv
	return nil
}

// eraseEdits empties, in b, the content of every edit of the message at
// target, stored or earlier in this batch, up to the deletion at seq.
func (l *Log) eraseEdits(b *sortedBatch, p *pending, conv string, target, seq int64) error {
	erase := func(key, v []byte) error {
		if len(v) == 0 || v[0] != extMark {
			return nil // a plain message
		}
		r, err := decodeRecord(v)
		if err != nil {
			return err
		}
		if r.kind != parley.KindEdit || r.target != target || r.content == "" {
			return nil
		}
		r.content = ""
		rv := r.encode()
		b.Set(key, rv)
		p.msgs[string(key)] = rv
		return nil
	}
	it, err := l.db.NewIter(&pdb.IterOptions{LowerBound: msgKey(conv, target+1), UpperBound: msgKey(conv, seq)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if _, inBatch := p.msgs[string(it.Key())]; inBatch {
			continue // the batch's version is newer
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := erase(slices.Clone(it.Key()), v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	lo, hi := msgKey(conv, target+1), msgKey(conv, seq)
	for k, v := range p.msgs {
		if k >= string(lo) && k < string(hi) {
			if err := erase([]byte(k), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// pendingGet reads a record as this batch leaves it: written earlier in
// the batch, or stored.
func (l *Log) pendingGet(p *pending, key []byte) ([]byte, error) {
	if v, ok := p.msgs[string(key)]; ok {
		return v, nil
	}
	return l.get(key)
}

// addChat puts a new chat in both users' lists.
func (p *pending) addChat(b *sortedBatch, u1, u2 string) {
	b.Set(chatKey(u1, u2), nil)
	b.Set(chatKey(u2, u1), nil)
	p.chats++
}

// original looks up the message stored earlier under a's idempotency key,
// in this batch or before it, and if there is one makes it a's result.
func (l *Log) original(p *pending, a *parley.Append, ik []byte) (bool, error) {
	var mk, rv []byte
	if k, ok := p.idem[string(ik)]; ok {
		mk, rv = []byte(k), p.msgs[k]
	} else {
		v, err := l.lookupIdem(p, ik)
		if err != nil || v == nil {
			return false, err
		}
		conv, seq, err := decodeIdem(v)
		if err != nil {
			return false, err
		}
		mk = msgKey(conv, seq)
		if rv, err = l.get(mk); err != nil {
			return false, err
		}
		if rv == nil {
			return false, fmt.Errorf("idempotency key of %s names missing message %s/%d", a.From, conv, seq)
		}
	}
	r, err := decodeRecord(rv)
	if err != nil {
		return false, err
	}
	conv, _, err := readString(mk[1:])
	if err != nil {
		return false, err
	}
	a.Message, a.Duplicate, a.Recipients = r.message(conv, seqOf(mk)), true, nil
	return true, nil
}

// lookupIdem reads a stored idempotency key (nil if there is none) through
// one iterator per batch: almost every lookup misses, and a seek of an open
// iterator answers a miss several times faster than a Get, which sets up
// every table's iterator again (measured: 0.8 against 2.9 µs).
func (l *Log) lookupIdem(p *pending, ik []byte) ([]byte, error) {
	if p.idemIter == nil {
		it, err := l.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindIdem}, UpperBound: []byte{kindIdem + 1}})
		if err != nil {
			return nil, err
		}
		p.idemIter = it
	}
	it := p.idemIter
	if !it.SeekPrefixGE(ik) || !bytes.Equal(it.Key(), ik) {
		return nil, it.Error()
	}
	v, err := it.ValueAndErr()
	return append([]byte(nil), v...), err
}

// lastSeq returns a conversation's last seq: this batch's, the cached one,
// or the stored one. The caller holds wmu.
func (l *Log) lastSeq(p *pending, conv string) (int64, error) {
	if p != nil {
		if seq, ok := p.last[conv]; ok {
			return seq, nil
		}
	}
	if seq, ok := l.seqs[conv]; ok {
		return seq, nil
	}
	seq, err := l.getInt(lastKey(conv))
	if err != nil {
		return 0, err
	}
	if seq > 0 {
		if len(l.seqs) >= maxCached {
			clear(l.seqs)
		}
		l.seqs[conv] = seq
	}
	return seq, nil
}

// cursor returns a cursor: this batch's, the cached one or the stored one.
// The caller holds wmu.
func (l *Log) cursor(p *pending, ck []byte) (int64, error) {
	if seq, ok := p.cursors[string(ck)]; ok {
		return seq, nil
	}
	if seq, ok := l.cursors[string(ck)]; ok {
		return seq, nil
	}
	seq, err := l.getInt(ck)
	if err == nil {
		l.cacheCursor(string(ck), seq)
	}
	return seq, err
}

func (l *Log) cacheCursor(k string, seq int64) {
	if len(l.cursors) >= maxCached {
		clear(l.cursors)
	}
	l.cursors[k] = seq
}

// LastSeq returns the seq of a conversation's newest message.
func (l *Log) LastSeq(ctx context.Context, conv string) (int64, error) {
	if err := l.use(); err != nil {
		return 0, err
	}
	defer l.done()
	seq, err := l.getInt(lastKey(conv))
	if err != nil {
		return 0, fmt.Errorf("pebble: last seq: %w", err)
	}
	return seq, nil
}

// Ack moves cursors forward, each clamped to its conversation's last seq.
// A conversation with no messages gets no cursor.
func (l *Log) Ack(ctx context.Context, cursors []parley.Cursor) error {
	return l.advance("ack", cursors, cursorKey)
}

// MarkRead moves read positions forward as Ack moves cursors.
func (l *Log) MarkRead(ctx context.Context, positions []parley.Cursor) error {
	return l.advance("mark read", positions, readPosKey)
}

// ReadPositions returns the read position of each user in conv.
func (l *Log) ReadPositions(ctx context.Context, conv string, usernames []string) ([]int64, error) {
	if err := l.use(); err != nil {
		return nil, err
	}
	defer l.done()
	out := make([]int64, len(usernames))
	for i, u := range usernames {
		seq, err := l.getInt(readPosKey(u, conv))
		if err != nil {
			return nil, fmt.Errorf("pebble: read positions: %w", err)
		}
		out[i] = seq
	}
	return out, nil
}

// advance moves positions (cursors, or read positions: keyOf says which)
// forward, each clamped to its conversation's last seq. Both kinds share
// the cursor cache: their keys differ in the first byte.
func (l *Log) advance(what string, positions []parley.Cursor, keyOf func(user, conv string) []byte) error {
	err := l.write(func(b *sortedBatch, p *pending) error {
		for _, c := range positions {
			last, err := l.lastSeq(nil, c.Conv)
			if err != nil {
				return err
			}
			seq := min(c.Seq, last)
			ck := keyOf(c.Username, c.Conv)
			cur, err := l.cursor(p, ck)
			if err != nil {
				return err
			}
			if seq <= cur {
				continue
			}
			b.Set(ck, encodeInt(seq))
			p.cursors[string(ck)] = seq
		}
		return nil
	})
	if err != nil && !errors.Is(err, errClosed) {
		return fmt.Errorf("pebble: %s: %w", what, err)
	}
	return err
}
