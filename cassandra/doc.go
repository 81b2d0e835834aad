// Package cassandra is a parley.MessageLog on Apache Cassandra 5.0: the
// messages, delivery cursors and chat lists of a cluster of Parley nodes,
// put together with an account store by parley.Split. It talks CQL through
// the Apache Cassandra Go driver; deploy/cassandra starts a node for tests.
//
// # Tables
//
//   - messages, partitioned by (conv, bucket) with seq as the clustering
//     key: bucket = (seq-1) / bucket_size, so the partition of any seq is
//     known without a lookup. bucket_size (default 4096) is stored in the
//     settings table when the keyspace is created and read at Open: it can
//     never change under existing data. Each partition has a static column
//     last_seq, the seq of its newest message.
//   - conversations: a hint of each conversation's last seq, written after
//     its messages. It is never ahead of the truth and may lag behind; a
//     reader starts at the hint's bucket and walks forward over buckets
//     whose last_seq says they are full.
//   - client_ids, keyed by (sender, client_id): idempotency claims.
//   - cursors, keyed by username with clustering (conv, seq DESC): the
//     newest row of (username, conv) is the cursor.
//   - user_chats: each user's one-to-one chats and their peers.
//
// # Appending, and why seqs have no gaps
//
// AppendMessages groups a batch by conversation and writes each
// conversation's messages with one conditional batch on the partition of
// the bucket they go to:
//
//	UPDATE messages SET last_seq = L+n WHERE conv = ? AND bucket = ? IF last_seq = L
//	INSERT INTO messages (... seq = L+1 ...) ... INSERT (... seq = L+n ...)
//
// (IF last_seq = null for the first messages of a bucket). Cassandra
// applies a conditional single-partition batch atomically, with one Paxos
// round at LOCAL_SERIAL: either all n rows and the new last_seq are stored
// or nothing is. Two writers that both read L cannot both win: the loser
// gets the bucket's current last_seq back, numbers its run again from it
// and retries. A run never crosses a bucket boundary; the first messages of
// bucket b+1 are seq b*bucket_size+1 onwards and are only numbered once
// bucket b's last_seq says it is full, so every bucket, and so the
// conversation, holds 1..last with no hole. A failed item (Invalid) takes
// no seq. A batch of 1,024 messages over 1,000 conversations costs about
// one Paxos round per conversation (more for conversations contended by
// several nodes) and one per message with a client id (its claim, below),
// run in parallel (Config.Parallel).
//
// When a conditional batch times out its outcome is unknown; a read at
// LOCAL_SERIAL of its first row (which finishes any Paxos round in flight)
// tells whether it was stored before it is retried. When even that read
// fails, the items fail as EUNAVAILABLE although they may have been
// stored; their claims are kept, so that a client's retry finds the message
// rather than storing it again.
//
// The append path remembers each conversation's head in memory (a hint
// that is never ahead, since heads only grow): a node appending to a
// conversation again skips the two reads that find the head, and a stale
// hint only costs one lost conditional batch, whose answer carries the
// current last seq. Reads that must be current (LastSeq, History, Inbox)
// never use it.
//
// # Idempotency, and a crash between claim and message
//
// The first append of (sender, client_id) claims it before writing the
// message, with INSERT INTO client_ids ... IF NOT EXISTS: its row names
// the new message's id, its conversation, the conversation's last seq
// when claimed (base) and the claim time. Only one insert wins, on any
// node, so at most one writer at a time holds a key. The winner writes the
// message, then records its seq in the claim. A repeat that loses the
// insert gets the claim back and:
//
//   - with a seq: reads that message and returns it, Duplicate set;
//   - without one, while the claim is younger than Config.Lease (10 s): the
//     original is being written; the repeat waits and asks again, but only
//     once its own batch's other messages are stored and their seqs
//     recorded. Two nodes whose batches hold the same keys in different
//     orders each win some of the claims; were each to wait before writing,
//     each would wait for the other until the lease ran out;
//   - without one, once the lease is over: reads the conversation's head at
//     LOCAL_SERIAL and scans its messages after base for the claimed id.
//     Found: the writer died after storing the message and before recording
//     its seq; the repeat returns it. Not found: the writer died (or gave
//     up) before storing it, and the repeat takes the claim over with
//     UPDATE ... IF msg_id = <the dead claim's id> and stores its own
//     message.
//
// A claim that times out is tried again: the try that was applied is
// recognised by its message id in the claim's row.
//
// A writer never sends a conditional batch for a message more than half a
// lease after claiming its key (the item fails with EUNAVAILABLE instead),
// and a failed write gives its claims back (DELETE ... IF msg_id = ours),
// so that a client's retry need not wait. The guarantee that no key is
// stored twice therefore rests on the nodes' clocks differing by less than
// half the lease minus the request timeout: a claim's age is read against
// the writer's clock.
//
// # The timeline: edits, deletions, reactions, replies
//
// An edit, deletion or reaction is a row of messages like any entry, with
// its kind and its target's seq. A message's row is never rewritten to
// hold its current state (two nodes changing one message would race on
// it); instead each entry acting on it gets a row of timeline_entries,
// keyed by (conversation, target), and the message's row gets has_entries
// (and, after a deletion, deleted and an empty content). A read of a
// message with has_entries folds its entries in seq order, by the rules
// every store applies (parley.Message.React; nothing counts after a
// deletion), and takes its content from its latest edit's row.
//
// The rules are checked before a run is numbered (settle): each entry and
// reply against its target's state as the run's earlier items leave it.
// Two writers of one conversation are serialized by the conditional batch
// of its last bucket: the one that loses settles its run again, against
// what the winner recorded (timeline_entries, has_entries) right after its
// batch and before answering. A loser that settles again within that
// instant can miss the winner's entry and accept one the rules would now
// refuse (a 21st emoji, an edit of a message just deleted); reads fold by
// the same rules, so what every client is shown still follows them, but
// such an edit's own row keeps its text. A deletion overwrites the content
// of the message and of its edits in their rows. These writes are
// idempotent upserts; when one fails, or a crash cuts them short, the
// entry stays in the timeline (delivered and listed like any) and a repeat
// of its client id writes them again.
//
// # What follows a stored message
//
// After the messages, AppendMessages writes the claims' seqs, the
// conversations' hints and the cursors of senders who stood right behind
// their own message, as idempotent upserts. A failure there is logged and
// repairs itself: a hint that lags is walked past by readers, a claim
// without a seq is resolved by scanning, a cursor that did not follow its
// sender only counts nothing as unread (a user's own messages never are).
// A new chat is listed for both users before its first message is
// written, so no stored message is missing from its chat list.
//
// # Cursors
//
// Ack clamps each cursor to the conversation's last seq and writes, in one
// single-partition batch, a row at the new seq and a range deletion of the
// rows below it. The newest row is always the greatest seq ever written,
// whichever writes race: a cursor never moves back, without a read before
// the write or a Paxos round. A deleted row that comes back is below the
// cursor and changes nothing, so the cursors table purges its tombstones
// after an hour (gc_grace_seconds), not ten days.
//
// # Consistency, timeouts, retries, errors
//
// Reads and writes use Config.Consistency (default LOCAL_QUORUM);
// conditional writes use LOCAL_SERIAL. Every request is bounded by
// Config.Timeout (default 10 s, above Cassandra's own request timeouts, so
// that its answer, not the driver's, is the one seen). The driver retries only statements marked idempotent
// (reads, upserts, deletes); conditional writes are never retried blindly.
// Errors that mean Cassandra cannot answer now (no node reachable, not
// enough replicas, timeouts, overload) carry parley.EUNAVAILABLE.
//
// # Schema
//
// The keyspace (Config.Replication when created), a lock table and
// schema_migrations are created with IF NOT EXISTS; the embedded
// migrations/*.cql are then applied in version order under a lock held with
// a conditional insert (TTL 120 s), so that nodes starting at once apply
// them one at a time, and recorded in schema_migrations. Every migration
// statement is IF NOT EXISTS, so one cut short is finished by the next
// node.
//
// # Concurrency
//
// A DB is safe for concurrent use by many goroutines and by many nodes on
// one keyspace. A batch's requests run in parallel, at most Config.Parallel
// at once.
package cassandra
