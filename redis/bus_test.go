package redis_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/testenv"
	"github.com/parley-chat/parley/redis"
)

func TestBus(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	a := openNode(t, url, prefix, nil)
	b := openNode(t, url, prefix, nil)
	ctx := context.Background()

	t.Run("only subscribed users' events arrive", func(t *testing.T) {
		must(t, b.Subscribe(ctx, "bob"))
		sent := &parley.Event{Users: []string{"carol", "bob"}, Frame: []byte(`{"type":"ONE_TO_ONE_CHAT"}`), ExceptConn: "c1", Conv: "bob-carol", Seq: 7, Origin: a.Name()}
		must(t, a.Publish(ctx, sent))
		got := b.event(t)
		want := *sent
		want.Users = []string{"bob"}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("got %+v, want %+v", *got, want)
		}
		if !reflect.DeepEqual(sent.Users, []string{"carol", "bob"}) {
			t.Fatalf("Publish changed the event's users: %v", sent.Users)
		}
		time.Sleep(20 * time.Millisecond)
		b.noEvent(t)
	})

	t.Run("a node ignores its own events", func(t *testing.T) {
		must(t, a.Subscribe(ctx, "bob"))
		must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob"}, Frame: []byte(`"mine"`)}))
		if got := b.event(t); string(got.Frame) != `"mine"` {
			t.Fatalf("b got %s", got.Frame)
		}
		// b's reply is published after a's event reached Redis, so a
		// would have got its own event first.
		must(t, b.Publish(ctx, &parley.Event{Users: []string{"bob"}, Frame: []byte(`"theirs"`)}))
		if got := a.event(t); string(got.Frame) != `"theirs"` {
			t.Fatalf("a got %s, want b's event only", got.Frame)
		}
		a.noEvent(t)
		must(t, a.Unsubscribe(ctx, "bob"))
	})

	t.Run("unsubscribe and subscribe again", func(t *testing.T) {
		must(t, b.Unsubscribe(ctx, "bob"))
		must(t, b.Subscribe(ctx, "dave")) // confirmed after bob's unsubscription
		must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob"}, Frame: []byte(`"to bob"`)}))
		must(t, a.Publish(ctx, &parley.Event{Users: []string{"dave"}, Frame: []byte(`"to dave"`)}))
		if got := b.event(t); string(got.Frame) != `"to dave"` {
			t.Fatalf("got %s for %v, want dave's event only", got.Frame, got.Users)
		}
		must(t, b.Subscribe(ctx, "bob"))
		must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob"}, Frame: []byte(`"again"`)}))
		if got := b.event(t); string(got.Frame) != `"again"` || got.Users[0] != "bob" {
			t.Fatalf("got %s for %v", got.Frame, got.Users)
		}
	})

	t.Run("a user's events keep their order", func(t *testing.T) {
		const n = 2000
		for i := 1; i <= n; i++ {
			must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob", "dave"}, Conv: "c", Seq: int64(i)}))
		}
		next := map[string]int64{"bob": 1, "dave": 1}
		for range 2 * n {
			ev := b.event(t)
			u := ev.Users[0]
			if ev.Seq != next[u] {
				t.Fatalf("%s got seq %d, want %d", u, ev.Seq, next[u])
			}
			next[u]++
		}
		b.mu.Lock()
		lags := len(b.lags)
		b.mu.Unlock()
		if lags == 0 {
			t.Fatalf("BusLag was never called")
		}
	})

	t.Run("session ends travel", func(t *testing.T) {
		must(t, a.Publish(ctx, &parley.Event{Users: []string{"bob"}, EndSession: "*"}))
		if got := b.event(t); got.EndSession != "*" || got.Users[0] != "bob" {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("concurrent subscribe and unsubscribe", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					u := fmt.Sprintf("churn%d_%d", g, i)
					if err := b.Subscribe(ctx, u); err != nil {
						t.Errorf("Subscribe: %v", err)
					}
					if i%2 == 0 {
						b.Unsubscribe(ctx, u)
					}
				}
			})
		}
		wg.Wait()
		var users []string
		for g := range 8 {
			for i := range 50 {
				users = append(users, fmt.Sprintf("churn%d_%d", g, i))
			}
		}
		must(t, a.Publish(ctx, &parley.Event{Users: users, Frame: []byte(`"x"`)}))
		got := map[string]bool{}
		for range len(users) / 2 {
			got[b.event(t).Users[0]] = true
		}
		for _, u := range users {
			i, _ := strconv.Atoi(u[len(u)-1:])
			if got[u] != (i%2 == 1) {
				t.Fatalf("%s: received %v", u, got[u])
			}
		}
	})
}

