package redis_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/testenv"
	"github.com/parley-chat/parley/redis"
	goredis "github.com/redis/go-redis/v9"
)

func rawClient(t testing.TB, url string) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestSweptWhileAlive expires a live node's lease behind its back, as a
// long stall would: the other node sweeps it, then the node takes its
// lease again and writes its presence back.
func TestSweptWhileAlive(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	a := openNode(t, url, prefix, nil)
	b := openNode(t, url, prefix, nil)
	connect(t, a, "alice", true)
	rdb := rawClient(t, url)
	must(t, rdb.Del(context.Background(), prefix+"node:"+strconv.FormatInt(a.NodeID(), 10)).Err())

	// b sweeps a (unless a's heartbeat comes first), and a writes its
	// presence back and announces alice online again.
	select {
	case o := <-b.offline:
		if o.user != "alice" {
			t.Fatalf("%s swept", o.user)
		}
		select {
		case u := <-a.online:
			if u != "alice" {
				t.Fatalf("%s announced online", u)
			}
		case <-time.After(time.Second):
			t.Fatalf("alice not announced online again")
		}
	case <-time.After(time.Second):
		t.Logf("a renewed its lease before the sweep")
	}
	eventually(t, time.Second, "alice online again", func() bool { return online(t, b, "alice")[0] })
	select {
	case o := <-a.offline:
		t.Fatalf("a swept itself (%s)", o.user)
	default:
	}
	disconnect(t, a, "alice", true)
	must(t, a.Ping(context.Background()))
}

// TestLeaseLost gives a live node's id to someone else: its Ping fails.
func TestLeaseLost(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	a := openNode(t, url, prefix, nil)
	rdb := rawClient(t, url)
	must(t, rdb.Set(context.Background(), prefix+"node:"+strconv.FormatInt(a.NodeID(), 10), "intruder", time.Minute).Err())
	eventually(t, time.Second, "Ping failing", func() bool {
		return errors.Is(a.Ping(context.Background()), redis.ErrLeaseLost)
	})
}

// TestDropsResync overflows a node's publish queue: the other node is
// told to resync.
func TestDropsResync(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	a := openNode(t, url, prefix, func(c *redis.Config) { c.QueueSize = 1 })
	b := openNode(t, url, prefix, nil)
	ctx := context.Background()
	must(t, b.Subscribe(ctx, "bob"))
	for range 1000 {
		must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob"}, Frame: []byte(`"x"`)}))
	}
	if a.Stats().Dropped == 0 {
		t.Fatalf("nothing dropped with a queue of 1")
	}
	// The resync goes out with the next publish that succeeds.
	must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob"}, Frame: []byte(`"y"`)}))
	select {
	case <-b.reconnects:
	case <-time.After(2 * time.Second):
		t.Fatalf("b not told to resync after %d drops", a.Stats().Dropped)
	}
	select {
	case <-a.reconnects:
		t.Fatalf("a resynced itself")
	default:
	}
}

// TestStalledSubscription pauses Redis longer than the subscription
// connection may stay silent: the connection is replaced, OnReconnect
// fires, and events flow again.
func TestStalledSubscription(t *testing.T) {
	testenv.RedisURL(t)
	srv := startServer(t)
	url := srv.url()
	ctx := context.Background()
	a := openNode(t, url, "parley:", nil)
	b := openNode(t, url, "parley:", nil)
	must(t, b.Subscribe(ctx, "bob"))
	rdb := rawClient(t, url)
	must(t, rdb.Do(ctx, "CLIENT", "PAUSE", "2000", "ALL").Err())
	select {
	case <-b.reconnects:
	case <-time.After(6 * time.Second):
		t.Fatalf("OnReconnect not called after a 2s pause")
	}
	eventually(t, 3*time.Second, "bus working again", func() bool {
		a.Publish(ctx, &parley.Event{Users: []string{"bob"}, Frame: []byte(`"after"`)})
		select {
		case ev := <-b.events:
			return string(ev.Frame) == `"after"`
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
}
