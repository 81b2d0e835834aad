package cassandra

import (
	"context"
	"slices"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// eraseBatch is how many rows of one bucket one unlogged batch rewrites.
const eraseBatch = 100

// EraseSender empties the content of the messages username sent; see
// parley.MessageLog. Messages are partitioned by conversation and nothing
// is indexed by sender (client_ids is keyed by sender and id together), so
// it finds the conversations through the user's own partitions: their
// chats (user_chats), the groups given and the conversations they hold a
// cursor in (cursors). It then reads each of those conversations whole,
// bucket by bucket, and rewrites the content of username's messages to
// "" in single-partition batches. The cost is a read of every message of
// every conversation username was in, plus one write per erased message.
// A group username left without ever holding a cursor in it (they never
// acknowledged it, and it had no messages when they joined) is not found.
func (db *DB) EraseSender(ctx context.Context, username string, groups []string) (int64, error) {
	convs, err := db.senderConvs(ctx, username, groups)
	if err != nil {
		return 0, err
	}
	var erased int64
	for _, conv := range convs {
		n, err := db.eraseIn(ctx, conv, username)
		erased += n
		if err != nil {
			return erased, err
		}
	}
	return erased, nil
}

func (db *DB) senderConvs(ctx context.Context, username string, groups []string) ([]string, error) {
	convs := slices.Clone(groups)
	ids, _, err := db.chats(ctx, username)
	if err != nil {
		return nil, err
	}
	convs = append(convs, ids...)
	iter := db.s.Query(`SELECT conv FROM cursors WHERE username = ?`, username).PageSize(1000).Idempotent(true).IterContext(ctx)
	var conv string
	for iter.Scan(&conv) {
		convs = append(convs, conv)
	}
	if err := iter.Close(); err != nil {
		return nil, fail("read cursors", err)
	}
	slices.Sort(convs)
	return slices.Compact(convs), nil
}

// eraseIn rewrites username's messages in conv without content.
func (db *DB) eraseIn(ctx context.Context, conv, username string) (int64, error) {
	var seqs []int64
	err := db.scan(ctx, conv, 0, 0, false, func(m row) bool {
		if m.From == username && m.Content != "" {
			seqs = append(seqs, m.Seq)
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	var n int64
	for len(seqs) > 0 {
		// One batch holds rows of one bucket: one partition.
		k, bucket := 0, db.bucket(seqs[0])
		for k < len(seqs) && k < eraseBatch && db.bucket(seqs[k]) == bucket {
			k++
		}
		b := db.s.Batch(gocql.UnloggedBatch)
		for _, seq := range seqs[:k] {
			b.Query(`UPDATE messages SET content = '' WHERE conv = ? AND bucket = ? AND seq = ?`, conv, bucket, seq)
		}
		if err := idempotent(b).ExecContext(ctx); err != nil {
			return n, fail("erase messages", err)
		}
		n += int64(k)
		seqs = seqs[k:]
	}
	return n, nil
}
