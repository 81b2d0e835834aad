package redis_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testenv"
	"github.com/parley-chat/parley/redis"
)

func TestPresence(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	a := openNode(t, url, prefix, nil)
	b := openNode(t, url, prefix, nil)

	t.Run("online while a connection lives on any node", func(t *testing.T) {
		connect(t, a, "alice", true)
		connect(t, b, "alice", false)
		connect(t, a, "alice", false)
		if got := online(t, b, "alice", "bob"); !reflect.DeepEqual(got, []bool{true, false}) {
			t.Fatalf("Online = %v", got)
		}
		disconnect(t, a, "alice", false)
		disconnect(t, b, "alice", false)
		if got := online(t, a, "alice"); !got[0] {
			t.Fatalf("alice offline with a connection left on a")
		}
		disconnect(t, a, "alice", true)
		if got := online(t, b, "alice"); got[0] {
			t.Fatalf("alice online with no connection")
		}
		connect(t, b, "alice", true)
		disconnect(t, b, "alice", true)
	})

	t.Run("many users in one round trip", func(t *testing.T) {
		users := make([]string, 300)
		for i := range users {
			users[i] = "u" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		}
		for _, u := range users[:150] {
			connect(t, b, u, true)
		}
		got := online(t, a, users...)
		for i, on := range got {
			if on != (i < 150) {
				t.Fatalf("%s: online %v", users[i], on)
			}
		}
		for _, u := range users[:150] {
			disconnect(t, b, u, true)
		}
	})

	t.Run("living nodes are never swept", func(t *testing.T) {
		connect(t, a, "carol", true)
		time.Sleep(time.Second) // five ping intervals
		select {
		case o := <-b.offline:
			t.Fatalf("%s swept while its node lives", o.user)
		default:
		}
		if !online(t, b, "carol")[0] {
			t.Fatalf("carol went offline")
		}
		disconnect(t, a, "carol", true)
	})
}

// TestKilledNode kills a node without cleanup: its users who have no
// connection elsewhere go offline on the other node within two ping
// intervals.
func TestKilledNode(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	const ping = 200 * time.Millisecond
	a := openNode(t, url, prefix, nil)
	b := openNode(t, url, prefix, nil)
	connect(t, a, "alice", true)
	connect(t, a, "bob", true)
	connect(t, b, "bob", false)
	connect(t, a, "carol", true)
	disconnect(t, a, "carol", true)

	time.Sleep(ping) // let a heartbeat
	killed := time.Now()
	redis.Kill(a.Client)
	a.Close() // a no-op after a kill: nothing is cleaned up

	select {
	case o := <-b.offline:
		took := time.Since(killed)
		t.Logf("alice offline %v after the kill, last seen %v before it", took.Round(time.Millisecond), killed.Sub(o.at).Round(time.Millisecond))
		if o.user != "alice" {
			t.Fatalf("%s went offline, want alice", o.user)
		}
		if took > 2*ping {
			t.Fatalf("alice went offline %v after the kill, want within %v", took, 2*ping)
		}
		if o.at.After(killed) || killed.Sub(o.at) > ping/2+50*time.Millisecond {
			t.Fatalf("last seen %v, killed at %v", o.at, killed)
		}
	case <-time.After(5 * ping):
		t.Fatalf("alice still online %v after her node was killed", 5*ping)
	}
	if got := online(t, b, "alice", "bob"); !reflect.DeepEqual(got, []bool{false, true}) {
		t.Fatalf("Online(alice, bob) = %v", got)
	}
	time.Sleep(ping)
	select {
	case o := <-b.offline:
		t.Fatalf("%s also went offline", o.user)
	default:
	}
	node := strings.TrimPrefix(a.Name(), "node-")
	for _, k := range keys(t, url, prefix) {
		if k == prefix+"nu:"+node || k == prefix+"node:"+node {
			t.Fatalf("%s left behind", k)
		}
	}

	// A node deriving its id does not take the swept one at once (it may
	// be alive but stalled, and come back for it).
	c := openNode(t, url, prefix, nil)
	if c.NodeID() == a.NodeID() {
		t.Fatalf("new node took the swept id %d", a.NodeID())
	}
}