// TestManySubscriptions subscribes 15,000 users on one node, as a busy
// node would have.
func TestManySubscriptions(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	a := openNode(t, url, prefix, nil)
	b := openNode(t, url, prefix, nil)
	ctx := context.Background()
	const users = 15000
	start := time.Now()
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := g; i < users; i += 64 {
				if err := b.Subscribe(ctx, "user"+strconv.Itoa(i)); err != nil {
					t.Errorf("Subscribe: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d users subscribed in %v", users, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	all := make([]string, users)
	for i := range all {
		all[i] = "user" + strconv.Itoa(i)
	}
	must(t, a.Publish(ctx, &parley.Event{Users: all, Frame: []byte(`{"type":"GROUP_CHAT"}`)}))
	for range users {
		b.event(t)
	}
	t.Logf("one event to %d users delivered in %v", users, time.Since(start).Round(time.Millisecond))
}

// benchFrame is a one-to-one message as delivered, about 200 bytes.
var benchFrame = []byte(`{"type":"ONE_TO_ONE_CHAT","messageId":"1862379123456789012","seq":1234,"from":"alice","to":"bob","chatId":"alice-bob","content":"Hello Bob, this is a message of a typical length.","timestamp":"2026-11-26T21:25:25.123Z"}`)

func BenchmarkPublish(b *testing.B) {
	url := testenv.RedisURL(b)
	prefix := testenv.RedisPrefix(b, url)
	for _, users := range []int{1, 2, 10} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			pub := openNode(b, url, prefix, func(c *redis.Config) { c.QueueSize = 1 << 20 })
			ev := &parley.Event{Frame: benchFrame, Conv: "alice-bob", Seq: 1, ExceptConn: "c42", Origin: "node-0"}
			for i := range users {
				ev.Users = append(ev.Users, "bench"+strconv.Itoa(i))
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := pub.Publish(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			// Wait until everything is sent (or dropped).
			for {
				st := pub.Stats()
				if st.Published+st.Dropped*uint64(users) >= uint64(b.N*users) {
					if st.Dropped > 0 {
						b.Fatalf("%d events dropped", st.Dropped)
					}
					break
				}
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*users)/b.Elapsed().Seconds(), "publishes/s")
		})
	}
}

// BenchmarkDeliver measures events from one node to another, Publish on
// one to OnEvent on the other, keeping at most 5000 in flight (a receiver
// that falls further behind is disconnected by Redis).
func BenchmarkDeliver(b *testing.B) {
	url := testenv.RedisURL(b)
	prefix := testenv.RedisPrefix(b, url)
	pub := openNode(b, url, prefix, func(c *redis.Config) { c.QueueSize = 1 << 20 })
	sub := openNode(b, url, prefix, nil)
	ctx := context.Background()
	must(b, sub.Subscribe(ctx, "bob"))
	ev := &parley.Event{Users: []string{"bob"}, Frame: benchFrame, Conv: "alice-bob", ExceptConn: "c42", Origin: "node-0"}
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		for range b.N {
			<-sub.events
			received.Add(1)
		}
		close(done)
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for int64(i)-received.Load() > 5000 {
			time.Sleep(50 * time.Microsecond)
		}
		ev.Seq = int64(i)
		if err := pub.Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatalf("received %d of %d (dropped %d)", sub.Stats().Received, b.N, pub.Stats().Dropped)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
