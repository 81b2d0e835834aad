package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testenv"
)

// The outage tests stop a private Redis or PostgreSQL (never the shared
// services) under a steady stream of messages and check that nothing is
// lost: every message answered with SUCCESS reaches its recipient, during
// the outage or once the service is back. They log what they measured.

// freePort returns a TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// need skips a test without a program (fails it in CI, where it must run).
func need(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed", path)
		}
		t.Skipf("%s is not installed", path)
	}
}

// privateRedis is a redis-server of the test's own.
type privateRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	need(t, "redis-server")
	r := &privateRedis{t: t, port: freePort(t)}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *privateRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	opt, _ := goredis.ParseURL(r.url())
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	until(r.t, 5*time.Second, "redis-server answering", func() bool {
		return rdb.Ping(context.Background()).Err() == nil
	})
}

func (r *privateRedis) stop() {
	if r.cmd != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// privatePostgres is a PostgreSQL cluster of the test's own, run as the
// postgres user when the test runs as root (initdb refuses root).
type privatePostgres struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cred *syscall.Credential
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		need(t, "initdb")
		bins = []string{"initdb"}
	}
	p := &privatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), port: freePort(t)}
	dir, err := os.MkdirTemp("", "parley-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := osuser.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p.run("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	p.start()
	t.Cleanup(func() { p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop") })
	return p
}

func (p *privatePostgres) data() string { return filepath.Join(p.dir, "data") }

func (p *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

func (p *privatePostgres) run(name string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func (p *privatePostgres) start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir)
	p.run("pg_ctl", "-D", p.data(), "-o", opts, "-l", filepath.Join(p.dir, "log"), "-w", "start")
}

// stop stops PostgreSQL the hard way: no checkpoint, connections cut.
func (p *privatePostgres) stop() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop")
}

// stream sends numbered messages from one connection to a user as a
// careful client does: one at a time, each sent again with the same id
// after an ERROR until it gets SUCCESS. It runs until stop is closed.
type stream struct {
	mu      sync.Mutex
	ok      map[string]time.Time // content -> when its SUCCESS came
	errors  map[string]int       // ERROR frames by code
	maxWait time.Duration        // longest send-to-SUCCESS, retries included
}

func runStream(t *testing.T, from *conn, to string, stop <-chan struct{}) *stream {
	s := &stream{ok: map[string]time.Time{}, errors: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * ms):
			}
			id := fmt.Sprintf("m%d", i)
			start := time.Now()
			for {
				if err := from.Send(obj{"type": "ONE_TO_ONE_CHAT", "id": id, "to": to, "content": id}); err != nil {
					t.Errorf("send %s: %v", id, err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				f, err := nextOf(ctx, from, "SUCCESS", "ERROR")
				cancel()
				if err != nil {
					t.Errorf("waiting for the answer to %s: %v", id, err)
					return
				}
				if f.Type == "SUCCESS" {
					s.mu.Lock()
					s.ok[id] = time.Now()
					s.maxWait = max(s.maxWait, time.Since(start))
					s.mu.Unlock()
					break
				}
				s.mu.Lock()
				s.errors[f.Code]++
				s.mu.Unlock()
				time.Sleep(50 * ms)
			}
		}
	}()
	t.Cleanup(func() { <-done })
	return s
}

// nextOf returns the next frame of one of the types, skipping others.
func nextOf(ctx context.Context, c *conn, types ...string) (client.Frame, error) {
	for {
		f, err := c.Next(ctx)
		if err != nil {
			return f, err
		}
		for _, typ := range types {
			if f.Type == typ {
				return f, nil
			}
		}
	}
}

func (s *stream) sent() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.ok))
	for k, v := range s.ok {
		out[k] = v
	}
	return out
}

// inbox collects what a connection receives, live or offline, by content.
type inbox struct {
	mu   sync.Mutex
	got  map[string]time.Time
	dups int
}

func collect(t *testing.T, c *conn) *inbox {
	in := &inbox{got: map[string]time.Time{}}
	go func() {
		for {
			f, err := c.Next(context.Background())
			if err != nil {
				return
			}
			if f.Type != "ONE_TO_ONE_CHAT" {
				continue
			}
			in.mu.Lock()
			if _, dup := in.got[f.Content]; dup {
				in.dups++
			} else {
				in.got[f.Content] = time.Now()
			}
			in.mu.Unlock()
		}
	}()
	return in
}

// waitAll waits until every sent message has been received and returns
// when the last of them came.
func (in *inbox) waitAll(t *testing.T, sent map[string]time.Time) time.Time {
	t.Helper()
	var last time.Time
	until(t, 15*time.Second, "every stored message delivered", func() bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		last = time.Time{}
		for id := range sent {
			at, ok := in.got[id]
			if !ok {
				return false
			}
			if at.After(last) {
				last = at
			}
		}
		return true
	})
	return last
}

