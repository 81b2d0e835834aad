package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testenv"
	"github.com/parley-chat/parley/internal/testserver"
)

// messageStore is where a cluster keeps its messages: env names the
// settings beside PARLEY_POSTGRES_URL that put them there, and may skip the
// test when the service is not configured.
type messageStore struct {
	name string
	env  func(t *testing.T) map[string]string
}

// messageStores are the stores the cluster tests run on: the PostgreSQL
// database that holds the accounts, or a fresh Cassandra keyspace.
var messageStores = []messageStore{
	{"postgres", func(*testing.T) map[string]string { return nil }},
	{"cassandra", func(t *testing.T) map[string]string {
		hosts := testenv.CassandraHosts(t)
		return map[string]string{
			"PARLEY_CASSANDRA_HOSTS":    strings.Join(hosts, ","),
			"PARLEY_CASSANDRA_KEYSPACE": testenv.FreshKeyspace(t, hosts),
		}
	}},
}

// onEachStore runs body once per message store, as a subtest named after it.
func onEachStore(t *testing.T, body func(t *testing.T, store messageStore)) {
	for _, store := range messageStores {
		t.Run(store.name, func(t *testing.T) { body(t, store) })
	}
}

// cluster is several nodes on one PostgreSQL database and one Redis key
// prefix, the way parleyd scales out, with their messages in the database
// or in Cassandra.
type cluster struct {
	t     *testing.T
	nodes []*testServer
	env   map[string]string // the shared settings, for nodes in processes
}

// clusterPing is the nodes' ping interval: short, so that a dead node is
// found quickly, and long enough that two of them hold under the race
// detector on a busy machine.
const clusterPing = time.Second

// startCluster starts n nodes in this process; edits change every node's
// configuration.
func startCluster(t *testing.T, n int, edits ...func(*Config)) *cluster {
	t.Helper()
	return startClusterOn(t, messageStores[0], n, edits...)
}

// startClusterOn starts n nodes that keep their messages in store.
func startClusterOn(t *testing.T, store messageStore, n int, edits ...func(*Config)) *cluster {
	t.Helper()
	extra := store.env(t)
	db := testenv.FreshDatabase(t)
	rurl := testenv.RedisURL(t)
	prefix := testenv.RedisPrefix(t, rurl)
	secret := testenv.RandomHex(24)
	c := &cluster{t: t, env: map[string]string{
		"PARLEY_POSTGRES_URL":  db,
		"PARLEY_REDIS_URL":     rurl,
		"PARLEY_REDIS_PREFIX":  prefix,
		"PARLEY_JWT_SECRET":    secret,
		"PARLEY_PING_INTERVAL": clusterPing.String(),
	}}
	for k, v := range extra {
		c.env[k] = v
	}
	for range n {
		c.nodes = append(c.nodes, startServer(t, func(cfg *Config) {
			cfg.PostgresURL, cfg.RedisURL, cfg.RedisPrefix = db, rurl, prefix
			cfg.JWTSecret, cfg.PingInterval = secret, clusterPing
			if h, ok := extra["PARLEY_CASSANDRA_HOSTS"]; ok {
				cfg.CassandraHosts, cfg.CassandraKeyspace = h, extra["PARLEY_CASSANDRA_KEYSPACE"]
			}
			for _, e := range edits {
				e(cfg)
			}
		}))
	}
	return c
}

// process starts one more node as a parleyd process, which the test can
// kill; it returns a testServer that can only dial.
func (c *cluster) process() (*testServer, *testserver.Server) {
	p := testserver.Start(c.t, testserver.Options{Env: c.env})
	return &testServer{t: c.t, api: client.New(p.URL())}, p
}

// TestClusterChat: users on different nodes chat one-to-one and in groups
// as if on one server, with one gapless seq per conversation and
// idempotent sends whichever node a repeat reaches, with the messages in
// either store.
func TestClusterChat(t *testing.T) { onEachStore(t, testClusterChat) }

