package cassandra

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/parley-chat/parley"
)

//go:embed migrations/*.cql
var migrations embed.FS

// Config says where the log lives. Zero values take the defaults named.
type Config struct {
	// Hosts are the contact points, "host" or "host:port" (port 9042).
	Hosts []string
	// Keyspace is created when missing (default "parley").
	Keyspace string
	// Replication is the replication map of a keyspace Open creates, as
	// CQL: default {'class': 'SimpleStrategy', 'replication_factor': 1}.
	// An existing keyspace keeps its own.
	Replication string
	// Consistency of reads and writes: default LOCAL_QUORUM. Conditional
	// writes use LOCAL_SERIAL for their Paxos rounds.
	Consistency string
	// Timeout bounds each request (default 10s, above Cassandra's own
	// write and read timeouts, so that Cassandra's answer is the one
	// seen); ConnectTimeout each connection attempt (default 5s).
	Timeout        time.Duration
	ConnectTimeout time.Duration
	// BucketSize is how many messages one partition of a conversation
	// holds (default 4096). It is fixed when the keyspace is created: a
	// later Open with another value uses the stored one.
	BucketSize int64
	// Lease is how long an idempotency claim protects a message still
	// being written (default 10s); see doc.go.
	Lease time.Duration
	// Parallel bounds the requests one batch has in flight (default 64).
	Parallel int
	// HeadCache is how many conversations' heads the append path keeps in
	// memory (default 100,000); see headCache.
	HeadCache int
	// Logger gets the failures of writes that follow a stored message
	// (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DB is a parley.MessageLog on Apache Cassandra.
type DB struct {
	s          *gocql.Session
	keyspace   string
	bucketSize int64
	lease      time.Duration
	parallel   int
	heads      *headCache
	log        *slog.Logger
	now        func() time.Time
}

var _ parley.MessageLog = (*DB)(nil)

var keyspaceName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,47}$`)

// Open connects, creates the keyspace when missing, applies the embedded
// migrations and reads the bucket size.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("cassandra: no hosts")
	}
	if cfg.Keyspace == "" {
		cfg.Keyspace = "parley"
	}
	if !keyspaceName.MatchString(cfg.Keyspace) {
		return nil, fmt.Errorf("cassandra: bad keyspace name %q", cfg.Keyspace)
	}
	if cfg.Replication == "" {
		cfg.Replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
	}
	cons := gocql.LocalQuorum
	if cfg.Consistency != "" {
		var err error
		if cons, err = gocql.ParseConsistencyWrapper(strings.ToUpper(cfg.Consistency)); err != nil {
			return nil, fmt.Errorf("cassandra: consistency: %w", err)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.BucketSize <= 0 {
		cfg.BucketSize = 4096
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Second
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 64
	}
	if cfg.HeadCache <= 0 {
		cfg.HeadCache = 100_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	// The keyspace and the migration tables, without a keyspace bound.
	boot, err := newSession(cfg, "", cons)
	if err != nil {
		return nil, err
	}
	err = createKeyspace(ctx, boot, cfg.Keyspace, cfg.Replication)
	boot.Close()
	if err != nil {
		return nil, err
	}
	s, err := newSession(cfg, cfg.Keyspace, cons)
	if err != nil {
		return nil, err
	}
	db := &DB{s: s, keyspace: cfg.Keyspace, lease: cfg.Lease, parallel: cfg.Parallel, heads: newHeadCache(cfg.HeadCache), log: cfg.Logger, now: cfg.Now}
	if err := db.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if db.bucketSize, err = db.setting(ctx, "bucket_size", cfg.BucketSize); err != nil {
		s.Close()
		return nil, err
	}
	return db, nil
}

func newSession(cfg Config, keyspace string, cons gocql.Consistency) (*gocql.Session, error) {
	c := gocql.NewCluster(cfg.Hosts...)
	c.Keyspace = keyspace
	c.Consistency = cons
	c.SerialConsistency = gocql.LocalSerial
	c.Timeout = cfg.Timeout
	c.ConnectTimeout = cfg.ConnectTimeout
	c.WriteTimeout = cfg.Timeout
	// Retried only when a statement is marked idempotent (the driver's
	// rule): reads and plain upserts are; conditional writes are not.
	c.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 2}
	c.MaxWaitSchemaAgreement = 60 * time.Second
	// A node marked down is tried again every second (the driver's default
	// is a minute), so that sends succeed again soon after an outage.
	c.ReconnectInterval = time.Second
	s, err := c.CreateSession()
	if err != nil {
		return nil, fail("connect", err)
	}
	return s, nil
}

func createKeyspace(ctx context.Context, s *gocql.Session, ks, replication string) error {
	stmts := []string{
		"CREATE KEYSPACE IF NOT EXISTS " + ks + " WITH replication = " + replication,
		"CREATE TABLE IF NOT EXISTS " + ks + ".schema_migrations (version int PRIMARY KEY, name text, applied_at timestamp)",
		"CREATE TABLE IF NOT EXISTS " + ks + ".schema_lock (name text PRIMARY KEY, owner text)",
		"CREATE TABLE IF NOT EXISTS " + ks + ".settings (name text PRIMARY KEY, value text)",
	}
	for _, q := range stmts {
		if err := s.Query(q).ExecContext(ctx); err != nil {
			return fail("create keyspace", err)
		}
	}
	return nil
}

// migrate applies the embedded migrations not yet recorded, under a lock
// (a conditional insert with a TTL) so that nodes starting at once apply
// them one at a time. Every statement is CREATE ... IF NOT EXISTS, so a
// node that died half-way leaves nothing another cannot finish.
func (db *DB) migrate(ctx context.Context) error {
	owner := randomHex(8)
	for {
		applied, err := db.s.Query(`INSERT INTO schema_lock (name, owner) VALUES ('migrate', ?) IF NOT EXISTS USING TTL 120`, owner).
			MapScanCASContext(ctx, map[string]any{})
		if err != nil {
			return fail("migrate: lock", err)
		}
		if applied {
			break
		}
		select {
		case <-ctx.Done():
			return fail("migrate: lock", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer db.s.Query(`DELETE FROM schema_lock WHERE name = 'migrate' IF owner = ?`, owner).ExecContext(context.WithoutCancel(ctx))

	done := map[int]bool{}
	iter := db.s.Query(`SELECT version FROM schema_migrations`).Idempotent(true).IterContext(ctx)
	var v int
	for iter.Scan(&v) {
		done[v] = true
	}
	if err := iter.Close(); err != nil {
		return fail("migrate: versions", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.cql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("cassandra: migration %s: no version number", base)
		}
		if done[version] {
			continue
		}
		text, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		for _, stmt := range splitStatements(string(text)) {
			if err := db.s.Query(stmt).ExecContext(ctx); err != nil {
				return fail("migrate: "+base, err)
			}
		}
		if err := db.s.Query(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			version, base, db.now()).ExecContext(ctx); err != nil {
			return fail("migrate: record "+base, err)
		}
	}
	return nil
}

// splitStatements cuts a migration into statements at semicolons that end
// a line, dropping "--" comment lines.
func splitStatements(text string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// setting stores def under name unless a value is stored, and returns the
// stored value.
func (db *DB) setting(ctx context.Context, name string, def int64) (int64, error) {
	row := map[string]any{}
	applied, err := db.s.Query(`INSERT INTO settings (name, value) VALUES (?, ?) IF NOT EXISTS`, name, strconv.FormatInt(def, 10)).
		MapScanCASContext(ctx, row)
	if err != nil {
		return 0, fail("setting "+name, err)
	}
	if applied {
		return def, nil
	}
	cur, _ := row["value"].(string)
	v, err := strconv.ParseInt(cur, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("cassandra: setting %s: bad stored value %q", name, cur)
	}
	return v, nil
}

// Close closes the session.
func (db *DB) Close() error {
	db.s.Close()
	return nil
}

// Ping asks a node for its version.
func (db *DB) Ping(ctx context.Context) error {
	var v string
	if err := db.s.Query(`SELECT release_version FROM system.local`).Idempotent(true).ScanContext(ctx, &v); err != nil {
		return fail("ping", err)
	}
	return nil
}

// Keyspace is the keyspace the log lives in.
func (db *DB) Keyspace() string { return db.keyspace }

// errUnavailable is what a client sees when Cassandra cannot answer.
var errUnavailable = parley.Errorf(parley.EUNAVAILABLE, "the message store is unavailable")

// fail wraps a driver error with the operation's name. Errors that mean
// Cassandra cannot answer now (no connection, not enough replicas, a
// timeout, overload) become EUNAVAILABLE, the driver's text kept for logs.
func fail(op string, err error) error {
	if unavailable(err) {
		return &unavailableError{op: op, cause: err}
	}
	return fmt.Errorf("cassandra: %s: %w", op, err)
}

type unavailableError struct {
	op    string
	cause error
}

func (e *unavailableError) Error() string {
	return "cassandra: " + e.op + ": unavailable: " + e.cause.Error()
}

// Unwrap gives both the domain error (for parley.ErrorCode) and the cause.
func (e *unavailableError) Unwrap() []error { return []error{errUnavailable, e.cause} }

func unavailable(err error) bool {
	var re gocql.RequestError
	if errors.As(err, &re) {
		switch re.Code() {
		case gocql.ErrCodeUnavailable, gocql.ErrCodeOverloaded, gocql.ErrCodeBootstrapping,
			gocql.ErrCodeWriteTimeout, gocql.ErrCodeReadTimeout, gocql.ErrCodeCASWriteUnknown,
			gocql.ErrCodeTruncate:
			return true
		}
		return false
	}
	return errors.Is(err, gocql.ErrNoConnections) || errors.Is(err, gocql.ErrNoConnectionsStarted) ||
		errors.Is(err, gocql.ErrTimeoutNoResponse) || errors.Is(err, gocql.ErrConnectionClosed) ||
		errors.Is(err, gocql.ErrNoStreams) ||
		errors.Is(err, gocql.ErrSessionClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errLeaseOver) || isNetError(err)
}

// isNetError reports a failure to reach any node: a network error, or the
// driver's failure to open a session, which it reports as text.
func isNetError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "unable to discover protocol version") || strings.Contains(s, "unable to create session")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
