package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/hub"
	"github.com/parley-chat/parley/pebble"
	"github.com/parley-chat/parley/sqlite"
)

// These tests drive the hub as the transport does, with the embedded stores
// and sockets that record what they are sent: no network, no server.

// frame is what the tests read of a frame the hub wrote.
type frame struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Seq     int64  `json:"seq"`
	Content string `json:"content"`
	Offline bool   `json:"offline"`
	Event   string `json:"event"`
}

// socket records the frames written to it; slow makes every write fail
// with ErrSlow, as a full outbound queue does.
type socket struct {
	mu     sync.Mutex
	frames []frame
	slow   bool
	code   int // the close code, once closed
	closed chan struct{}
	once   sync.Once
}

func newSocket() *socket { return &socket{closed: make(chan struct{})} }

func (s *socket) WriteText(f []byte) error { return s.WriteTexts([][]byte{f}) }

func (s *socket) WriteTexts(fs [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slow {
		return parley.ErrSlow
	}
	for _, f := range fs {
		var fr frame
		if err := json.Unmarshal(f, &fr); err != nil {
			panic(fmt.Sprintf("the hub wrote %q: %v", f, err))
		}
		s.frames = append(s.frames, fr)
	}
	return nil
}

func (s *socket) WaitRoom(context.Context, int) error { return nil }
func (s *socket) Ping() error                         { return nil }
func (s *socket) RemoteAddr() string                  { return "test" }

func (s *socket) Close(code int, _ string) {
	s.once.Do(func() {
		s.mu.Lock()
		s.code = code
		s.mu.Unlock()
		close(s.closed)
	})
}

func (s *socket) setSlow() {
	s.mu.Lock()
	s.slow = true
	s.mu.Unlock()
}

// of returns the frames of type typ received so far.
func (s *socket) of(typ string) []frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []frame
	for _, f := range s.frames {
		if f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

// waitFor waits until s holds n frames of type typ.
func (s *socket) waitFor(t *testing.T, typ string, n int) []frame {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.of(typ)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s frames after 10 s, want %d", len(got), typ, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// closedWith waits for the socket to be closed and returns its code.
func (s *socket) closedWith(t *testing.T) int {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the socket was not closed within 10 s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code
}

// testHub is a running hub on fresh embedded stores with the given users.
type testHub struct {
	*hub.Hub
	store parley.Store
}

func startHub(t *testing.T, users ...string) *testHub {
	t.Helper()
	h, store := runHub(t, users...)
	return &testHub{Hub: h, store: store}
}

// runHub runs a hub on fresh embedded stores (accounts in SQLite, messages
// in Pebble, every batch synced) holding the given users; it stops, and
// the stores close, when tb ends.
func runHub(tb testing.TB, users ...string) (*hub.Hub, parley.Store) {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	accounts, err := sqlite.Open(ctx, sqlite.Config{Path: dir + "/parley.db", Synchronous: "NORMAL"})
	if err != nil {
		tb.Fatal(err)
	}
	log, err := pebble.Open(dir+"/messages", pebble.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	store := parley.Split(accounts, log)
	tb.Cleanup(func() { store.Close() })
	var list []*parley.User
	for _, u := range users {
		list = append(list, &parley.User{Username: u, PasswordHash: []byte("x"), CreatedAt: time.Now()})
	}
	if _, err := store.CreateUsers(ctx, list); err != nil {
		tb.Fatal(err)
	}
	h, err := hub.New(hub.Config{Store: store, SessionCheck: time.Hour, PingInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	h.Run()
	tb.Cleanup(func() { h.Shutdown(context.Background()) })
	return h, store
}

// attach connects a chat socket for user, as the transport does (Detach
// once it is closed), and waits for the end of its offline delivery.
func (h *testHub) attach(t *testing.T, user string) (*hub.Conn, *socket) {
	t.Helper()
	s := newSocket()
	c := h.Attach(s, hub.Identity{Username: user, SessionID: "s-" + user}, hub.Chat)
	go func() {
		<-s.closed
		h.Detach(c, nil)
	}()
	s.waitFor(t, "INIT_DATA", 1)
	s.waitFor(t, "INFO", 1)
	return c, s
}

func send(c *hub.Conn, id, to, content string) {
	c.Receive(fmt.Appendf(nil, `{"type":"ONE_TO_ONE_CHAT","id":%q,"to":%q,"content":%q}`, id, to, content))
}

// TestRepliesInFrameOrder: many sends of one connection, gathered into
// batches by the committer, are answered in the order they were sent, with
// seqs in that order, and reach the recipient in seq order.
func TestRepliesInFrameOrder(t *testing.T) {
	h := startHub(t, "alice", "bob")
	alice, as := h.attach(t, "alice")
	_, bs := h.attach(t, "bob")
	const n = 200
	for i := range n {
		send(alice, fmt.Sprintf("c%d", i), "bob", fmt.Sprintf("m%d", i))
	}
	replies := as.waitFor(t, "SUCCESS", n)
	for i, r := range replies {
		if r.ID != fmt.Sprintf("c%d", i) || r.Seq != int64(i+1) {
			t.Fatalf("reply %d: id %s seq %d, want c%d and %d", i, r.ID, r.Seq, i, i+1)
		}
	}
	got := bs.waitFor(t, "ONE_TO_ONE_CHAT", n)
	for i, m := range got {
		if m.Seq != int64(i+1) || m.Content != fmt.Sprintf("m%d", i) || m.Offline {
			t.Fatalf("delivery %d: %+v", i, m)
		}
	}
}

// TestSlowClientClosed: a recipient whose queue is full is closed with
// 1013 and nothing else slows down: the sender is answered, and the
// message waits for the recipient's next connection.
func TestSlowClientClosed(t *testing.T) {
	h := startHub(t, "alice", "bob")
	alice, as := h.attach(t, "alice")
	_, bs := h.attach(t, "bob")
	bs.setSlow()
	send(alice, "c1", "bob", "are you there?")
	if code := bs.closedWith(t); code != 1013 {
		t.Fatalf("slow client closed with %d, want 1013", code)
	}
	as.waitFor(t, "SUCCESS", 1)
	send(alice, "c2", "bob", "still there?")
	as.waitFor(t, "SUCCESS", 2)

	_, again := h.attach(t, "bob")
	offline := again.of("ONE_TO_ONE_CHAT")
	if len(offline) != 2 || !offline[0].Offline || offline[0].Content != "are you there?" || offline[1].Seq != 2 {
		t.Fatalf("bob's offline messages after the close: %+v", offline)
	}
}

// TestShutdownDrains: a shutdown answers or stores nothing half-way: every
// send answered SUCCESS before the sockets closed (1001) is in the store.
func TestShutdownDrains(t *testing.T) {
	h := startHub(t, "alice", "bob")
	alice, as := h.attach(t, "alice")
	const n = 300
	for i := range n {
		send(alice, fmt.Sprintf("c%d", i), "bob", fmt.Sprintf("m%d", i))
	}
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if code := as.closedWith(t); code != 1001 {
		t.Fatalf("closed with %d, want 1001", code)
	}
	replies := as.of("SUCCESS")
	last, err := h.store.LastSeq(context.Background(), parley.ChatID("alice", "bob"))
	if err != nil {
		t.Fatal(err)
	}
	if last < int64(len(replies)) {
		t.Fatalf("%d SUCCESS replies, but the store holds %d messages", len(replies), last)
	}
	seqs := make([]int64, len(replies))
	for i, r := range replies {
		seqs[i] = r.Seq
	}
	if !slices.IsSorted(seqs) {
		t.Fatalf("replies out of order: %v", seqs)
	}
	t.Logf("%d of %d sends answered before the shutdown; %d stored", len(replies), n, last)
}
