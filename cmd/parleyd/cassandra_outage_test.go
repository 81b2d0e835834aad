package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testenv"
)

// privateCassandra is a Cassandra node of the test's own, started by
// deploy/cassandra/cassandra.sh on 127.0.0.1 with its own CQL and storage
// ports (the shared node has 9042 and 7000), so that it can be killed.
type privateCassandra struct {
	t             *testing.T
	dir           string
	port, storage int
	script, addr  string
}

func startPrivateCassandra(t *testing.T) *privateCassandra {
	t.Helper()
	testenv.CassandraHosts(t) // Cassandra tests are enabled
	need(t, "bash")
	script, err := filepath.Abs("../../deploy/cassandra/cassandra.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "parley-cassandra-")
	if err != nil {
		t.Fatal(err)
	}
	c := &privateCassandra{t: t, dir: dir, port: freePort(t), storage: freePort(t), script: script}
	c.addr = "127.0.0.1:" + strconv.Itoa(c.port)
	t.Cleanup(func() {
		c.kill()
		os.RemoveAll(dir)
	})
	c.start()
	return c
}

// start starts the node and returns once it answers CQL.
func (c *privateCassandra) start() {
	c.t.Helper()
	began := time.Now()
	cmd := exec.Command("bash", c.script, "start", c.dir, "127.0.0.1", strconv.Itoa(c.port))
	cmd.Env = append(os.Environ(), "PARLEY_CASSANDRA_STORAGE_PORT="+strconv.Itoa(c.storage), "PARLEY_CASSANDRA_HEAP=512M")
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("starting a private Cassandra: %v\n%s", err, out)
	}
	c.t.Logf("private Cassandra on %s answered CQL after %v", c.addr, time.Since(began).Round(ms))
}

// kill stops the node with SIGKILL, as a crash would.
func (c *privateCassandra) kill() {
	b, err := os.ReadFile(filepath.Join(c.dir, "cassandra.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(50 * ms)
	}
	os.Remove(filepath.Join(c.dir, "cassandra.pid"))
}

// TestCassandraOutage kills the Cassandra node under a node of a cluster
// while a user sends a stream of messages, and starts it again. Sends are
// answered ERROR unavailable meanwhile and succeed when sent again once it
// is back; nothing answered SUCCESS is lost; /health says Cassandra, not
// PostgreSQL, is down.
func TestCassandraOutage(t *testing.T) {
	cs := startPrivateCassandra(t)
	db := testenv.FreshDatabase(t)
	s := startServer(t, func(c *Config) {
		c.PostgresURL, c.CassandraHosts, c.CassandraKeyspace = db, cs.addr, "parley_outage"
	})
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	got := collect(t, cb)

	stop := make(chan struct{})
	st := runStream(t, ca, bob.name, stop)
	time.Sleep(time.Second)
	before := len(st.sent())
	cs.kill()
	down := time.Now()
	until(t, 15*time.Second, "/health reporting Cassandra down", func() bool {
		code, checks := healthOf(s)
		return code == http.StatusServiceUnavailable && checks["cassandra"] == "unavailable" && checks["store"] == "ok"
	})
	noticed := time.Since(down)
	time.Sleep(2 * time.Second)
	cs.start()
	up := time.Now()
	until(t, 30*time.Second, "/health reporting Cassandra back", func() bool {
		code, _ := healthOf(s)
		return code == http.StatusOK
	})
	healthy := time.Since(up)
	afterUp := len(st.sent())
	until(t, 30*time.Second, "sends succeeding again", func() bool { return len(st.sent()) > afterUp+10 })
	close(stop)
	time.Sleep(100 * ms)

	sent := st.sent()
	last := got.waitAll(t, sent)
	st.mu.Lock()
	defer st.mu.Unlock()
	t.Logf("Cassandra down %v (killed, then restarted): %d messages stored before, %d in all, errors meanwhile %v, "+
		"longest send (with retries) %v; /health said so after %v and recovered %v after the restart; "+
		"last delivery %v after the restart (%d duplicates)",
		up.Sub(down).Round(ms), before, len(sent), st.errors, st.maxWait.Round(ms), noticed.Round(ms), healthy.Round(ms),
		last.Sub(up).Round(ms), got.dups)
	if st.errors["unavailable"] == 0 {
		t.Fatalf("no send was refused while Cassandra was down: %v", st.errors)
	}
	for code := range st.errors {
		if code != "unavailable" {
			t.Fatalf("sends failed with %q: %v", code, st.errors)
		}
	}
}