func testClusterChat(t *testing.T, store messageStore) {
	c := startClusterOn(t, store, 3)
	a, b, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	alice, bob, carol := a.newUser("alice"), a.newUser("bob"), a.newUser("carol")

	ca, _, _ := a.chat(alice)
	cb, _, _ := b.chat(bob)
	cc, _, _ := n3.chat(carol)

	t.Run("one-to-one", func(t *testing.T) {
		ca, cb := ca.in(t), cb.in(t)
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "m1", "to": bob.name, "content": "from node A"})
		ok := ca.expect("SUCCESS")
		if m := cb.expect("ONE_TO_ONE_CHAT"); m.Content != "from node A" || m.From != alice.name || m.Seq != 1 || m.MessageID != ok.MessageID {
			t.Fatalf("bob on node B: got %s", m.Raw)
		}
		cb.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "r1", "to": alice.name, "content": "from node B"})
		cb.expect("SUCCESS")
		if m := ca.expect("ONE_TO_ONE_CHAT"); m.Content != "from node B" || m.Seq != 2 {
			t.Fatalf("alice on node A: got %s", m.Raw)
		}
	})

	t.Run("idempotent across nodes", func(t *testing.T) {
		ca, cb := ca.in(t), cb.in(t)
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "twice", "to": bob.name, "content": "once"})
		ok := ca.expect("SUCCESS")
		cb.expect("ONE_TO_ONE_CHAT")
		// The same send reaches another node (a reconnect through the load
		// balancer): the same message, not a second one.
		ca2, _, _ := n3.chat(alice)
		ca2.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "twice", "to": bob.name, "content": "once"})
		if again := ca2.expect("SUCCESS"); again.MessageID != ok.MessageID || again.Seq != ok.Seq {
			t.Fatalf("repeat on node C: got %s, first %s", again.Raw, ok.Raw)
		}
		ca2.Close()
		cb.quiet(100 * ms)
	})

	t.Run("gapless seq under concurrent sends", func(t *testing.T) {
		ca, cb := ca.in(t), cb.in(t)
		const per = 25
		var mu sync.Mutex
		var seqs []int64
		var wg sync.WaitGroup
		for _, s := range []struct {
			c  *conn
			to string
		}{{ca, bob.name}, {cb, alice.name}} {
			wg.Go(func() {
				// Both connections also receive the other's messages; the
				// SUCCESS frames are told apart by type.
				for i := range per {
					if err := s.c.Send(obj{"type": "ONE_TO_ONE_CHAT", "id": fmt.Sprintf("c%d", i), "to": s.to, "content": "x"}); err != nil {
						t.Errorf("send: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		for _, s := range []*conn{ca, cb} {
			got, delivered := 0, 0
			for got < per || delivered < per {
				f := s.next()
				switch f.Type {
				case "SUCCESS":
					mu.Lock()
					seqs = append(seqs, f.Seq)
					mu.Unlock()
					got++
				case "ONE_TO_ONE_CHAT":
					delivered++
				default:
					t.Fatalf("%s: got %s", s.name, f.Raw)
				}
			}
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		for i, s := range seqs {
			if want := int64(4 + i); s != want {
				t.Fatalf("seqs %v: position %d is %d, want %d", seqs, i, s, want)
			}
		}
	})

	t.Run("concurrent repeats on two nodes", func(t *testing.T) {
		cb := cb.in(t)
		// Dave's two connections, on nodes A and B, send the same ten ids
		// three times each at once: ten messages, each answered with the
		// same id and seq every time, and delivered once.
		dave := a.newUser("dave")
		d1, _, _ := a.chat(dave)
		d2, _, _ := b.chat(dave)
		defer d1.Close()
		defer d2.Close()
		const ids, tries = 10, 3
		var mu sync.Mutex
		answers := map[string][]client.Frame{}
		var wg sync.WaitGroup
		for _, d := range []*conn{d1, d2} {
			wg.Go(func() {
				for range tries {
					for i := range ids {
						id := fmt.Sprintf("dup%d", i)
						if err := d.Send(obj{"type": "ONE_TO_ONE_CHAT", "id": id, "to": bob.name, "content": id}); err != nil {
							t.Errorf("send: %v", err)
							return
						}
					}
				}
				for range ids * tries {
					ctx, cancel := context.WithTimeout(context.Background(), wait)
					f, err := nextOf(ctx, d, "SUCCESS", "ERROR")
					cancel()
					if err != nil {
						t.Errorf("%s: waiting for an answer: %v", d.name, err)
						return
					}
					if f.Type == "ERROR" {
						t.Errorf("%s: a repeat was refused: %s", d.name, f.Raw)
						return
					}
					mu.Lock()
					answers[f.ID] = append(answers[f.ID], f)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		seen := map[int64]bool{}
		for i := range ids {
			id := fmt.Sprintf("dup%d", i)
			fs := answers[id]
			if len(fs) != 2*tries {
				t.Fatalf("%s: %d answers, want %d", id, len(fs), 2*tries)
			}
			for _, f := range fs[1:] {
				if f.MessageID != fs[0].MessageID || f.Seq != fs[0].Seq {
					t.Fatalf("%s: answered %s and %s", id, fs[0].Raw, f.Raw)
				}
			}
			if seen[fs[0].Seq] {
				t.Fatalf("%s: seq %d given twice", id, fs[0].Seq)
			}
			seen[fs[0].Seq] = true
		}
		got := map[string]bool{}
		for range ids {
			m := cb.expect("ONE_TO_ONE_CHAT")
			if got[m.Content] || m.From != dave.name {
				t.Fatalf("bob: got %s twice or from someone else", m.Raw)
			}
			got[m.Content] = true
		}
		cb.quiet(200 * ms)
	})

	t.Run("groups", func(t *testing.T) {
		ca, cb, cc := ca.in(t), cb.in(t), cc.in(t)
		ca.send(obj{"type": "CREATE_GROUP", "name": "across nodes", "members": []string{bob.name}})
		gid := ca.expect("SUCCESS").GroupID
		cb.expect("GROUP_MEMBER_JOINED") // the creator, then bob
		cb.expect("GROUP_MEMBER_JOINED")
		cc.send(obj{"type": "JOIN_GROUP", "groupId": gid})
		cc.expect("SUCCESS")
		for _, x := range []*conn{ca, cb} {
			if j := x.expect("GROUP_MEMBER_JOINED"); j.Username != carol.name {
				t.Fatalf("%s: got %s", x.name, j.Raw)
			}
		}
		cb.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "to everyone"})
		cb.expect("SUCCESS")
		for _, x := range []*conn{ca, cc} {
			if m := x.expect("GROUP_CHAT"); m.Content != "to everyone" || m.From != bob.name || m.Seq != 1 {
				t.Fatalf("%s: got %s", x.name, m.Raw)
			}
		}
		cc.send(obj{"type": "TYPING", "groupId": gid})
		for _, x := range []*conn{ca, cb} {
			if ty := x.expect("TYPING"); ty.From != carol.name || ty.GroupID != gid {
				t.Fatalf("%s: got %s", x.name, ty.Raw)
			}
		}
		cc.send(obj{"type": "LEAVE_GROUP", "groupId": gid})
		cc.expect("SUCCESS")
		for _, x := range []*conn{ca, cb} {
			if l := x.expect("GROUP_MEMBER_LEFT"); l.Username != carol.name {
				t.Fatalf("%s: got %s", x.name, l.Raw)
			}
		}
		ca.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "after carol left"})
		ca.expect("SUCCESS")
		cb.expect("GROUP_CHAT")
		cc.quiet(150 * ms)
	})
}

// TestClusterPresence: a user's presence is the sum of their connections
// on every node.
func TestClusterPresence(t *testing.T) { onEachStore(t, testClusterPresence) }

func testClusterPresence(t *testing.T, store messageStore) {
	c := startClusterOn(t, store, 2)
	a, b := c.nodes[0], c.nodes[1]
	alice, bob := a.newUser("alice"), a.newUser("bob")
	contacts(t, a, bob, alice)

	pa := a.dial(alice, "presence")
	expectPresence(t, pa, bob.name, "OFFLINE")

	cb1, _, _ := b.chat(bob)
	expectPresence(t, pa, bob.name, "ONLINE")
	// A second connection on the other node changes nothing.
	cb2, _, _ := a.chat(bob)
	pa.quiet(100 * ms)
	cb1.CloseNormal()
	pa.quiet(150 * ms)
	cb2.CloseNormal()
	expectPresence(t, pa, bob.name, "OFFLINE")

	// Bob, on node B, sees alice as online in INIT_DATA though she is on A.
	_, init, _ := b.chat(bob)
	if init.Chats[0].With != alice.name || init.Chats[0].Status != "ONLINE" {
		t.Fatalf("bob's INIT_DATA: %s", init.Raw)
	}
}

// TestClusterLogout: a logout on one node closes the session's sockets on
// every node within a second.
func TestClusterLogout(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	alice := a.newUser("alice")
	onA, _, _ := a.chat(alice)
	onB, _, _ := b.chat(alice)
	start := time.Now()
	if err := b.api.Logout(context.Background(), alice.tokens.Token); err != nil {
		t.Fatalf("logout on node B: %v", err)
	}
	for _, x := range []*conn{onA, onB} {
		if code := x.closeCode(); code != 1008 {
			t.Fatalf("close code %d, want 1008", code)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("sockets closed after %v", took)
	}
	if _, err := a.api.Dial(context.Background(), "chat", alice.tokens.Token); err == nil {
		t.Fatal("node A accepted a logged-out token")
	}
}

// TestClusterNodeKilled: a node killed with SIGKILL takes its users
// OFFLINE on the other nodes within two ping intervals, and what was sent
// to them meanwhile waits for them.
func TestClusterNodeKilled(t *testing.T) { onEachStore(t, testClusterNodeKilled) }

func testClusterNodeKilled(t *testing.T, store messageStore) {
	c := startClusterOn(t, store, 1)
	a := c.nodes[0]
	victim, proc := c.process()
	alice, bob := a.newUser("alice"), a.newUser("bob")
	contacts(t, a, bob, alice)

	pa := a.dial(alice, "presence")
	expectPresence(t, pa, bob.name, "OFFLINE")
	cb, _, _ := victim.chat(bob)
	expectPresence(t, pa, bob.name, "ONLINE")
	ca, _, _ := a.chat(alice)
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "live"})
	ca.expect("SUCCESS")
	if m := cb.expect("ONE_TO_ONE_CHAT"); m.Content != "live" {
		t.Fatalf("bob: got %s", m.Raw)
	}

	proc.Kill()
	killed := time.Now()
	p := expectPresence(t, pa, bob.name, "OFFLINE")
	took := time.Since(killed)
	t.Logf("OFFLINE %v after the kill (ping interval %v)", took, clusterPing)
	if took > 2*clusterPing+500*ms {
		t.Fatalf("OFFLINE after %v, want within two ping intervals (%v)", took, 2*clusterPing)
	}
	if seen, err := time.Parse(time.RFC3339Nano, *p.LastSeen); err != nil || seen.After(killed) {
		t.Fatalf("lastSeen %s: after the kill at %v (%v)", *p.LastSeen, killed, err)
	}

	// What alice sends now is kept for bob, who comes back on node A.
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "while you were gone"})
	ca.expect("SUCCESS")
	_, _, offline := a.chat(bob)
	if len(offline) != 2 || offline[1].Content != "while you were gone" {
		t.Fatalf("bob's offline messages: %v", offline)
	}
}

// TestClusterAddressLimits: registrations, new connections and failed
// logins from one address are counted across the nodes, not per node.
func TestClusterAddressLimits(t *testing.T) {
	c := startCluster(t, 2, func(cfg *Config) {
		cfg.RateRegisterPerMin, cfg.RateConnectionsPerMin, cfg.LoginMaxFailures = 3, 4, 2
	})
	ctx := context.Background()
	created := 0
	for i := range 6 {
		err := c.nodes[i%2].api.Register(ctx, fmt.Sprintf("limited%d", i), "password-123")
		if status, _ := apiStatus(err); status == 429 {
			continue
		} else if err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
		created++
	}
	if created != 3 {
		t.Fatalf("%d of 6 registrations on two nodes went through, want the 3 a minute of one address", created)
	}
	tok, err := c.nodes[0].api.Login(ctx, "limited0", "password-123")
	if err != nil {
		t.Fatal(err)
	}
	opened, refused := 0, 0
	for i := range 6 {
		conn, err := c.nodes[i%2].api.Dial(ctx, "chat", tok.Token)
		if err != nil {
			refused++
			continue
		}
		opened++
		conn.Close()
	}
	if opened != 4 || refused != 2 {
		t.Fatalf("connections on two nodes: %d opened, %d refused; want 4 and 2", opened, refused)
	}
	// One wrong password on each node reaches the limit of 2: the right
	// one is refused on both now.
	for _, n := range c.nodes {
		if _, err := n.api.Login(ctx, "limited1", "wrong-password"); err == nil {
			t.Fatal("a wrong password logged in")
		}
	}
	for i, n := range c.nodes {
		_, err := n.api.Login(ctx, "limited1", "password-123")
		if status, _ := apiStatus(err); status != 429 {
			t.Fatalf("node %d: login after 2 failures on two nodes: %v, want 429", i, err)
		}
	}
}
