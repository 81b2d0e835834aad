package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/cassandra"
	parleyhttp "github.com/parley-chat/parley/http"
	"github.com/parley-chat/parley/pebble"
	"github.com/parley-chat/parley/postgres"
	"github.com/parley-chat/parley/sqlite"
)

// openStore opens the configured store, applying its migrations:
// PostgreSQL when a URL is given (with the messages in Cassandra when
// hosts are given too), else the embedded default, accounts in
// DATA_DIR/parley.db (SQLite) and messages in DATA_DIR/messages (Pebble).
// A data directory whose parley.db still holds messages (written by a
// release before the message log) is imported into the log first.
//
// Only one process can hold the message log. A command (forCommand) that
// finds it held by a running server still opens the accounts; whatever
// needs messages then fails with an error that says so.
func openStore(ctx context.Context, cfg Config, logger *slog.Logger, forCommand bool) (parley.Store, *embedded, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating the data directory: %w", err)
	}
	if cfg.CassandraHosts != "" {
		s, err := openCluster(ctx, cfg, logger)
		return s, nil, err
	}
	if cfg.PostgresURL != "" {
		s, err := postgres.Open(ctx, postgres.Config{URL: cfg.PostgresURL})
		return s, nil, err
	}
	accounts, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(cfg.DataDir, "parley.db"), Synchronous: cfg.SQLiteSync})
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(cfg.DataDir, "messages")
	log, err := pebble.Open(dir, pebble.Options{Logger: logger, MemTableBytes: uint64(max(cfg.MemTableBytes, 0))})
	if err != nil && isLocked(err) {
		if forCommand {
			return parley.Split(accounts, busyLog{dir}), nil, nil
		}
		err = fmt.Errorf("the message log %s is in use by another parleyd: %w", dir, err)
	}
	if err != nil {
		accounts.Close()
		return nil, nil, err
	}
	if err := importLegacy(ctx, accounts, log, logger); err != nil {
		log.Close()
		accounts.Close()
		return nil, nil, fmt.Errorf("importing the messages of parley.db: %w", err)
	}
	e := &embedded{
		backup: func(ctx context.Context, dest string) error {
			return backupDataDir(ctx, cfg.DataDir, dest, accounts, log)
		},
		logStats: log.Stats,
	}
	return parley.Split(accounts, log), e, nil
}

// openCluster opens PostgreSQL as the account store and Cassandra as the
// message log, applying both stores' migrations; each serializes its own
// between nodes that start at once (PostgreSQL with an advisory lock,
// Cassandra with a lock row written by a conditional insert).
func openCluster(ctx context.Context, cfg Config, logger *slog.Logger) (parley.Store, error) {
	accounts, err := postgres.Open(ctx, postgres.Config{URL: cfg.PostgresURL})
	if err != nil {
		return nil, err
	}
	log, err := cassandra.Open(ctx, cassandra.Config{
		Hosts:       cfg.cassandraHosts(),
		Keyspace:    cfg.CassandraKeyspace,
		Consistency: cfg.CassandraConsistency,
		Replication: cfg.CassandraReplication,
		Logger:      logger,
	})
	if err != nil {
		accounts.Close()
		return nil, err
	}
	return &clusterStore{Store: parley.Split(accounts, log), accounts: accounts, log: log}, nil
}

// clusterStore is a Split of PostgreSQL and Cassandra that can check each
// apart, so that /health names the one that is down.
type clusterStore struct {
	parley.Store
	accounts *postgres.DB
	log      *cassandra.DB
}

// healthChecks are the checks of /health and /ready for the store: one for
// the whole store, or one per service for a cluster's.
func healthChecks(s parley.Store) []parleyhttp.Check {
	if c, ok := s.(*clusterStore); ok {
		return []parleyhttp.Check{{Name: "store", Fn: c.accounts.Ping}, {Name: "cassandra", Fn: c.log.Ping}}
	}
	return []parleyhttp.Check{{Name: "store", Fn: s.Ping}}
}

// embedded is what only the embedded stores offer, beside parley.Store.
type embedded struct {
	// backup writes a copy of the data directory into dest.
	backup backupFunc
	// logStats reads the message log's figures alone, for the metrics.
	logStats func(context.Context) (*parley.LogStats, error)
}

// backupFunc writes a copy of the embedded data directory into dest.
type backupFunc func(ctx context.Context, dest string) error

