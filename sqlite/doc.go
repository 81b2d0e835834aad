// Package sqlite is Parley's embedded store: one SQLite database file in WAL
// mode, through the pure-Go modernc.org/sqlite driver, so that parleyd needs
// no other service.
//
// Concurrency: SQLite allows one writer at a time, so every write goes
// through a single connection under DB.wmu; reads use a pool of connections
// that WAL lets run beside the writer. Message batches are committed in one
// transaction each (group commit), which is what makes durable sends fast.
package sqlite
