package pebble

import (
	"errors"

	"context"
	"fmt"

	"github.com/parley-chat/parley"
)

// An import copies the messages of another store into the log, in
// (conv, seq) order and in batches. Each batch records, in the same synced
// Pebble batch, how far the import got, so an import that is killed
// resumes after the last batch it finished and never stores a message
// twice.

// ImportState reports whether an import finished, and otherwise the last
// message (conv, seq) it stored; "" and 0 if it has not begun.
func (l *Log) ImportState(ctx context.Context) (done bool, conv string, seq int64, err error) {
	if err := l.use(); err != nil {
		return false, "", 0, err
	}
	defer l.done()
	v, err := l.get(importKey)
	if err != nil || v == nil {
		return false, "", 0, err
	}
	if len(v) == 1 && v[0] == 'd' {
		return true, "", 0, nil
	}
	conv, seq, err = decodeIdem(v)
	return false, conv, seq, err
}

// ImportMessages stores msgs (in (conv, seq) order, each conversation
// starting at seq 1 or where the last batch left it) with their seqs,
// idempotency keys and chat lists, and records the last one as the
// import's position.
func (l *Log) ImportMessages(ctx context.Context, msgs []parley.StoredMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	err := l.write(func(b *sortedBatch, p *pending) error {
		for _, m := range msgs {
			r := record{created: m.Time.UnixMilli(), id: m.ID, from: m.From, clientID: m.ClientID, content: m.Content}
			b.Set(msgKey(m.Conv, m.Seq), r.encode())
			if m.ClientID != "" {
				b.Set(idemKey(m.From, m.ClientID), encodeIdem(m.Conv, m.Seq))
			}
			if m.Seq == 1 && !parley.IsGroupID(m.Conv) {
				a, c, ok := parley.ChatPeers(m.Conv)
				if !ok {
					return fmt.Errorf("malformed chat id %q", m.Conv)
				}
				p.addChat(b, a, c)
			}
			p.last[m.Conv] = max(p.last[m.Conv], m.Seq)
		}
		p.count = int64(len(msgs))
		end := msgs[len(msgs)-1]
		b.Set(importKey, encodeIdem(end.Conv, end.Seq))
		return nil
	})
	if err != nil && !errors.Is(err, errClosed) {
		return fmt.Errorf("pebble: import: %w", err)
	}
	return err
}

// FinishImport moves the imported cursors, and the read positions with
// them, forward (as Ack does: an import that is run again changes
// nothing) and marks the import done.
func (l *Log) FinishImport(ctx context.Context, cursors []parley.Cursor) error {
	for i := 0; i < len(cursors); i += 10000 {
		// What was delivered before the timeline counts as read: the read
		// positions start at the cursors.
		if err := l.Ack(ctx, cursors[i:min(i+10000, len(cursors))]); err != nil {
			return fmt.Errorf("pebble: import cursors: %w", err)
		}
		if err := l.MarkRead(ctx, cursors[i:min(i+10000, len(cursors))]); err != nil {
			return fmt.Errorf("pebble: import read positions: %w", err)
		}
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return errClosed
	}
	if err := l.db.Set(importKey, []byte{'d'}, syncWrite); err != nil {
		return fmt.Errorf("pebble: finish import: %w", err)
	}
	return nil
}
