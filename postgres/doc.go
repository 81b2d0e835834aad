// Package postgres is Parley's shared store: one PostgreSQL database that
// several parleyd nodes use at once, through pgx and its connection pool.
// It keeps everything, or, as the parley.AccountStore of a parley.Split
// with a message log (the cassandra package), the accounts and groups
// only, answering the log's questions as a parley.Directory; its message
// tables then stay empty.
//
// Vocabulary, besides the domain's:
//   - A migration is one embedded file, migrations/NNNN_name.sql; its
//     version (the file name without .sql) is recorded in schema_migrations
//     once applied. Open applies those not yet recorded, all in one
//     transaction that holds an advisory lock, so that nodes starting
//     together apply each migration once; Migrate does the same alone.
//   - A conversation row (table conversations) holds the last seq handed
//     out; appending to a conversation locks its row until commit.
//   - The messages table is partitioned by conversation and clustered by
//     seq; idempotency keys live in message_keys (see the migration).
//
// Concurrency contract: every method is safe for concurrent use, from any
// number of goroutines and nodes. The database's locks, not the process's,
// keep the rules, at READ COMMITTED:
//   - AppendMessages locks the rows of the batch's conversations in id
//     order (so that two batches never deadlock), reads group memberships
//     only after that, assigns seqs in memory, and writes the whole batch
//     in one transaction. Seqs are gapless and commit in order per
//     conversation. Two nodes storing one idempotency key race on the
//     primary key of message_keys: the loser's transaction fails with a
//     unique violation and the batch is retried, finding the winner's
//     message.
//   - Membership changes lock the group row (SELECT ... FOR UPDATE); a
//     join also share-locks the conversation row, so that a newcomer's
//     cursor is the last seq committed before it joined and every later
//     message lists it as a recipient.
//   - RotateRefresh locks the token's row and then its session's, so that
//     of two refreshes of one token exactly one succeeds; the other finds
//     the token rotated out and ends the session, as a reuse would.
//   - Statements that lock or write many rows of one table take them in
//     key order (conversations, idempotency keys, users in SetLastSeen,
//     cursors in Ack), so that two nodes never deadlock on them.
//
// Lock order, where several kinds are taken: group, then conversation;
// refresh token, then session.
//
// Nothing is cached but the names of users known to exist: in particular a
// group's members (Directory.GroupMembers) are read from the database on
// every call, since any node may change them (see directory.go). An account's
// row is never removed (a deleted one keeps its name), and DeleteUser
// forgets the name on its node; another node that cached it takes it for
// an account until it restarts (see DeleteUser).
package postgres
