package testenv

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// CassandraHosts are the Cassandra nodes in PARLEY_TEST_CASSANDRA_HOSTS
// (comma-separated host:port). Without it, or when the first node does not
// accept connections, the test is skipped, or fails in CI.
func CassandraHosts(t testing.TB) []string {
	t.Helper()
	v := ServiceURL(t, "PARLEY_TEST_CASSANDRA_HOSTS")
	hosts := strings.Split(v, ",")
	addr := hosts[0]
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "9042")
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PARLEY_TEST_CASSANDRA_HOSTS=%s is unreachable: %v", v, err)
		}
		skip(t, "PARLEY_TEST_CASSANDRA_HOSTS", fmt.Sprintf("PARLEY_TEST_CASSANDRA_HOSTS=%s is unreachable: %v", v, err))
	}
	c.Close()
	return hosts
}

// FreshKeyspace names a keyspace of the test's own, which does not exist
// yet (the store creates it) and is dropped when the test ends.
func FreshKeyspace(t testing.TB, hosts []string) string {
	t.Helper()
	name := "parley_test_" + RandomHex(6)
	t.Cleanup(func() {
		c := gocql.NewCluster(hosts...)
		c.Timeout, c.ConnectTimeout = 60*time.Second, 10*time.Second
		s, err := c.CreateSession()
		if err != nil {
			t.Errorf("dropping keyspace %s: %v", name, err)
			return
		}
		defer s.Close()
		if err := s.Query("DROP KEYSPACE IF EXISTS " + name).Exec(); err != nil {
			t.Errorf("dropping keyspace %s: %v", name, err)
		}
	})
	return name
}
