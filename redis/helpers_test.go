package redis_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/redis"
	goredis "github.com/redis/go-redis/v9"
)

// keys lists the keys under a prefix.
func keys(t testing.TB, url, prefix string) []string {
	t.Helper()
	opt, _ := goredis.ParseURL(url)
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	ks, err := rdb.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatalf("KEYS: %v", err)
	}
	return ks
}

type offline struct {
	user string
	at   time.Time
}

// node is a Client with its callbacks recorded.
type node struct {
	*redis.Client
	events     chan *parley.Event
	offline    chan offline
	online     chan string
	reconnects chan struct{}
	mu         sync.Mutex
	lags       []time.Duration
	errors     map[string]int
}

func openNode(t testing.TB, url, prefix string, edit func(*redis.Config)) *node {
	t.Helper()
	n, err := tryOpenNode(t, url, prefix, edit)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return n
}

func tryOpenNode(t testing.TB, url, prefix string, edit func(*redis.Config)) (*node, error) {
	t.Helper()
	n := &node{
		events:     make(chan *parley.Event, 100000),
		offline:    make(chan offline, 1000),
		online:     make(chan string, 1000),
		reconnects: make(chan struct{}, 100),
		errors:     map[string]int{},
	}
	cfg := redis.Config{
		URL:          url,
		Prefix:       prefix,
		NodeID:       -1,
		PingInterval: 200 * time.Millisecond,
		Timeout:      500 * time.Millisecond,
		OnEvent:      func(ev *parley.Event) { n.events <- ev },
		OnOffline:    func(u string, at time.Time) { n.offline <- offline{u, at} },
		OnOnline:     func(u string) { n.online <- u },
		OnReconnect:  func() { n.reconnects <- struct{}{} },
		BusLag: func(d time.Duration) {
			n.mu.Lock()
			n.lags = append(n.lags, d)
			n.mu.Unlock()
		},
		BusError: func(op string) {
			n.mu.Lock()
			n.errors[op]++
			n.mu.Unlock()
		},
	}
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := redis.Open(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	n.Client = c
	c.Start()
	t.Cleanup(func() { c.Close() })
	return n, nil
}

// event waits for the next event.
func (n *node) event(t testing.TB) *parley.Event {
	t.Helper()
	select {
	case ev := <-n.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no event after 5s")
		return nil
	}
}

// noEvent checks that no event is waiting.
func (n *node) noEvent(t testing.TB) {
	t.Helper()
	select {
	case ev := <-n.events:
		t.Fatalf("unexpected event for %v: %s", ev.Users, ev.Frame)
	default:
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func connect(t testing.TB, n *node, user string, wantCame bool) {
	t.Helper()
	came, err := n.Connect(context.Background(), user)
	if err != nil {
		t.Fatalf("Connect(%s): %v", user, err)
	}
	if came != wantCame {
		t.Fatalf("Connect(%s) on node %d: came online %v, want %v", user, n.NodeID(), came, wantCame)
	}
}

func disconnect(t testing.TB, n *node, user string, wantWent bool) {
	t.Helper()
	went, err := n.Disconnect(context.Background(), user, time.Now())
	if err != nil {
		t.Fatalf("Disconnect(%s): %v", user, err)
	}
	if went != wantWent {
		t.Fatalf("Disconnect(%s) on node %d: went offline %v, want %v", user, n.NodeID(), went, wantWent)
	}
}

func online(t testing.TB, n *node, users ...string) []bool {
	t.Helper()
	on, err := n.Online(context.Background(), users)
	if err != nil {
		t.Fatalf("Online: %v", err)
	}
	return on
}

// eventually retries f until it reports true or the time is up.
func eventually(t testing.TB, within time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
