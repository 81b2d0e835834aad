package cassandra

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/parley-chat/parley"
)

// Limits of one conditional batch: Cassandra refuses a mutation larger than
// half a commit log segment, so a conversation's run of messages is cut
// into batches of at most maxRunMessages and about maxRunBytes.
const (
	maxRunMessages = 256
	maxRunBytes    = 1 << 20
)

// errLeaseOver fails an item whose conversation was too contended or too
// slow to take its message within half the lease of its claim.
var errLeaseOver = errors.New("the message was not written within half its claim's lease")

// msgKey is an idempotency key.
type msgKey struct{ sender, clientID string }

// claim is a row of client_ids: the message msgID of conv claimed the key
// at claimedAt, when the conversation's last seq was base; seq is set once
// the message is stored (0 before).
type claim struct {
	msgID, conv string
	base, seq   int64
	claimedAt   time.Time
}

// item is a message of the batch on its way to being stored.
type item struct {
	a *parley.Append
	// claimed is when this call claimed the item's key (monotonic clock);
	// zero for an item without a key.
	claimed time.Time
	seq     int64
	// unknown is set when a conditional batch with the item timed out and
	// no read could tell whether it was stored: its claim is kept.
	unknown bool
	// pending is set while the item's key is claimed by another writer
	// still storing its message.
	pending bool
	// dupOf is the deletion earlier in the run that this deletion of the
	// same message repeats.
	dupOf *item
}

// curKey names a sender's cursor in a conversation.
type curKey struct{ user, conv string }

// head is where a conversation's newest message lies.
type head struct{ bucket, last int64 }

// AppendMessages stores a batch; see parley.MessageLog and doc.go. A
// returned error means nothing of the batch was stored. Once messages are
// being written, a conversation whose write fails fails only its own items
// (Err, EUNAVAILABLE when Cassandra could not answer), and the batch's
// other conversations are stored.
func (db *DB) AppendMessages(ctx context.Context, batch []*parley.Append) error {
	if len(batch) == 0 {
		return nil
	}
	for _, a := range batch {
		a.Message, a.Duplicate, a.NoOp, a.Err = parley.Message{}, false, false, nil
	}

	// The first item of each key is the one stored; later ones in the
	// batch repeat it.
	first := make(map[msgKey]*item)
	var repeats []*parley.Append
	var items []*item
	for _, a := range batch {
		it := &item{a: a}
		if a.ClientID != "" {
			k := msgKey{a.From, a.ClientID}
			if first[k] != nil {
				repeats = append(repeats, a)
				continue
			}
			first[k] = it
		}
		items = append(items, it)
	}

	// Heads and senders' cursors of the conversations with valid items.
	heads := make(map[string]*head)
	cursors := make(map[curKey]int64)
	var convs []string
	var curKeys []curKey
	for _, it := range items {
		if it.a.Invalid != nil {
			continue
		}
		if _, ok := heads[it.a.Conv]; !ok {
			heads[it.a.Conv] = nil
			convs = append(convs, it.a.Conv)
		}
		ck := curKey{it.a.From, it.a.Conv}
		if _, ok := cursors[ck]; !ok {
			cursors[ck] = 0
			curKeys = append(curKeys, ck)
		}
	}
	headList := make([]head, len(convs))
	curList := make([]int64, len(curKeys))
	err := db.each(len(convs)+len(curKeys), func(i int) error {
		if i < len(convs) {
			if h, ok := db.heads.get(convs[i]); ok {
				headList[i] = h
				return nil
			}
			b, last, err := db.head(ctx, convs[i], false)
			headList[i] = head{b, last}
			return err
		}
		var err error
		curList[i-len(convs)], err = db.cursor(ctx, curKeys[i-len(convs)].user, curKeys[i-len(convs)].conv)
		return err
	})
	if err != nil {
		return err
	}
	for i, c := range convs {
		heads[c] = &headList[i]
	}
	for i, k := range curKeys {
		cursors[k] = curList[i]
	}

	// A new chat is listed for both users before its first message is
	// written, so that no stored message misses its listing.
	var newChats []*parley.Append
	seenChat := map[string]bool{}
	for _, it := range items {
		if a := it.a; a.Invalid == nil && !parley.IsGroupID(a.Conv) && heads[a.Conv].last == 0 && !seenChat[a.Conv] {
			seenChat[a.Conv] = true
			newChats = append(newChats, a)
		}
	}
	if err := db.each(len(newChats), func(i int) error { return db.listChat(ctx, newChats[i]) }); err != nil {
		return err
	}

	// Claims: a key seen before answers with the original message. A key
	// another writer is still storing is not waited for yet: each writer
	// first stores what it claimed, then waits for the rest, so that two
	// writers holding each other's keys never wait on each other.
	if claimed, err := db.claimAll(ctx, items, heads, false); err != nil {
		db.release(ctx, claimed)
		return err
	}
	db.store(ctx, convs, heads, items)
	db.afterAppend(ctx, items, cursors)
	var pending []*item
	for _, it := range items {
		if it.pending {
			pending = append(pending, it)
		}
	}
	if len(pending) > 0 {
		claimed, err := db.claimAll(ctx, pending, heads, true)
		if err != nil {
			// The rest of the batch is stored: only these fail.
			db.release(ctx, claimed)
			for _, it := range pending {
				if !it.a.Duplicate {
					it.a.Err, it.a.Recipients = err, nil
				}
				it.pending, it.claimed = false, time.Time{}
			}
		} else {
			db.store(ctx, convs, heads, pending)
			db.afterAppend(ctx, pending, cursors)
		}
	}

	// Later items of a key repeat the first.
	for _, a := range repeats {
		f := first[msgKey{a.From, a.ClientID}].a
		switch {
		case f.Err == nil:
			a.Message, a.Duplicate, a.Recipients = f.Message, true, nil
		case a.Invalid != nil:
			a.Err, a.Recipients = a.Invalid, nil
		default:
			a.Err, a.Recipients = f.Err, nil
		}
	}
	return nil
}