// TestRestartWithSameID kills a node with a configured id and starts it
// again: the new run announces the users the old one left.
func TestRestartWithSameID(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	const ping = 200 * time.Millisecond
	withID := func(c *redis.Config) { c.NodeID = 7 }
	a := openNode(t, url, prefix, withID)
	connect(t, a, "alice", true)
	redis.Kill(a.Client)

	_, err := tryOpenNode(t, url, prefix, withID)
	if !errors.Is(err, redis.ErrNodeIDTaken) {
		t.Fatalf("Open with the id of a live lease: %v, want ErrNodeIDTaken", err)
	}
	time.Sleep(ping * 3 / 2)
	var a2 *node
	eventually(t, 2*time.Second, "reopening node 7", func() bool {
		a2, err = tryOpenNode(t, url, prefix, withID)
		return err == nil
	})
	select {
	case o := <-a2.offline:
		if o.user != "alice" {
			t.Fatalf("%s went offline, want alice", o.user)
		}
	case <-time.After(time.Second):
		t.Fatalf("alice was not announced offline")
	}
	if online(t, a2, "alice")[0] {
		t.Fatalf("alice still online")
	}
	connect(t, a2, "alice", true)
}

func TestNodeIDs(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	a := openNode(t, url, prefix, nil)
	b := openNode(t, url, prefix, nil)
	if a.NodeID() != 0 || b.NodeID() != 1 {
		t.Fatalf("derived ids %d and %d, want 0 and 1", a.NodeID(), b.NodeID())
	}
	if a.Name() != "node-0" {
		t.Fatalf("Name() = %q", a.Name())
	}

	_, err := tryOpenNode(t, url, prefix, func(c *redis.Config) { c.NodeID = 1 })
	if !errors.Is(err, redis.ErrNodeIDTaken) {
		t.Fatalf("Open with a live node's id: %v, want ErrNodeIDTaken", err)
	}
	c := openNode(t, url, prefix, func(c *redis.Config) { c.NodeID = 1023 })
	if c.NodeID() != 1023 {
		t.Fatalf("configured id: got %d", c.NodeID())
	}
	if _, err := tryOpenNode(t, url, prefix, func(c *redis.Config) { c.NodeID = 1024 }); err == nil {
		t.Fatalf("Open with id 1024 succeeded")
	}

	// The lease outlives heartbeats: still held after several lease times.
	time.Sleep(time.Second)
	if _, err := tryOpenNode(t, url, prefix, func(c *redis.Config) { c.NodeID = 0 }); !errors.Is(err, redis.ErrNodeIDTaken) {
		t.Fatalf("Open with a live node's id after 1s: %v", err)
	}

	// A clean Close gives the id back at once.
	must(t, b.Close())
	d := openNode(t, url, prefix, func(c *redis.Config) { c.NodeID = 1 })
	if d.NodeID() != 1 {
		t.Fatalf("got %d", d.NodeID())
	}
	must(t, a.Ping(context.Background()))
}

func TestClose(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	a := openNode(t, url, prefix, nil)
	b := openNode(t, url, prefix, nil)
	ctx := context.Background()
	connect(t, a, "alice", true)
	connect(t, a, "bob", true)
	connect(t, b, "bob", false)
	disconnect(t, a, "alice", true)
	must(t, a.Subscribe(ctx, "bob"))

	// bob's connection on a was not disconnected: Close announces him
	// offline if he is gone everywhere, which he is not.
	must(t, a.Close())
	must(t, a.Close())
	if err := a.Publish(ctx, nil); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	if err := a.Ping(ctx); err == nil {
		t.Fatalf("Ping after Close succeeded")
	}
	select {
	case o := <-a.offline:
		t.Fatalf("%s announced offline", o.user)
	default:
	}
	if got := online(t, b, "alice", "bob"); !reflect.DeepEqual(got, []bool{false, true}) {
		t.Fatalf("Online = %v", got)
	}
	disconnect(t, b, "bob", true)
	must(t, b.Close())
	if ks := keys(t, url, prefix); len(ks) != 0 {
		slices.Sort(ks)
		t.Fatalf("keys left after both nodes closed: %v", ks)
	}

	// A user still counted on a closing node goes offline through
	// OnOffline.
	c := openNode(t, url, prefix, nil)
	connect(t, c, "carol", true)
	must(t, c.Close())
	select {
	case o := <-c.offline:
		if o.user != "carol" {
			t.Fatalf("%s announced", o.user)
		}
	default:
		t.Fatalf("carol not announced offline by Close")
	}
}

