package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/parley-chat/parley"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures a DB. The zero value of every field but URL is usable.
type Config struct {
	// URL is the server's connection string, as a URL
	// (postgres://user:password@host:5432/parley?sslmode=require) or in
	// libpq's key=value form.
	URL string
	// MaxConns bounds the connection pool (default: pgxpool's, the larger
	// of 4 and the number of CPUs).
	MaxConns int32
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// DB is the PostgreSQL store. It implements parley.Store.
type DB struct {
	pool *pgxpool.Pool
	now  func() time.Time
	// users: DeleteUser forgets the name on this node only; another node
	// that knew it goes on taking it for an account until it restarts.
	users parley.KnownNames
}

var _ parley.Store = (*DB)(nil)

// Open connects to the database at cfg.URL and applies the embedded
// migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.URL == "" {
		return nil, errors.New("postgres: no URL")
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	db := &DB{now: cfg.Now}
	if db.now == nil {
		db.now = time.Now
	}
	if db.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, db.pool, db.now()); err != nil {
		db.pool.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies the embedded migrations to the database at url, as Open
// does, and disconnects.
func Migrate(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate(ctx, conn, time.Now())
}

// migrateLock is the key of the transaction-level advisory lock that
// serializes migrations between nodes ("parley" in ASCII).
const migrateLock = 0x7061726c6579

// migrate applies, in name order, every embedded migration whose version is
// not yet recorded in schema_migrations, all in one transaction under
// migrateLock: a node that starts while another migrates waits for it and
// then finds nothing left to do. (A migration that cannot run in a
// transaction, such as CREATE INDEX CONCURRENTLY, needs another mechanism.)
func migrate(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, now time.Time) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	sort.Strings(names)
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    text PRIMARY KEY,
			applied_at timestamptz NOT NULL)`); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, name := range names {
			version := strings.TrimSuffix(path.Base(name), ".sql")
			if slices.Contains(applied, version) {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", version, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, version, ts(now)); err != nil {
				return fmt.Errorf("%s: %w", version, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// tx runs fn in a transaction, committing if fn returns nil and rolling
// back otherwise.
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes every connection of the pool, waiting for those in use.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// PostgreSQL error codes this package acts on.
const (
	uniqueViolation      = "23505"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool { return pgCode(err) == uniqueViolation }

// ts is how a time is stored: to the millisecond, as the wire carries it.
func ts(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

// nullTime reads a nullable timestamptz; NULL is the zero time.
func nullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