// claimAll claims the keys of items (see claim), and returns the items it
// claimed, to be released if it fails.
func (db *DB) claimAll(ctx context.Context, items []*item, heads map[string]*head, wait bool) ([]*item, error) {
	err := db.each(len(items), func(i int) error {
		it := items[i]
		if it.a.ClientID == "" {
			return nil
		}
		var base int64
		if h := heads[it.a.Conv]; h != nil {
			base = h.last
		}
		return db.claim(ctx, it, base, wait)
	})
	var claimed []*item
	for _, it := range items {
		if !it.claimed.IsZero() {
			claimed = append(claimed, it)
		}
	}
	return claimed, err
}

// store writes the messages of items that are neither repeats nor
// invalid nor pending, one run of conditional batches per conversation.
func (db *DB) store(ctx context.Context, convs []string, heads map[string]*head, items []*item) {
	byConv := make(map[string][]*item)
	for _, it := range items {
		a := it.a
		switch {
		case it.pending:
		case a.Duplicate:
			a.Recipients = nil
		case a.Invalid != nil:
			a.Err, a.Recipients = a.Invalid, nil
		default:
			byConv[a.Conv] = append(byConv[a.Conv], it)
		}
	}
	db.each(len(convs), func(i int) error {
		if run := byConv[convs[i]]; len(run) > 0 {
			db.appendRun(ctx, convs[i], *heads[convs[i]], run)
		}
		return nil
	})
}