func TestLimiter(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	a := openNode(t, url, prefix, nil)
	b := openNode(t, url, prefix, nil)
	la, lb := a.Limiter(1, 4), b.Limiter(1, 4)
	allowed := 0
	for i := range 10 {
		l := la
		if i%2 == 1 {
			l = lb
		}
		if l.Allow("alice") {
			allowed++
		}
	}
	if allowed != 4 {
		t.Fatalf("%d of 10 allowed across two nodes, want the burst of 4", allowed)
	}
	if !lb.Allow("bob") {
		t.Fatalf("bob limited by alice's sends")
	}
	if !b.NamedLimiter("history", 1, 1).Allow("alice") {
		t.Fatalf("another limiter's budget was spent by sends")
	}
	// Keyed by address, with the wait for HTTP's Retry-After.
	ka, kb := a.KeyLimiter("register", 1.0/60, 2), b.KeyLimiter("register", 1.0/60, 2)
	for i, k := range []redis.KeyLimiter{ka, kb} {
		if ok, _ := k.Allow("192.0.2.7"); !ok {
			t.Fatalf("request %d of a burst of 2 refused", i+1)
		}
	}
	if ok, wait := ka.Allow("192.0.2.7"); ok || wait < 50*time.Second || wait > time.Minute {
		t.Fatalf("third request across two nodes: allowed %v, retry after %v; want refused for up to a minute", ok, wait)
	}
	if ok, _ := kb.Allow("192.0.2.8"); !ok {
		t.Fatalf("another address limited by the first one's requests")
	}
	// Fractional rates: 20/s refills one in 50ms.
	fast := a.Limiter(20, 1)
	if !fast.Allow("dave") || fast.Allow("dave") {
		t.Fatalf("burst of 1 not enforced")
	}
	time.Sleep(60 * time.Millisecond)
	if !fast.Allow("dave") {
		t.Fatalf("not refilled after 60ms at 20/s")
	}
}

// TestLockout: failed logins counted on two nodes lock the key out on
// both, for longer with each further failure; other keys are untouched.
func TestLockout(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, url)
	la := openNode(t, url, prefix, nil).Lockout(3)
	lb := openNode(t, url, prefix, nil).Lockout(3)
	la.Fail("user:alice", "ip:192.0.2.7")
	lb.Fail("user:alice")
	if locked, _ := la.Locked("user:alice"); locked {
		t.Fatalf("locked out after 2 failures of 3")
	}
	lb.Fail("user:alice")
	for _, l := range []*redis.Lockout{la, lb} {
		if locked, wait := l.Locked("ip:192.0.2.9", "user:alice"); !locked || wait < 50*time.Second || wait > time.Minute {
			t.Fatalf("after 3 failures on two nodes: locked %v for %v, want about a minute", locked, wait)
		}
	}
	if locked, _ := lb.Locked("user:bob", "ip:192.0.2.7"); locked {
		t.Fatalf("bob, or an address with one failure, locked out by alice's failures")
	}
	la.Fail("user:alice")
	if _, wait := lb.Locked("user:alice"); wait < 110*time.Second || wait > 2*time.Minute {
		t.Fatalf("after a 4th failure: locked for %v, want about two minutes", wait)
	}
	off := openNode(t, url, prefix, nil).Lockout(0)
	off.Fail("user:carol")
	if locked, _ := off.Locked("user:carol"); locked {
		t.Fatalf("a lockout of 0 failures locked carol out")
	}
	// Trust, as ratelimit.Lockout keeps it, spans nodes.
	if la.Trusted("pair:alice|192.0.2.7") {
		t.Fatalf("trusted before Trust")
	}
	la.Trust("pair:alice|192.0.2.7")
	if !lb.Trusted("pair:alice|192.0.2.7") || lb.Trusted("pair:alice|192.0.2.8") {
		t.Fatalf("trust not shared across nodes, or given to another key")
	}
}
