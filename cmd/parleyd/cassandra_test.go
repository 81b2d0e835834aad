package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/internal/testenv"
)

// TestCassandraConfig: Cassandra needs PostgreSQL for the accounts, says
// so, and every Cassandra setting is in -h.
func TestCassandraConfig(t *testing.T) {
	var stderr bytes.Buffer
	env := map[string]string{"PARLEY_CASSANDRA_HOSTS": "127.0.0.1:9042"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	_, err := parseConfig("parleyd", nil, lookup, &stderr)
	if err == nil || !strings.Contains(err.Error(), "PARLEY_POSTGRES_URL") {
		t.Fatalf("Cassandra without PostgreSQL: got %v, want an error naming PARLEY_POSTGRES_URL", err)
	}
	env["PARLEY_POSTGRES_URL"] = "postgres://x"
	env["PARLEY_CASSANDRA_HOSTS"] = " , "
	if _, err := parseConfig("parleyd", nil, lookup, &stderr); err == nil {
		t.Fatal("PARLEY_CASSANDRA_HOSTS without a host was accepted")
	}
	env["PARLEY_CASSANDRA_HOSTS"] = "a:9042, b"
	cfg, err := parseConfig("parleyd", nil, lookup, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.cassandraHosts(); len(h) != 2 || h[0] != "a:9042" || h[1] != "b" {
		t.Fatalf("hosts: got %q", h)
	}
	if cfg.CassandraKeyspace != "parley" || cfg.CassandraConsistency != "LOCAL_QUORUM" {
		t.Fatalf("defaults: keyspace %q, consistency %q", cfg.CassandraKeyspace, cfg.CassandraConsistency)
	}
	stderr.Reset()
	parseConfig("parleyd", []string{"-h"}, func(string) (string, bool) { return "", false }, &stderr)
	for _, f := range []string{"-cassandra-hosts", "-cassandra-keyspace", "-cassandra-consistency", "-cassandra-replication"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("parleyd -h does not list %s", f)
		}
	}
}

// TestCassandraMigrate: three `parleyd migrate` at once on an empty
// database and keyspace apply every PostgreSQL and Cassandra migration
// once, and a server then starts on them.
func TestCassandraMigrate(t *testing.T) {
	hosts := testenv.CassandraHosts(t)
	ks := testenv.FreshKeyspace(t, hosts)
	db := testenv.FreshDatabase(t)
	env := map[string]string{
		"PARLEY_DATA_DIR":           t.TempDir(),
		"PARLEY_POSTGRES_URL":       db,
		"PARLEY_CASSANDRA_HOSTS":    strings.Join(hosts, ","),
		"PARLEY_CASSANDRA_KEYSPACE": ks,
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			var out, errb bytes.Buffer
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			if err := run(context.Background(), []string{"migrate"}, lookup, &out, &errb); err != nil {
				t.Errorf("parleyd migrate: %v\n%s", err, errb.String())
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	c := gocql.NewCluster(hosts...)
	c.Keyspace, c.Timeout = ks, 30*time.Second
	s, err := c.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.Query(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir("../../cassandra/migrations")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Fatalf("Cassandra schema_migrations: %d rows, want %d", n, len(files))
	}

	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir("../../postgres/migrations"); n != len(files) {
		t.Fatalf("PostgreSQL schema_migrations: %d rows, want %d", n, len(files))
	}

	srv := startServer(t, func(cfg *Config) {
		cfg.PostgresURL, cfg.CassandraHosts, cfg.CassandraKeyspace = db, env["PARLEY_CASSANDRA_HOSTS"], ks
	})
	alice, bob := srv.newUser("alice"), srv.newUser("bob")
	ca, _, _ := srv.chat(alice)
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "k1", "to": bob.name, "content": "on cassandra"})
	if ok := ca.expect("SUCCESS"); ok.Seq != 1 {
		t.Fatalf("first message: %s", ok.Raw)
	}
	if _, _, offline := srv.chat(bob); len(offline) != 1 || offline[0].Content != "on cassandra" {
		t.Fatalf("bob's offline messages: %v", offline)
	}
}
