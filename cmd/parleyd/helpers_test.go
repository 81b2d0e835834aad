package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
)

// testServer is a parleyd started in-process on port 0 in a temporary
// directory.
type testServer struct {
	*Main
	t   testing.TB
	api *client.Client
	log *syncBuffer
}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer starts a server; change adjusts its configuration.
func startServer(t testing.TB, change func(*Config)) *testServer {
	t.Helper()
	cfg := defaultConfig()
	cfg.HTTPAddr, cfg.ChatAddr, cfg.PresenceAddr, cfg.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.BcryptCost = 4
	cfg.SQLiteSync = "NORMAL"
	cfg.LogLevel = "debug"
	// Limits are off unless a test turns them on (the adversarial suite).
	cfg.RateMessagesPerSec, cfg.RateHistoryPerSec, cfg.RateGroupsPerMin, cfg.RateAcksPerSec = 0, 0, 0, 0
	cfg.RateRegisterPerMin, cfg.RateConnectionsPerMin, cfg.LoginMaxFailures = 0, 0, 0
	if change != nil {
		change(&cfg)
	}
	logs := &syncBuffer{}
	m := NewMain(cfg, logs)
	if err := m.Open(context.Background()); err != nil {
		t.Fatalf("starting the server: %v", err)
	}
	s := &testServer{Main: m, t: t, api: client.New("http://" + m.Addr("http")), log: logs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", tail(logs.String(), 60))
		}
	})
	return s
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

var userSeq atomic.Int64

// user is a registered, logged-in account.
type user struct {
	name   string
	pass   string
	tokens *client.Tokens
}

// newUser registers and logs in a fresh user.
func (s *testServer) newUser(prefix string) *user {
	s.t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("%s%d", prefix, userSeq.Add(1))
	u := &user{name: name, pass: "password-" + name}
	if err := s.api.Register(ctx, u.name, u.pass); err != nil {
		s.t.Fatalf("register %s: %v", name, err)
	}
	tok, err := s.api.Login(ctx, u.name, u.pass)
	if err != nil {
		s.t.Fatalf("login %s: %v", name, err)
	}
	u.tokens = tok
	return u
}

// conn is a test's view of one WebSocket.
type conn struct {
	*client.Conn
	t            testing.TB
	name         string
	keepPresence bool
}

// dial opens the chat (or presence) endpoint on the HTTP listener.
func (s *testServer) dial(u *user, endpoint string) *conn {
	s.t.Helper()
	c, err := s.api.Dial(context.Background(), endpoint, u.tokens.Token)
	if err != nil {
		s.t.Fatalf("dial %s as %s: %v", endpoint, u.name, err)
	}
	s.t.Cleanup(func() { c.Close() })
	return &conn{Conn: c, t: s.t, name: u.name, keepPresence: endpoint == "presence"}
}

// chat opens a chat connection and reads INIT_DATA and the offline
// messages up to INFO offline_delivered.
func (s *testServer) chat(u *user) (*conn, client.Frame, []client.Frame) {
	s.t.Helper()
	c := s.dial(u, "chat")
	init := c.expect("INIT_DATA")
	var offline []client.Frame
	for {
		f := c.next()
		if f.Type == "INFO" && f.Event == "offline_delivered" {
			if f.Count == nil || *f.Count != len(offline) {
				s.t.Fatalf("%s: offline_delivered count %v, want %d", u.name, f.Count, len(offline))
			}
			return c, init, offline
		}
		if !f.Offline {
			s.t.Fatalf("%s: before offline_delivered got %s", u.name, f.Raw)
		}
		offline = append(offline, f)
	}
}

// in returns the connection bound to t, for a subtest of the test that
// dialed it: the subtest's failures must stop the subtest, and a parent's
// FailNow called from a subtest is itself an error.
func (c *conn) in(t testing.TB) *conn {
	d := *c
	d.t = t
	return &d
}

const (
	wait = 5 * time.Second
	ms   = time.Millisecond
)

// next returns the next frame or fails the test. PRESENCE_UPDATE frames,
// which contacts' comings and goings interleave with everything else, are
// skipped unless the connection is a presence one or keepPresence is set.
func (c *conn) next() client.Frame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		f, err := c.Next(ctx)
		if err != nil {
			c.t.Fatalf("%s: waiting for a frame: %v", c.name, err)
		}
		if f.Type == "PRESENCE_UPDATE" && !c.keepPresence {
			continue
		}
		return f
	}
}

// expect returns the next frame, which must be of the given type.
func (c *conn) expect(typ string) client.Frame {
	c.t.Helper()
	if typ == "PRESENCE_UPDATE" {
		c.keepPresence = true
		defer func() { c.keepPresence = false }()
	}
	f := c.next()
	if f.Type != typ {
		c.t.Fatalf("%s: got %s, want a %s frame", c.name, f.Raw, typ)
	}
	return f
}

// until polls ok every 10 ms and fails the test if it is not true within d.
func until(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(10 * ms)
	}
}

// expectAll reads the next frames, which must be one of each of the
// given types in any order (PRESENCE_UPDATE included when named), and
// returns them by type.
func (c *conn) expectAll(types ...string) map[string]client.Frame {
	c.t.Helper()
	keep := c.keepPresence
	c.keepPresence = slices.Contains(types, "PRESENCE_UPDATE")
	defer func() { c.keepPresence = keep }()
	got := make(map[string]client.Frame, len(types))
	for len(got) < len(types) {
		f := c.next()
		if _, dup := got[f.Type]; dup || !slices.Contains(types, f.Type) {
			c.t.Fatalf("%s: got %s, want one each of %v", c.name, f.Raw, types)
		}
		got[f.Type] = f
	}
	return got
}

// expectError returns the next frame, which must be ERROR with code.
func (c *conn) expectError(code string) client.Frame {
	c.t.Helper()
	f := c.expect("ERROR")
	if f.Code != code {
		c.t.Fatalf("%s: got %s, want ERROR %s", c.name, f.Raw, code)
	}
	return f
}

// send writes a frame or fails the test.
func (c *conn) send(v any) {
	c.t.Helper()
	if err := c.Send(v); err != nil {
		c.t.Fatalf("%s: send: %v", c.name, err)
	}
}

// quiet checks that no frame arrives for a while.
func (c *conn) quiet(d time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		f, err := c.Next(ctx)
		if err != nil {
			return
		}
		if f.Type != "PRESENCE_UPDATE" || c.keepPresence {
			c.t.Fatalf("%s: expected no frame, got %s", c.name, f.Raw)
		}
	}
}

// closeCode waits for the server to close the connection and returns the
// code it sent.
func (c *conn) closeCode() int {
	c.t.Helper()
	select {
	case <-c.Done():
	case <-time.After(wait):
		c.t.Fatalf("%s: connection not closed", c.name)
	}
	for range c.Frames() {
	}
	return c.CloseCode()
}

type obj = map[string]any
