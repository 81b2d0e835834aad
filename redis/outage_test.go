package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/testenv"
	"github.com/parley-chat/parley/redis"
)

// server is a private redis-server that a test may kill and restart.
type server struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

func startServer(t testing.TB) *server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, port: l.Addr().(*net.TCPAddr).Port}
	l.Close()
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *server) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	eventually(s.t, 5*time.Second, "redis-server answering", func() bool { return testenv.PingRedis(s.url()) == nil })
}

func (s *server) kill() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// TestOutage kills Redis under two nodes and starts it again, empty: the
// nodes keep working without it, then catch up.
func TestOutage(t *testing.T) {
	testenv.RedisURL(t) // Redis tests are enabled
	srv := startServer(t)
	url := srv.url()
	ctx := context.Background()
	a := openNode(t, url, "parley:", nil)
	b := openNode(t, url, "parley:", nil)
	must(t, b.Subscribe(ctx, "bob"))
	connect(t, a, "alice", true)
	connect(t, a, "carol", true)
	must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob"}, Frame: []byte(`"before"`)}))
	if got := b.event(t); string(got.Frame) != `"before"` {
		t.Fatalf("got %s", got.Frame)
	}

	srv.kill()

	// Nothing blocks: publishes are dropped, presence calls fail fast
	// (at worst one call timeout while the outage is discovered).
	start := time.Now()
	for range 1000 {
		must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob"}, Frame: []byte(`"lost"`)}))
	}
	took := time.Since(start)
	// A deadline of the contract, not a speed (benchmarks measure speed):
	// publishes that waited for the dead Redis would take a call timeout
	// each, seconds for a thousand.
	if took > 2*time.Second {
		t.Fatalf("1000 publishes took %v during the outage", took)
	}
	t.Logf("1000 publishes took %v during the outage", took.Round(time.Microsecond))
	timed := func(what string, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		took := time.Since(start)
		if took > time.Second {
			t.Fatalf("%s took %v during the outage", what, took)
		}
		t.Logf("%s failed in %v during the outage: %v", what, took.Round(time.Microsecond), err)
		if err == nil {
			t.Fatalf("%s succeeded during the outage", what)
		}
	}
	timed("Connect", func() error { _, err := a.Connect(ctx, "dave"); return err })
	timed("Disconnect", func() error { _, err := a.Disconnect(ctx, "carol", time.Now()); return err })
	timed("Subscribe", func() error { return b.Subscribe(ctx, "erin") })
	timed("Online", func() error { _, err := b.Online(ctx, []string{"alice"}); return err })
	timed("Ping", func() error { return a.Ping(ctx) })
	eventually(t, 2*time.Second, "a notices the outage", a.Down)
	start = time.Now()
	for range 100 {
		if _, err := a.Connect(ctx, "frank"); !errors.Is(err, redis.ErrUnavailable) {
			t.Fatalf("Connect during the outage: %v", err)
		}
		if !a.Limiter(1, 1).Allow("frank") {
			t.Fatalf("limiter refused during the outage")
		}
	}
	if took := time.Since(start); took > 2*time.Second { // as above: none may wait for Redis
		t.Fatalf("100 Connect and Allow calls took %v once the outage was known", took)
	}
	for range 99 {
		a.Disconnect(ctx, "frank", time.Now())
	}
	eventually(t, time.Second, "1000 events counted dropped", func() bool { return a.Stats().Dropped >= 1000 })
	for len(b.reconnects) > 0 {
		<-b.reconnects
	}

	time.Sleep(300 * time.Millisecond)
	// Redis comes back empty: no leases, no presence.
	srv.start()
	restarted := time.Now()

	// b's subscription comes back and says so.
	select {
	case <-b.reconnects:
		t.Logf("b reconnected %v after Redis restarted", time.Since(restarted).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatalf("OnReconnect not called within 5s of Redis restarting")
	}
	// The bus works again, erin's subscription included.
	eventually(t, 2*time.Second, "a publishing again", func() bool { return !a.Down() })
	t.Logf("a publishing again %v after Redis restarted", time.Since(restarted).Round(time.Millisecond))
	must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob", "erin"}, Frame: []byte(`"after"`)}))
	got := map[string]string{}
	for range 2 {
		ev := b.event(t)
		got[ev.Users[0]] = string(ev.Frame)
	}
	if got["bob"] != `"after"` || got["erin"] != `"after"` {
		t.Fatalf("after the outage got %v", got)
	}

	// a writes its presence again: alice, dave and frank are online
	// (announced through OnOnline, since nobody heard of dave and frank,
	// and Redis forgot alice), carol is not.
	eventually(t, 2*time.Second, "presence restored", func() bool {
		on, err := b.Online(ctx, []string{"alice", "carol", "dave", "frank"})
		return err == nil && on[0] && !on[1] && on[2] && on[3]
	})
	t.Logf("presence restored %v after Redis restarted", time.Since(restarted).Round(time.Millisecond))
	announced := map[string]bool{}
	for len(announced) < 3 {
		select {
		case u := <-a.online:
			announced[u] = true
		case <-time.After(2 * time.Second):
			t.Fatalf("announced online: %v, want alice, dave and frank", announced)
		}
	}
	if !announced["alice"] || !announced["dave"] || !announced["frank"] {
		t.Fatalf("announced online: %v", announced)
	}
	connect(t, a, "dave", false)
	disconnect(t, a, "dave", false)
	disconnect(t, a, "dave", true)
	if a.NodeID() == b.NodeID() {
		t.Fatalf("both nodes hold id %d", a.NodeID())
	}
	eventually(t, 2*time.Second, "a's Ping succeeding", func() bool { return a.Ping(ctx) == nil })
	t.Logf("a: %+v", a.Stats())
	t.Logf("b: %+v", b.Stats())
}