// afterAppend writes what follows stored messages: the seqs into their
// claims, the conversations' last-seq hints, and the senders' cursors that
// stood right behind their own messages. Each write is an idempotent
// upsert; a failure is logged and leaves something a later read repairs
// (doc.go). Items still pending are left for a later call; cursors holds
// the senders' cursors and is moved along.
func (db *DB) afterAppend(ctx context.Context, items []*item, cursors map[curKey]int64) {
	type write struct {
		stmt string
		args []any
	}
	var writes []write
	last := map[string]int64{}
	var order []string
	cur := map[curKey]int64{}
	moved := map[curKey]bool{}
	var curOrder []curKey
	var failed []*item
	for _, it := range items {
		a := it.a
		if it.pending {
			continue
		}
		if a.Err != nil || a.Duplicate || a.Invalid != nil {
			if a.Err != nil && !it.claimed.IsZero() && it.seq == 0 && !it.unknown {
				failed = append(failed, it)
			}
			continue
		}
		m := a.Message
		if a.ClientID != "" {
			writes = append(writes, write{`UPDATE client_ids SET seq = ? WHERE sender = ? AND client_id = ?`, []any{m.Seq, a.From, a.ClientID}})
		}
		if _, ok := last[m.Conv]; !ok {
			order = append(order, m.Conv)
		}
		last[m.Conv] = max(last[m.Conv], m.Seq)
		k := curKey{a.From, m.Conv}
		c, ok := cur[k]
		if !ok {
			c = cursors[k]
			curOrder = append(curOrder, k)
		}
		if c == m.Seq-1 {
			c = m.Seq
			moved[k] = true
		}
		cur[k] = c
	}
	for _, c := range order {
		writes = append(writes, write{`UPDATE conversations SET last_seq = ?, is_chat = ? WHERE conv = ?`, []any{last[c], !parley.IsGroupID(c), c}})
	}
	var moves []curKey
	for _, k := range curOrder {
		if moved[k] {
			moves = append(moves, k)
			cursors[k] = cur[k]
		}
	}
	err := db.each(len(writes)+len(moves), func(i int) error {
		if i < len(writes) {
			return db.s.Query(writes[i].stmt, writes[i].args...).Idempotent(true).ExecContext(ctx)
		}
		k := moves[i-len(writes)]
		return db.setCursor(ctx, k.user, k.conv, cur[k])
	})
	if err != nil {
		db.log.Warn("cassandra: writes after stored messages failed", "err", err)
	}
	db.release(ctx, failed)
}

