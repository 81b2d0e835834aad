package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parley-chat/parley"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures a DB. The zero value of every field but Path is usable.
type Config struct {
	// Path of the database file; its directory must exist.
	Path string
	// Synchronous is SQLite's synchronous pragma: "FULL" (the default)
	// syncs the WAL on every commit and survives power loss; "NORMAL"
	// survives a crash of the process but not of the machine.
	Synchronous string
	// ReadConns is the size of the read pool (default 4).
	ReadConns int
	// CheckpointPages is how many pages the WAL may hold before a commit
	// copies what is left of them into the database file and the WAL
	// starts over (wal_autocheckpoint). Default
	// 10000 (40 MB): chat traffic rewrites the same pages (each
	// conversation's last page, the cursors), and a longer WAL copies
	// each of them once for many commits. Under 12,000 messages/s it
	// halved the median delivery latency against SQLite's 1000.
	CheckpointPages int
	// CheckpointEvery is how often a background connection copies what
	// the WAL holds into the database file while writes go on (a passive
	// checkpoint), so that the commit that reaches CheckpointPages finds
	// little left to copy and the commits queued behind it wait less.
	// Default 250ms; negative turns it off. Below saturation it shortens
	// the delivery tail (ladder phase 7: p99 22.6 -> 8.0 ms); it pauses
	// while the writer is saturated, where the copying would take CPU
	// from the commits (benchmark/RESULTS.md).
	CheckpointEvery time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// DB is the SQLite account store: users, sessions, groups and memberships.
// It implements parley.AccountStore; messages live in a parley.MessageLog.
type DB struct {
	wmu sync.Mutex // serializes writes on w
	w   *sql.DB    // one connection
	r   *sql.DB    // read pool
	now func() time.Time

	// The background checkpointer: ckpt is its connection; busy, the
	// time spent in write transactions, tells it whether the writer wrote
	// and how saturated it was.
	ckpt *sql.DB
	busy atomic.Int64 // nanoseconds

	// writeFailed is when the last write failed for want of disk (a
	// full or failing disk), 0 once a write succeeds again; Ping reports
	// the store unavailable meanwhile.
	writeFailed atomic.Int64 // unix nanoseconds
	stopCkpt    chan struct{}
	ckptDone    chan struct{}

	users   parley.KnownNames
	members memberCache
}

// Open opens (creating if needed) the database at cfg.Path and applies the
// embedded migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Path == "" {
		return nil, errors.New("sqlite: no path")
	}
	sync := strings.ToUpper(cfg.Synchronous)
	switch sync {
	case "":
		sync = "FULL"
	case "FULL", "NORMAL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlite: synchronous must be FULL, NORMAL or EXTRA, not %q", cfg.Synchronous)
	}
	if cfg.ReadConns <= 0 {
		cfg.ReadConns = 4
	}
	if cfg.CheckpointPages <= 0 {
		cfg.CheckpointPages = 10000
	}
	db := &DB{now: cfg.Now}
	if db.now == nil {
		db.now = time.Now
	}
	var err error
	if db.w, err = openPool(cfg.Path, sync, 1, cfg.CheckpointPages); err != nil {
		return nil, err
	}
	if db.r, err = openPool(cfg.Path, sync, cfg.ReadConns, cfg.CheckpointPages); err != nil {
		db.w.Close()
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = 250 * time.Millisecond
	}
	if cfg.CheckpointEvery > 0 {
		if db.ckpt, err = openPool(cfg.Path, sync, 1, cfg.CheckpointPages); err != nil {
			db.Close()
			return nil, err
		}
		db.stopCkpt, db.ckptDone = make(chan struct{}), make(chan struct{})
		go db.checkpointLoop(cfg.CheckpointEvery)
	}
	return db, nil
}

// checkpointMaxBusy is the share of the last interval the writer may have
// spent in transactions for the background checkpoint to run. A writer
// busier than that is saturated: there the copying's CPU is better spent
// on the commits themselves, and the writer's own checkpoint does it
// instead. At 2.4 times a server's group fan-out capacity, checkpointing
// regardless delivered 50,925 instead of 59,387 deliveries/s.
const checkpointMaxBusy = 0.7

