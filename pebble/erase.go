package pebble

import (
	"context"
	"errors"
	"fmt"
	"slices"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/parley-chat/parley"
)

// EraseSender empties the content of the messages username sent; see
// parley.MessageLog. The log keeps no index by sender, so it gathers the
// conversations username can have written to: their one-to-one chats
// (u <user>), the groups given, the conversations they hold a cursor in
// (c <user>) and those of their idempotency keys (i <user>), which name
// every conversation they sent a message with an id to. It then reads
// each of those conversations whole and rewrites the records of
// username's messages with no content, one synced batch per
// conversation: the cost is a read of every message of every
// conversation username was in.
func (l *Log) EraseSender(ctx context.Context, username string, groups []string) (int64, error) {
	convs, err := l.senderConvs(username, groups)
	if err != nil {
		return 0, fmt.Errorf("pebble: erase sender: %w", err)
	}
	var erased int64
	for _, conv := range convs {
		if err := ctx.Err(); err != nil {
			return erased, err
		}
		err := l.write(func(b *sortedBatch, _ *pending) error {
			n, err := l.eraseIn(b, conv, username)
			erased += n
			return err
		})
		if err != nil {
			return erased, fmt.Errorf("pebble: erase sender: %w", err)
		}
	}
	return erased, nil
}

// senderConvs lists, sorted and without repeats, the conversations
// username may have sent messages to.
func (l *Log) senderConvs(username string, groups []string) ([]string, error) {
	if err := l.use(); err != nil {
		return nil, err
	}
	defer l.done()
	convs := slices.Clone(groups)
	peers, err := l.peers(username)
	if err != nil {
		return nil, err
	}
	for _, p := range peers {
		convs = append(convs, parley.ChatID(username, p))
	}
	err = l.scanPrefix(cursorKey(username, ""), func(rest, _ []byte) error {
		convs = append(convs, string(rest))
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = l.scanPrefix(idemKey(username, ""), func(_, v []byte) error {
		conv, _, err := decodeIdem(v)
		convs = append(convs, conv)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(convs)
	return slices.Compact(convs), nil
}

// scanPrefix calls fn with the rest of the key and the value of every key
// that starts with prefix.
func (l *Log) scanPrefix(prefix []byte, fn func(rest, value []byte) error) error {
	it, err := l.db.NewIter(&pdb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(it.Key()[len(prefix):], v); err != nil {
			return err
		}
	}
	return it.Error()
}

// eraseIn sets, in b, the records of username's messages in conv with
// their content removed. The caller holds wmu, so no append races it.
func (l *Log) eraseIn(b *sortedBatch, conv, username string) (int64, error) {
	prefix := convPrefix(conv)
	it, err := l.db.NewIter(&pdb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return n, err
		}
		if from, err := senderOf(v); err != nil {
			return n, err
		} else if from != username {
			continue
		}
		r, err := decodeRecord(v)
		if err != nil {
			return n, err
		}
		if r.content == "" {
			continue
		}
		r.content = ""
		b.Set(slices.Clone(it.Key()), r.encode()) // the batch keeps the key, the iterator reuses it
		n++
	}
	return n, it.Error()
}

// purge has the conversations' files rewritten without the content a
// deletion just erased. Pebble writes an overwritten record's old version
// to the write-ahead log and keeps it in the tables until a compaction
// drops it; so, in the background, the memtable is flushed (the log that
// held the content is then obsolete) and the conversations' key ranges
// compacted. Deletions arriving meanwhile join the next round. Close
// waits for a round under way.
func (l *Log) purge(convs []string) {
	l.purgeMu.Lock()
	defer l.purgeMu.Unlock()
	if l.purgeSet == nil {
		l.purgeSet = make(map[string]bool)
	}
	for _, c := range convs {
		l.purgeSet[c] = true
	}
	if !l.purging {
		l.purging = true
		l.purgeWG.Add(1)
		go l.purgeLoop()
	}
}

func (l *Log) purgeLoop() {
	defer l.purgeWG.Done()
	for {
		l.purgeMu.Lock()
		convs := make([]string, 0, len(l.purgeSet))
		for c := range l.purgeSet {
			convs = append(convs, c)
		}
		clear(l.purgeSet)
		if len(convs) == 0 {
			l.purging = false
			l.purgeMu.Unlock()
			return
		}
		l.purgeMu.Unlock()
		if err := l.compactConvs(convs); err != nil && !errors.Is(err, errClosed) {
			l.logger.Warn("purging deleted content from the message log's files failed", "conversations", len(convs), "err", err)
		}
	}
}

func (l *Log) compactConvs(convs []string) error {
	if err := l.use(); err != nil {
		return err
	}
	defer l.done()
	if err := l.db.Flush(); err != nil {
		return err
	}
	slices.Sort(convs)
	for _, conv := range convs {
		p := convPrefix(conv)
		if err := l.db.Compact(context.Background(), p, prefixEnd(p), false); err != nil {
			return err
		}
	}
	return nil
}