// backupDataDir writes a data directory that parleyd can start from into
// dest, which must not exist: a copy of parley.db, a checkpoint of the
// message log and the JWT secret. Each store's copy is consistent in
// itself; taken a moment apart, the accounts may be a moment newer than
// the messages (a message's sender always exists in them, since a
// deleted account keeps its row).
func backupDataDir(ctx context.Context, dataDir, dest string, accounts *sqlite.DB, log *pebble.Log) error {
	if _, err := os.Stat(dest); err == nil {
		return parley.Errorf(parley.ECONFLICT, "backup directory %s exists", dest)
	}
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := log.Backup(filepath.Join(dest, "messages")); err != nil {
		return err
	}
	if err := accounts.Backup(ctx, filepath.Join(dest, "parley.db")); err != nil {
		return err
	}
	secret, err := os.ReadFile(filepath.Join(dataDir, "jwt-secret"))
	if err == nil {
		err = os.WriteFile(filepath.Join(dest, "jwt-secret"), secret, 0o600)
	} else if errors.Is(err, os.ErrNotExist) {
		err = nil // the secret is given by flag or environment
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func isLocked(err error) bool {
	s := err.Error()
	return strings.Contains(s, "lock held") || strings.Contains(s, "resource temporarily unavailable")
}

// importBatch is how many messages one step of an import stores.
const importBatch = 10000

// importLegacy copies the messages, cursors and chats of a parley.db
// written before the message log into the log, then drops them from
// parley.db. It resumes where a killed import stopped (the log records its
// position in the batch that stores each step) and stores nothing twice.
func importLegacy(ctx context.Context, accounts *sqlite.DB, log *pebble.Log, logger *slog.Logger) error {
	legacy, err := accounts.HasLegacyMessages(ctx)
	if err != nil || !legacy {
		return err
	}
	done, conv, seq, err := log.ImportState(ctx)
	if err != nil {
		return err
	}
	if !done {
		total, err := accounts.LegacyMessageCount(ctx)
		if err != nil {
			return err
		}
		start := time.Now()
		if total > 0 {
			logger.Info("importing messages from parley.db into the message log", "messages", total, "resuming_after", conv+"/"+fmt.Sprint(seq))
		}
		var n int64
		for {
			msgs, err := accounts.LegacyMessages(ctx, conv, seq, importBatch)
			if err != nil {
				return err
			}
			if len(msgs) == 0 {
				break
			}
			if err := log.ImportMessages(ctx, msgs); err != nil {
				return err
			}
			n += int64(len(msgs))
			last := msgs[len(msgs)-1]
			conv, seq = last.Conv, last.Seq
			logger.Info("import progress", "imported", n, "of", total)
		}
		cursors, err := accounts.LegacyCursors(ctx)
		if err != nil {
			return err
		}
		if err := log.FinishImport(ctx, cursors); err != nil {
			return err
		}
		if total > 0 {
			logger.Info("imported messages from parley.db", "messages", n, "cursors", len(cursors), "duration", time.Since(start).String())
		}
	}
	return accounts.DropLegacyMessages(ctx)
}

// busyLog stands for a message log that a running server holds: each of
// its methods fails and says so.
type busyLog struct{ dir string }

func (b busyLog) err() error {
	return parley.Errorf(parley.EUNAVAILABLE, "the message log %s is in use by a running parleyd: stop it to run this command", b.dir)
}

func (b busyLog) AppendMessages(context.Context, []*parley.Append) error { return b.err() }
func (b busyLog) History(context.Context, string, parley.Page) ([]parley.Message, bool, error) {
	return nil, false, b.err()
}
func (b busyLog) Undelivered(context.Context, string, string, int64, int) ([]parley.Message, error) {
	return nil, b.err()
}
func (b busyLog) Ack(context.Context, []parley.Cursor) error      { return b.err() }
func (b busyLog) MarkRead(context.Context, []parley.Cursor) error { return b.err() }
func (b busyLog) ReadPositions(context.Context, string, []string) ([]int64, error) {
	return nil, b.err()
}
func (b busyLog) Contacts(context.Context, string) ([]string, error) { return nil, b.err() }
func (b busyLog) LastSeq(context.Context, string) (int64, error)     { return 0, b.err() }
func (b busyLog) Stats(context.Context) (*parley.LogStats, error)    { return nil, b.err() }
func (b busyLog) Ping(context.Context) error                         { return b.err() }
func (b busyLog) Close() error                                       { return nil }
func (b busyLog) Inbox(context.Context, string, []parley.GroupSummary) (*parley.Inbox, error) {
	return nil, b.err()
}

func (b busyLog) EraseSender(context.Context, string, []string) (int64, error) {
	return 0, b.err()
}

var _ parley.MessageLog = busyLog{}

// errBusy reports whether err is a busyLog's.
func errBusy(err error) bool {
	var e *parley.Error
	return errors.As(err, &e) && strings.Contains(err.Error(), "in use by a running parleyd")
}
