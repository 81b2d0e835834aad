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
//	m <conv> <seq:8 BE>     a message: created (ms), id, sender, client id, content
//	i <sender> <clientId>   idempotency: the conv and seq stored under it
//	c <user> <conv>         a delivery cursor (8 BE)
//	s <conv>                the conversation's last seq (8 BE)
//	u <user> <peer>         one of user's one-to-one chats
//	z counts                messages and chats stored (8 BE each)
//	z import                how far an import from a legacy database got
//
// A conversation's messages are contiguous and ordered by seq, so a page of
// history is one range read. Every AppendMessages is one Pebble batch
// committed with Sync: SUCCESS follows only once the batch is on disk, and
// a crash leaves either the whole batch or none of it. One writer at a time
// (the hub's group commit) assigns seqs, so they have no gaps.
package pebble