// healthOf returns the status code and the checks of GET /health on the
// operators' listener.
func healthOf(s *testServer) (int, map[string]string) {
	resp, err := http.Get("http://" + s.Addr("metrics") + "/health")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Checks
}

// TestRedisOutage stops Redis under two nodes while a user on one sends a
// stream of messages to a user on the other, and starts it again, empty.
// Sends go on (the store does not need Redis); deliveries across nodes
// pause and catch up when Redis is back; nothing is lost; /health says
// Redis is down meanwhile.
func TestRedisOutage(t *testing.T) {
	rd := startPrivateRedis(t)
	db := testenv.FreshDatabase(t)
	secret := testenv.RandomHex(24)
	var nodes []*testServer
	for range 2 {
		nodes = append(nodes, startServer(t, func(c *Config) {
			c.PostgresURL, c.RedisURL, c.JWTSecret, c.PingInterval = db, rd.url(), secret, clusterPing
		}))
	}
	a, b := nodes[0], nodes[1]
	alice, bob := a.newUser("alice"), a.newUser("bob")
	ca, _, _ := a.chat(alice)
	cb, _, _ := b.chat(bob)
	got := collect(t, cb)

	stop := make(chan struct{})
	st := runStream(t, ca, bob.name, stop)
	time.Sleep(time.Second)
	before := len(st.sent())
	rd.stop()
	down := time.Now()
	until(t, 5*time.Second, "/health reporting Redis down", func() bool {
		code, checks := healthOf(a)
		return code == http.StatusServiceUnavailable && checks["redis"] == "unavailable" && checks["store"] == "ok"
	})
	noticed := time.Since(down)
	time.Sleep(2 * time.Second)
	during := len(st.sent()) - before
	rd.start()
	up := time.Now()
	until(t, 10*time.Second, "/health reporting Redis back", func() bool {
		code, _ := healthOf(a)
		return code == http.StatusOK
	})
	healthy := time.Since(up)
	time.Sleep(time.Second)
	close(stop)
	time.Sleep(100 * ms) // the last answer

	sent := st.sent()
	last := got.waitAll(t, sent)
	st.mu.Lock()
	defer st.mu.Unlock()
	t.Logf("Redis down %v: %d messages stored during it (%d in all), errors %v, longest send %v; "+
		"/health said so after %v and recovered %v after the restart; all delivered %v after the restart (%d duplicates)",
		up.Sub(down).Round(ms), during, len(sent), st.errors, st.maxWait.Round(ms), noticed.Round(ms), healthy.Round(ms),
		last.Sub(up).Round(ms), got.dups)
	if during == 0 {
		t.Fatal("no message was stored while Redis was down")
	}
	if len(st.errors) > 0 {
		t.Fatalf("sends failed while only Redis was down: %v", st.errors)
	}
}

// TestPostgresOutage stops PostgreSQL under a node while a user sends a
// stream of messages, and starts it again. Sends are answered ERROR
// unavailable meanwhile and succeed when sent again once it is back;
// nothing answered SUCCESS is lost; /health says the store is down.
func TestPostgresOutage(t *testing.T) {
	testenv.PostgresURL(t) // PostgreSQL tests are enabled
	pg := startPrivatePostgres(t)
	s := startServer(t, func(c *Config) { c.PostgresURL = pg.url() })
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	got := collect(t, cb)

	stop := make(chan struct{})
	st := runStream(t, ca, bob.name, stop)
	time.Sleep(time.Second)
	pg.stop()
	down := time.Now()
	until(t, 5*time.Second, "/health reporting the store down", func() bool {
		code, checks := healthOf(s)
		return code == http.StatusServiceUnavailable && checks["store"] == "unavailable"
	})
	noticed := time.Since(down)
	time.Sleep(2 * time.Second)
	pg.start()
	up := time.Now()
	until(t, 10*time.Second, "/health reporting the store back", func() bool {
		code, _ := healthOf(s)
		return code == http.StatusOK
	})
	healthy := time.Since(up)
	afterUp := len(st.sent())
	until(t, 10*time.Second, "sends succeeding again", func() bool { return len(st.sent()) > afterUp+10 })
	close(stop)
	time.Sleep(100 * ms)

	sent := st.sent()
	last := got.waitAll(t, sent)
	st.mu.Lock()
	defer st.mu.Unlock()
	t.Logf("PostgreSQL down %v: %d messages stored in all, errors meanwhile %v, longest send (with retries) %v; "+
		"/health said so after %v and recovered %v after the restart; last delivery %v after the restart (%d duplicates)",
		up.Sub(down).Round(ms), len(sent), st.errors, st.maxWait.Round(ms), noticed.Round(ms), healthy.Round(ms),
		last.Sub(up).Round(ms), got.dups)
	if st.errors["unavailable"] == 0 {
		t.Fatalf("no send was refused while PostgreSQL was down: %v", st.errors)
	}
	for code := range st.errors {
		if code != "unavailable" {
			t.Fatalf("sends failed with %q: %v", code, st.errors)
		}
	}
}
