// Package testenv gives tests the PostgreSQL and Redis servers they run
// against. Their addresses come from PARLEY_TEST_POSTGRES_URL and
// PARLEY_TEST_REDIS_URL; without them a test is skipped on a laptop and
// fails in CI (CI set), where it must run. Each test gets a database or a
// Redis key prefix of its own, removed when it ends.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// serviceURL returns the URL in the environment variable env, or skips
// (fails in CI) without one.
func serviceURL(t testing.TB, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set in CI", env)
		}
		t.Skipf("%s is not set", env)
	}
	return u
}

// PostgresURL is the PostgreSQL server's URL (or keyword/value string).
func PostgresURL(t testing.TB) string { return serviceURL(t, "PARLEY_TEST_POSTGRES_URL") }

// RedisURL is the Redis server's URL. A server that does not answer skips
// the test, or fails it in CI.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := serviceURL(t, "PARLEY_TEST_REDIS_URL")
	if err := PingRedis(u); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PARLEY_TEST_REDIS_URL=%s is unreachable: %v", u, err)
		}
		t.Skipf("PARLEY_TEST_REDIS_URL=%s is unreachable: %v", u, err)
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