// claim claims the key of it for it.a.ID, or finds the message stored under
// it (it.a.Duplicate) or, for an invalid item, finds nothing (it.a.Err).
// An earlier claim whose message is still being written is waited for
// when wait is set, and leaves the item pending when it is not; one whose
// lease ran out with no message stored is taken over.
func (db *DB) claim(ctx context.Context, it *item, base int64, wait bool) error {
	a := it.a
	it.pending = false
	// first is when this call first tried to claim the key: the start of
	// its lease whichever try was applied. A try that timed out may have
	// been applied; the next try then finds a claim with a.ID in it.
	var first time.Time
	timeouts := 0
	retry := func(err error) bool {
		if unavailable(err) && ctx.Err() == nil && timeouts < 3 {
			timeouts++
			return true
		}
		return false
	}
	for attempt := 0; ; attempt++ {
		var c claim
		var found bool
		if a.Invalid != nil {
			var err error
			if c, found, err = db.readClaim(ctx, a.From, a.ClientID); err != nil {
				return err
			}
			if !found {
				return nil // failed later with Invalid; reserves nothing
			}
		} else {
			start := time.Now()
			if first.IsZero() {
				first = start
			}
			row := map[string]any{}
			applied, err := db.s.Query(`INSERT INTO client_ids (sender, client_id, msg_id, conv, base, claimed_at) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
				a.From, a.ClientID, a.ID, a.Conv, base, start.UTC()).MapScanCASContext(ctx, row)
			if err != nil {
				if retry(err) {
					continue
				}
				return fail("append: claim", err)
			}
			if applied {
				it.claimed = first
				return nil
			}
			c = claimFromRow(row)
			if c.msgID == a.ID {
				it.claimed = first
				return nil
			}
		}
		m, stored, stale, err := db.resolve(ctx, c)
		if err != nil {
			return err
		}
		switch {
		case stored:
			a.Message, a.Duplicate, a.Recipients = m, true, nil
			// Finish what a crash may have cut short after the entry
			// was stored.
			if err := db.entryWrites(ctx, m); err != nil {
				db.log.Warn("cassandra: recording a repeated entry failed", "err", err)
			}
			return nil
		case stale && a.Invalid != nil:
			return nil
		case stale:
			start := time.Now()
			first = start
			applied, err := db.s.Query(`UPDATE client_ids SET msg_id = ?, conv = ?, base = ?, claimed_at = ?, seq = null WHERE sender = ? AND client_id = ? IF msg_id = ?`,
				a.ID, a.Conv, base, start.UTC(), a.From, a.ClientID, c.msgID).MapScanCASContext(ctx, map[string]any{})
			if err != nil {
				if retry(err) {
					continue
				}
				return fail("append: take over claim", err)
			}
			if applied {
				it.claimed = start
				return nil
			}
		case !wait:
			it.pending = true
			return nil
		default:
			// The original is being written: wait for it.
			select {
			case <-ctx.Done():
				return fail("append: wait for claim", ctx.Err())
			case <-time.After(time.Duration(min(attempt+1, 10)) * 20 * time.Millisecond):
			}
		}
	}
}

func claimFromRow(row map[string]any) claim {
	var c claim
	c.msgID, _ = row["msg_id"].(string)
	c.conv, _ = row["conv"].(string)
	c.base, _ = row["base"].(int64)
	c.seq, _ = row["seq"].(int64)
	c.claimedAt, _ = row["claimed_at"].(time.Time)
	return c
}

func (db *DB) readClaim(ctx context.Context, sender, clientID string) (claim, bool, error) {
	var c claim
	var seq *int64
	err := db.s.Query(`SELECT msg_id, conv, base, seq, claimed_at FROM client_ids WHERE sender = ? AND client_id = ?`, sender, clientID).
		Consistency(gocql.LocalSerial).Idempotent(true).ScanContext(ctx, &c.msgID, &c.conv, &c.base, &seq, &c.claimedAt)
	if errors.Is(err, gocql.ErrNotFound) {
		return claim{}, false, nil
	}
	if err != nil {
		return claim{}, false, fail("append: read claim", err)
	}
	if seq != nil {
		c.seq = *seq
	}
	return c, true, nil
}

// resolve looks for the message of a claim: stored when found; stale when
// the claim's lease ran out and the message is nowhere after the claim's
// base, so it never will be (its writer stops trying at half the lease).
func (db *DB) resolve(ctx context.Context, c claim) (m parley.Message, stored, stale bool, err error) {
	if c.seq > 0 {
		m, ok, err := db.message(ctx, c.conv, c.seq, gocql.LocalQuorum)
		if err != nil || (ok && m.ID == c.msgID) {
			return m, ok, false, err
		}
	}
	if time.Since(c.claimedAt) < db.lease {
		return parley.Message{}, false, false, nil
	}
	// A serial read of the head finishes any Paxos round still in flight.
	_, last, err := db.head(ctx, c.conv, true)
	if err != nil {
		return parley.Message{}, false, false, err
	}
	var found *parley.Message
	err = db.scan(ctx, c.conv, c.base, last, false, func(r row) bool {
		if r.ID == c.msgID {
			found = &r.Message
			return false
		}
		return true
	})
	if err != nil {
		return parley.Message{}, false, false, err
	}
	if found != nil {
		return *found, true, false, nil
	}
	return parley.Message{}, false, true, nil
}

// release gives up the claims of items that failed before their message
// could be stored, so that a retry need not wait for the lease.
func (db *DB) release(ctx context.Context, items []*item) {
	ctx = context.WithoutCancel(ctx)
	db.each(len(items), func(i int) error {
		a := items[i].a
		// A claim left behind is taken over when its lease ends.
		db.s.Query(`DELETE FROM client_ids WHERE sender = ? AND client_id = ? IF msg_id = ?`, a.From, a.ClientID, a.ID).
			MapScanCASContext(ctx, map[string]any{})
		return nil
	})
}

// listChat lists a new chat for both of its users.
func (db *DB) listChat(ctx context.Context, a *parley.Append) error {
	peer, other, ok := parley.ChatPeers(a.Conv)
	if !ok {
		peer, other = a.From, a.To
	}
	b := db.s.Batch(gocql.UnloggedBatch)
	b.Query(`INSERT INTO user_chats (username, chat, peer) VALUES (?, ?, ?)`, peer, a.Conv, other)
	b.Query(`INSERT INTO user_chats (username, chat, peer) VALUES (?, ?, ?)`, other, a.Conv, peer)
	if err := idempotent(b).ExecContext(ctx); err != nil {
		return fail("append: list chat", err)
	}
	return nil
}

// appendRun stores the items of one conversation, in order, with
// conditional batches on the bucket partitions: IF last_seq = the last seq
// seen, SET last_seq = the last seq of the run. A lost race returns the
// bucket's current last seq, and the run is numbered again from it.
func (db *DB) appendRun(ctx context.Context, conv string, h head, run []*item) {
	b, last := h.bucket, h.last
	failRun := func(err error) {
		for _, it := range run {
			it.a.Err, it.a.Recipients = err, nil
		}
	}
	// failUnknown fails the run when a batch of its first n items may have
	// been stored.
	failUnknown := func(n int, err error) {
		for _, it := range run[:n] {
			it.unknown = true
		}
		failRun(err)
	}
	// Deletions that repeat one earlier in the run answer with it.
	var dups []*item
	defer func() {
		for _, it := range dups {
			if f := it.dupOf.a; f.Err == nil && it.dupOf.seq > 0 {
				it.a.Message, it.a.Duplicate = f.Message, true
			} else {
				it.a.Duplicate, it.a.Err = false, f.Err
				if it.a.Err == nil {
					it.a.Err = fail("append", errLeaseOver)
				}
			}
		}
	}()
	fresh := false // the head was read at LOCAL_SERIAL for the run's targets
	for attempt := 0; len(run) > 0; {
		// An item whose claim is past half its lease is not written: a
		// repeat may take the claim over once the lease ends.
		keep := run[:0]
		for _, it := range run {
			if !it.claimed.IsZero() && time.Since(it.claimed) > db.lease/2 {
				it.a.Err, it.a.Recipients = fail("append", errLeaseOver), nil
				continue
			}
			keep = append(keep, it)
		}
		run = keep
		if len(run) == 0 {
			return
		}
		end := (b + 1) * db.bucketSize
		if last >= end {
			b = db.bucket(last + 1)
			continue
		}
		if hasTimeline(run) {
			// A target past the head this node knows may be stored by
			// another node: settle against the current head, read at
			// LOCAL_SERIAL, not against a hint that lags.
			if maxRef(run) > last && !fresh {
				fresh = true
				hb, l, err := db.head(ctx, conv, true)
				if err != nil {
					failRun(err)
					return
				}
				if l > last {
					b, last = hb, l
					continue
				}
			}
			keep, answered, err := db.settle(ctx, conv, last, run)
			if err != nil {
				failRun(err)
				return
			}
			var release []*item
			for _, it := range answered {
				if it.dupOf != nil {
					dups = append(dups, it)
				}
				if it.a.Err == nil && !it.claimed.IsZero() {
					release = append(release, it)
				}
			}
			db.release(ctx, release) // stored nothing: a retry need not wait
			if run = keep; len(run) == 0 {
				return
			}
		}
		n, size := 0, 0
		for n < len(run) && n < maxRunMessages && int64(n) < end-last && (n == 0 || size+len(run[n].a.Content) <= maxRunBytes) {
			size += len(run[n].a.Content) + len(run[n].a.ID) + 64
			n++
		}
		batch := db.s.Batch(gocql.UnloggedBatch).SerialConsistency(gocql.LocalSerial)
		if last == b*db.bucketSize {
			batch.Query(`UPDATE messages SET last_seq = ? WHERE conv = ? AND bucket = ? IF last_seq = null`, last+int64(n), conv, b)
		} else {
			batch.Query(`UPDATE messages SET last_seq = ? WHERE conv = ? AND bucket = ? IF last_seq = ?`, last+int64(n), conv, b, last)
		}
		for i, it := range run[:n] {
			a := it.a
			if a.Time.IsZero() {
				a.Time = db.now()
			}
			a.Time = a.Time.UTC().Truncate(time.Millisecond)
			var clientID *string
			if a.ClientID != "" {
				clientID = &a.ClientID
			}
			batch.Query(`INSERT INTO messages (conv, bucket, seq, id, sender, recipient, content, sent_at, client_id, kind, target, reply_to, emoji, removed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				conv, b, last+int64(i)+1, a.ID, a.From, a.To, a.Content, a.Time, clientID,
				orNull(int(a.Kind)), orNull(a.Target), orNull(a.ReplyTo), orNull(a.Emoji), orNull(a.Remove))
		}
		row := map[string]any{}
		applied, iter, err := batch.MapExecCASContext(ctx, row)
		if iter != nil {
			iter.Close()
		}
		var cur *int64
		if err == nil && !applied {
			if v, ok := row["last_seq"].(int64); ok {
				cur = &v
			}
		}
		if err != nil {
			// The outcome is unknown (a timeout) or the write failed: a
			// serial read of the first row says which.
			if ctx.Err() != nil {
				failUnknown(n, fail("append", err))
				return
			}
			m, ok, rerr := db.message(ctx, conv, last+1, gocql.LocalSerial)
			if rerr != nil {
				failUnknown(n, fail("append", errors.Join(err, rerr)))
				return
			}
			if ok && m.ID == run[0].a.ID {
				applied = true
			} else {
				if attempt++; attempt > 5 {
					failRun(fail("append", err))
					return
				}
				hb, l, herr := db.head(ctx, conv, true)
				if herr != nil {
					failRun(herr)
					return
				}
				b, last = hb, l
				continue
			}
		}
		if !applied {
			// Someone else appended first: go on from their last seq.
			if cur == nil {
				last = b * db.bucketSize
			} else {
				last = *cur
			}
			if attempt++; attempt > 3 {
				time.Sleep(time.Duration(rand.IntN(min(attempt, 20))+1) * time.Millisecond)
			}
			continue
		}
		db.heads.put(conv, head{b, last + int64(n)})
		for i, it := range run[:n] {
			a := it.a
			it.seq = last + int64(i) + 1
			a.Message = parley.Message{ID: a.ID, Conv: conv, Seq: it.seq, From: a.From, To: a.To, Content: a.Content, Time: a.Time,
				Kind: a.Kind, Target: a.Target, Emoji: a.Emoji, Removed: a.Remove, ReplyTo: a.ReplyTo}
			if a.Kind == parley.KindDelete {
				a.Message.Content = ""
			}
		}
		// Entries are found by their targets before the next run is
		// settled (and before SUCCESS): written here, in parallel.
		var entries []parley.Message
		for _, it := range run[:n] {
			if it.a.Kind != parley.KindMessage {
				entries = append(entries, it.a.Message)
			}
		}
		if err := db.each(len(entries), func(i int) error { return db.entryWrites(ctx, entries[i]) }); err != nil {
			db.log.Warn("cassandra: recording entries failed", "err", err)
		}
		last += int64(n)
		run = run[n:]
	}
}

// orNull is nil for the zero value, so that a message's row stores no
// cell for the timeline fields it does not use.
func orNull[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}