// checkpointLoop copies the WAL into the database file in the background
// after each interval in which something was written, unless the writer
// was saturated. A passive checkpoint waits for no one: the committer goes
// on appending to the WAL meanwhile. The WAL starts over only after a
// checkpoint that copied all of it, which is the committer's own at
// CheckpointPages, with just the last interval's pages left to copy.
func (db *DB) checkpointLoop(every time.Duration) {
	defer close(db.ckptDone)
	t := time.NewTicker(every)
	defer t.Stop()
	lastBusy, lastAt := db.busy.Load(), time.Now()
	pending := false // written since the last checkpoint
	for {
		select {
		case <-db.stopCkpt:
			return
		case <-t.C:
		}
		busy, now := db.busy.Load(), time.Now()
		share := float64(busy-lastBusy) / float64(now.Sub(lastAt))
		pending = pending || busy != lastBusy
		lastBusy, lastAt = busy, now
		if !pending || share > checkpointMaxBusy {
			continue
		}
		pending = false
		// A failure (a full disk, say) leaves the copying to the
		// committer's own checkpoint; the next write tries again.
		db.ckpt.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	}
}

func openPool(path, sync string, conns, checkpointPages int) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(" + sync + ")",
		"busy_timeout(10000)",
		"foreign_keys(ON)",
		"temp_store(MEMORY)",
		"cache_size(-32000)",
		"wal_autocheckpoint(" + strconv.Itoa(checkpointPages) + ")",
		// The WAL file is cut back to this after a checkpoint.
		"journal_size_limit(" + strconv.Itoa(checkpointPages*4096) + ")",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	pool, err := sql.Open("sqlite", "file:"+abs+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	pool.SetMaxOpenConns(conns)
	pool.SetMaxIdleConns(conns)
	pool.SetConnMaxLifetime(0)
	pool.SetConnMaxIdleTime(0)
	return pool, nil
}

// migrate applies, in name order, every embedded migration not yet recorded
// in schema_migrations, each in its own transaction.
func (db *DB) migrate(ctx context.Context) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		var n int
		if err := db.w.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		err = db.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, db.now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", name, err)
		}
	}
	return nil
}

// tx runs fn in a write transaction. The caller holds db.wmu.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	start := time.Now()
	defer func() { db.busy.Add(int64(time.Since(start))) }()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.noteWrite(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return db.noteWrite(err)
	}
	return db.noteWrite(tx.Commit())
}

// errNoDisk is what a write that failed for want of disk answers: a
// client may try again later.
var errNoDisk = parley.Errorf(parley.EUNAVAILABLE, "the server cannot store anything right now; try again later")

// noteWrite records the outcome of a write transaction and turns a disk
// failure (SQLITE_FULL, SQLITE_IOERR) into EUNAVAILABLE, keeping the cause
// for the log.
func (db *DB) noteWrite(err error) error {
	var e *sqlite.Error
	switch {
	case err == nil:
		db.writeFailed.Store(0)
		return nil
	case errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_FULL || e.Code()&0xff == sqlite3.SQLITE_IOERR):
		db.writeFailed.Store(time.Now().UnixNano())
		return fmt.Errorf("%w (sqlite: %w)", errNoDisk, err)
	default:
		return err
	}
}

// writeFailWindow is how long after a write failed for want of disk Ping
// reports the store unavailable, unless a write succeeds meanwhile.
const writeFailWindow = time.Minute

// write runs fn in a write transaction under the write lock.
func (db *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	return db.tx(ctx, fn)
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	ctx = noCancel(ctx)
	var one int
	if err := db.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	// Reads work on a full disk; writes do not.
	if at := db.writeFailed.Load(); at != 0 && time.Since(time.Unix(0, at)) < writeFailWindow {
		return fmt.Errorf("sqlite: ping: the last write failed: %w", errNoDisk)
	}
	return nil
}

// Close closes the database; the WAL is checkpointed by the last connection.
func (db *DB) Close() error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	var ckerr error
	if db.ckpt != nil {
		close(db.stopCkpt)
		<-db.ckptDone
		ckerr = db.ckpt.Close()
	}
	// A last checkpoint folds the WAL into the database file.
	_, cerr := db.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return errors.Join(cerr, ckerr, db.r.Close(), db.w.Close())
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		c := e.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// noCancel drops a context's cancellation. SQLite statements are short and
// local, and the driver watches a cancellable context with a goroutine per
// statement, which at thousands of statements a second costs more than it
// could ever save.
func noCancel(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// Backup writes a consistent copy of the database, as of one moment, to
// path, which must not exist (VACUUM INTO); writes go on meanwhile.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := db.r.ExecContext(noCancel(ctx), `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	return nil
}
