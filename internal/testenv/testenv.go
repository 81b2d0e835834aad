// Package testenv gives tests the PostgreSQL and Redis servers they run
// against. Their addresses come from PARLEY_TEST_POSTGRES_URL and
// PARLEY_TEST_REDIS_URL; without them a test is skipped on a laptop and
// fails in CI (CI set), where it must run. Each test gets a database or a
// Redis key prefix of its own, removed when it ends.
//
// A package with such tests calls Main from its TestMain, so that a run
// that skipped them says so, and names the variable that would run them.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// Example values of the variables, as Main suggests them: the servers
// .ci/services starts.
var examples = map[string]string{
	"PARLEY_TEST_POSTGRES_URL":    "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
	"PARLEY_TEST_REDIS_URL":       "redis://127.0.0.1:6379/0",
	"PARLEY_TEST_CASSANDRA_HOSTS": "127.0.0.1:9042",
}

var (
	mu      sync.Mutex
	skipped = map[string]string{} // variable -> why
)

// skip skips t for want of the service env names, and remembers it for
// Main.
func skip(t testing.TB, env, why string) {
	t.Helper()
	mu.Lock()
	skipped[env] = why
	mu.Unlock()
	uncached()
	t.Skip(why)
}

// uncached keeps go test from caching a run that skipped tests, so that
// the next "go test ./..." runs them again and prints Main's note rather
// than replaying the run without it (go test replays only the output it
// hides anyway). go test does not cache the result of a test binary that
// read a file of the module written within the last few seconds, so
// uncached rewrites and reads .testenv-skipped at the module's root (git
// ignores it). A run that skipped nothing takes milliseconds, so not
// caching it costs nothing.
func uncached() {
	dir, err := os.Getwd()
	if err != nil {
		return
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return
		}
		dir = parent
	}
	name := filepath.Join(dir, ".testenv-skipped")
	if err := os.WriteFile(name, []byte("written by tests that skipped for want of PostgreSQL or Redis\n"), 0o644); err != nil {
		return
	}
	if f, err := os.Open(name); err == nil {
		f.Close()
	}
}

// Main runs the package's tests (call it from TestMain) and then, if any
// skipped for want of a service, prints one line naming the variable that
// would run them, e.g.
//
//	postgres: integration tests skipped; set PARLEY_TEST_POSTGRES_URL=postgres://... to run them
//
// go test ./... shows nothing of a package that passed, so the line goes
// to the terminal (/dev/tty) when there is one and the run is not -v, and
// to stderr otherwise.
func Main(m *testing.M, pkg string) {
	code := m.Run()
	mu.Lock()
	var lines []string
	for env, why := range skipped {
		if why != "" && !strings.HasSuffix(why, " is not set") {
			lines = append(lines, fmt.Sprintf("%s: integration tests skipped (%s); set %s to a reachable server to run them", pkg, why, env))
			continue
		}
		set := env
		if ex := examples[env]; ex != "" {
			set += "=" + ex
		}
		lines = append(lines, fmt.Sprintf("%s: integration tests skipped; set %s to run them", pkg, set))
	}
	mu.Unlock()
	sort.Strings(lines)
	if len(lines) > 0 {
		w := io.Writer(os.Stderr)
		if !testing.Verbose() {
			if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
				defer tty.Close()
				w = tty
			}
		}
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
	os.Exit(code)
}

// ServiceURL returns the address of a test service in the environment
// variable env, or skips the test (fails it in CI) without one; Main then
// names the variable. PostgresURL and RedisURL use it; a test of another
// service should too.
func ServiceURL(t testing.TB, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set in CI", env)
		}
		skip(t, env, env+" is not set")
	}
	return u
}

// PostgresURL is the PostgreSQL server's URL (or keyword/value string).
func PostgresURL(t testing.TB) string { return ServiceURL(t, "PARLEY_TEST_POSTGRES_URL") }

// RedisURL is the Redis server's URL. A server that does not answer skips
// the test, or fails it in CI.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := ServiceURL(t, "PARLEY_TEST_REDIS_URL")
	if err := PingRedis(u); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PARLEY_TEST_REDIS_URL=%s is unreachable: %v", u, err)
		}
		skip(t, "PARLEY_TEST_REDIS_URL", fmt.Sprintf("PARLEY_TEST_REDIS_URL=%s is unreachable: %v", u, err))
	}
	return u
}

// PingRedis returns nil once the Redis server at u answers, within 2 s.
func PingRedis(u string) error {
	opt, err := goredis.ParseURL(u)
	if err != nil {
		return err
	}
	opt.DialerRetries = 1
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err()
}

// RandomHex returns n random bytes in hex: names and secrets of a test's
// own.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// FreshDatabase creates an empty database on the PostgreSQL server, drops
// it when the test ends, and returns its URL.
func FreshDatabase(t testing.TB) string {
	t.Helper()
	server := PostgresURL(t)
	name := "parley_test_" + RandomHex(8)
	Exec(t, server, "CREATE DATABASE "+name)
	t.Cleanup(func() { Exec(t, server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	if strings.HasPrefix(server, "postgres://") || strings.HasPrefix(server, "postgresql://") {
		u, err := url.Parse(server)
		if err != nil {
			t.Fatalf("PostgreSQL URL: %v", err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return server + " dbname=" + name
}

// Exec runs one statement on the database at url.
func Exec(t testing.TB, url, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// RedisPrefix returns a key prefix of the test's own; its keys, and the
// rate limiter's keys under it, are deleted when the test ends.
func RedisPrefix(t testing.TB, redisURL string) string {
	t.Helper()
	prefix := "parley-test-" + RandomHex(6) + ":"
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("Redis URL: %v", err)
	}
	t.Cleanup(func() {
		rdb := goredis.NewClient(opt)
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
			iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
		}
	})
	return prefix
}
