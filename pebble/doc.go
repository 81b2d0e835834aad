// Package pebble is Parley's embedded message log: messages, idempotency
// keys, delivery cursors, each conversation's last seq and each user's list
// of one-to-one chats, kept in a Pebble database (a log-structured merge
// tree) in the data directory. Accounts and groups stay in the sqlite
// package; parley.Split puts the two together.
//
// Why an LSM: a batch of messages spread over hundreds of conversations
// dirties a B-tree page per conversation, so the bytes written per message
// grow with the history; in an LSM a batch is one sequential write to the
// write-ahead log and a memtable, and compactions rewrite data in the
// background at a cost that does not depend on how much is stored.
//
// Keys (every string is length-prefixed, so no key is a prefix of another
// kind's):
//
//	m <conv> <seq:8 BE>     an entry: created (ms), id, sender, client id, content
//	i <sender> <clientId>   idempotency: the conv and seq stored under it
//	c <user> <conv>         a delivery cursor (8 BE)
//	r <user> <conv>         a read position (8 BE)
//	s <conv>                the conversation's last seq (8 BE)
//	u <user> <peer>         one of user's one-to-one chats
//	z counts                messages and chats stored (8 BE each)
//	z import                how far an import from a legacy database got
//	z reads                 set once the cursors of a log written before read
//	                        positions existed were copied to read positions
//
// An entry of the timeline that is a plain message is stored in the
// format messages had before the timeline; any other (an edit, deletion or
// reaction, a reply, a message edited, deleted or reacted to) starts with
// 0xff and carries the timeline's fields before the content (keys.go). A
// message's record holds its current state, rewritten by each entry that
// acts on it, so history is read without replaying anything. A deletion
// empties the content of the message and its edits, then a background
// purge flushes the memtable and compacts the conversation's range, so
// that the old versions leave the tables too. Pebble keeps the
// write-ahead log file that held them for reuse, overwriting it when it
// is reused; it deletes it when the log is next opened.
//
// A conversation's messages are contiguous and ordered by seq, so a page of
// history is one range read. Every AppendMessages is one Pebble batch
// committed with Sync: SUCCESS follows only once the batch is on disk, and
// a crash leaves either the whole batch or none of it. One writer at a time
// (the hub's group commit) assigns seqs, so they have no gaps.
package pebble
