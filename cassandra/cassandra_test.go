package cassandra_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/cassandra"
	"github.com/parley-chat/parley/internal/testenv"
	"github.com/parley-chat/parley/sqlite"
	"github.com/parley-chat/parley/storetest"
)

var ctx = context.Background()

// TestMain says when the tests that need Cassandra were skipped, and which
// variable would run them.
func TestMain(m *testing.M) { testenv.Main(m, "cassandra") }

// open opens a log on a fresh keyspace, with small buckets so that tests
// cross partitions.
func open(t testing.TB) (*cassandra.DB, cassandra.Config) {
	t.Helper()
	hosts := testenv.CassandraHosts(t)
	cfg := cassandra.Config{Hosts: hosts, Keyspace: testenv.FreshKeyspace(t, hosts), BucketSize: 5}
	if len(hosts) >= 3 {
		// A cluster: three replicas, so that LOCAL_QUORUM and the Paxos
		// rounds span nodes.
		cfg.Replication = "{'class': 'SimpleStrategy', 'replication_factor': 3}"
	}
	return openConfig(t, cfg), cfg
}

func openConfig(t testing.TB, cfg cassandra.Config) *cassandra.DB {
	t.Helper()
	db, err := cassandra.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func splitStore(t testing.TB) parley.Store {
	t.Helper()
	log, _ := open(t)
	acc, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "accounts.db")})
	if err != nil {
		t.Fatal(err)
	}
	s := parley.Split(acc, log)
	t.Cleanup(func() { acc.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunMessages(t, func(t testing.TB) parley.Store { return splitStore(t) })
}

func direct(from, to, content, clientID, id string) *parley.Append {
	return &parley.Append{ClientID: clientID, From: from, To: to, Conv: parley.ChatID(from, to), Content: content, ID: id,
		Time: time.Now(), Recipients: []string{to}}
}

func history(t testing.TB, db *cassandra.DB, conv string) []parley.Message {
	t.Helper()
	var all []parley.Message
	after := int64(0)
	for {
		page, more, err := db.History(ctx, conv, parley.Page{Forward: true, After: after, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if !more {
			return all
		}
		after = page[len(page)-1].Seq
	}
}

// Two nodes append to one conversation at once: seqs stay gapless across
// bucket boundaries and every message is stored once. An item may fail
// with EUNAVAILABLE when Cassandra times out (a loaded cluster does); the
// invariants must hold all the same.
func TestTwoNodesAppendGapless(t *testing.T) {
	a, cfg := open(t)
	b := openConfig(t, cfg)
	const writers, each, per = 6, 10, 3
	var mu sync.Mutex
	stored := map[string]int64{} // id -> seq, of the items that succeeded
	failed := 0
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var batch []*parley.Append
				for j := 0; j < per; j++ {
					id := fmt.Sprintf("w%d-%d-%d", w, i, j)
					batch = append(batch, direct("alice", "bob", id, id, id))
				}
				if err := db.AppendMessages(ctx, batch); err != nil {
					if parley.ErrorCode(err) == parley.EUNAVAILABLE {
						mu.Lock()
						failed += len(batch)
						mu.Unlock()
						continue
					}
					errs <- err
					return
				}
				mu.Lock()
				for j, x := range batch {
					switch {
					case parley.ErrorCode(x.Err) == parley.EUNAVAILABLE:
						failed++
					case x.Err != nil || x.Duplicate:
						errs <- fmt.Errorf("item %d: %v dup=%v", j, x.Err, x.Duplicate)
					default:
						stored[x.ID] = x.Message.Seq
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if failed > 0 {
		t.Logf("%d of %d items failed as unavailable", failed, writers*each*per)
	}
	all := history(t, b, "alice-bob")
	ids := map[string]bool{}
	for i, m := range all {
		if m.Seq != int64(i+1) {
			t.Fatalf("seq %d at position %d: a gap or a duplicate", m.Seq, i)
		}
		if ids[m.ID] {
			t.Fatalf("message %s stored twice", m.ID)
		}
		ids[m.ID] = true
	}
	for id, seq := range stored {
		if seq < 1 || seq > int64(len(all)) || all[seq-1].ID != id {
			t.Fatalf("message %s was reported at seq %d, which holds another", id, seq)
		}
	}
	// Every item is stored once or failed (a failed one may still have
	// been stored when its outcome was unknown).
	if len(all) < len(stored) || len(all) > len(stored)+failed {
		t.Fatalf("stored %d messages for %d successes and %d failures", len(all), len(stored), failed)
	}
	if failed == 0 && len(all) != writers*each*per {
		t.Fatalf("got %d messages, want %d", len(all), writers*each*per)
	}
	if last, err := a.LastSeq(ctx, "alice-bob"); err != nil || last != int64(len(all)) {
		t.Fatalf("last seq: got %d, %v; want %d", last, err, len(all))
	}
	// Paging back across buckets, from far beyond the end.
	page, more, err := a.History(ctx, "alice-bob", parley.Page{Before: 1 << 40, Limit: 12})
	if err != nil || len(page) != 12 || !more || page[11].Seq != int64(len(all)) || page[0].Seq != int64(len(all)-11) {
		t.Fatalf("newest 12 from far beyond the end: got %d messages (more=%v), %v", len(page), more, err)
	}
}

// Repeats of one (sender, client id) on two nodes at once store one
// message, and every repeat answers with it.
func TestTwoNodesRepeatsStoreOnce(t *testing.T) {
	a, cfg := open(t)
	b := openConfig(t, cfg)
	for round := 0; round < 5; round++ {
		key := fmt.Sprintf("k%d", round)
		const tries = 8
		results := make([]*parley.Append, tries)
		var wg sync.WaitGroup
		for i := 0; i < tries; i++ {
			db := a
			if i%2 == 1 {
				db = b
			}
			results[i] = direct("alice", "bob", "once", key, fmt.Sprintf("%s-try%d", key, i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := db.AppendMessages(ctx, []*parley.Append{results[i]}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		news := 0
		for i, r := range results {
			if r.Err != nil {
				t.Fatalf("round %d try %d: %v", round, i, r.Err)
			}
			if !r.Duplicate {
				news++
			}
			if r.Message.ID != results[0].Message.ID || r.Message.Seq != int64(round+1) {
				t.Fatalf("round %d try %d: got %+v, want the one message %+v", round, i, r.Message, results[0].Message)
			}
		}
		if news != 1 {
			t.Fatalf("round %d: %d tries stored a new message, want 1", round, news)
		}
	}
	if all := history(t, a, "alice-bob"); len(all) != 5 {
		t.Fatalf("stored %d messages, want 5", len(all))
	}
}

// Two nodes whose batches hold the same keys in opposite orders each win
// some claims. Neither waits for the other's keys before storing its own,
// so every message is stored once, well within the lease, and both nodes
// answer with the same message for each key.
func TestTwoNodesCrossedRepeats(t *testing.T) {
	_, cfg := open(t)
	cfg.Lease = time.Minute
	a := openConfig(t, cfg)
	b := openConfig(t, cfg)
	const rounds, keys = 5, 6
	for round := range rounds {
		var batches [2][]*parley.Append
		for i := range keys {
			for n := range batches {
				k := i
				if n == 1 {
					k = keys - 1 - i
				}
				key := fmt.Sprintf("r%d-k%d", round, k)
				batches[n] = append(batches[n], direct("alice", "bob", key, key, fmt.Sprintf("%s-node%d", key, n)))
			}
		}
		// Well within the lease: a writer waiting for the other's keys
		// before storing its own would wait a whole lease.
		wctx, cancel := context.WithTimeout(ctx, cfg.Lease/2)
		var wg sync.WaitGroup
		for n, db := range []*cassandra.DB{a, b} {
			wg.Go(func() {
				if err := db.AppendMessages(wctx, batches[n]); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		cancel()
		byKey := map[string]parley.Message{}
		for n, batch := range batches {
			for _, x := range batch {
				if x.Err != nil {
					t.Fatalf("round %d node %d %s: %v", round, n, x.ClientID, x.Err)
				}
				if m, ok := byKey[x.ClientID]; ok && (m.ID != x.Message.ID || m.Seq != x.Message.Seq) {
					t.Fatalf("round %d %s: answered %+v and %+v", round, x.ClientID, m, x.Message)
				}
				byKey[x.ClientID] = x.Message
			}
		}
	}
	all := history(t, a, "alice-bob")
	if len(all) != rounds*keys {
		t.Fatalf("stored %d messages, want %d", len(all), rounds*keys)
	}
	for i, m := range all {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
	}
}

// A batch holding a key another writer claimed stores its other messages
// without waiting for that writer, and waits only for the claimed key.
func TestHeldKeyDoesNotHoldTheBatch(t *testing.T) {
	_, cfg := open(t)
	cfg.Lease = time.Minute
	db := openConfig(t, cfg)
	s := rawSession(t, cfg)
	if err := s.Query(`INSERT INTO client_ids (sender, client_id, msg_id, conv, base, claimed_at) VALUES (?, ?, ?, ?, ?, ?)`,
		"alice", "held", "m-other", "alice-bob", 0, time.Now()).Exec(); err != nil {
		t.Fatal(err)
	}
	free := direct("alice", "bob", "free", "free", "m-free")
	held := direct("alice", "bob", "held", "held", "m-held")
	done := make(chan error, 1)
	go func() { done <- db.AppendMessages(ctx, []*parley.Append{held, free}) }()
	for deadline := time.Now().Add(cfg.Lease / 2); ; {
		if all := history(t, db, "alice-bob"); len(all) == 1 && all[0].ID == "m-free" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the batch returned (%v) while its key was held", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the free message was not stored while another writer held the batch's other key")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The other writer dies: once its claim is old, the waiting batch
	// takes the key over and stores its message.
	if err := s.Query(`UPDATE client_ids SET claimed_at = ? WHERE sender = ? AND client_id = ?`,
		time.Now().Add(-time.Hour), "alice", "held").Exec(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if free.Err != nil || held.Err != nil {
		t.Fatalf("errors: %v, %v", free.Err, held.Err)
	}
	if free.Message.Seq != 1 || held.Message.Seq != 2 || held.Duplicate || held.Message.ID != "m-held" {
		t.Fatalf("got free %+v, held %+v (duplicate %v)", free.Message, held.Message, held.Duplicate)
	}
}

// A node that died between claiming a key and storing its message leaves
// a claim; once its lease ends a repeat stores the message. A node that
// died after storing the message but before recording its seq in the
// claim leaves a claim a repeat resolves by finding the message.
func TestClaimLeftByACrash(t *testing.T) {
	db, cfg := open(t)
	s := rawSession(t, cfg)
	old := time.Now().Add(-time.Hour)
	if err := s.Query(`INSERT INTO client_ids (sender, client_id, msg_id, conv, base, claimed_at) VALUES (?, ?, ?, ?, ?, ?)`,
		"alice", "ghost", "m-ghost", "alice-bob", 0, old).Exec(); err != nil {
		t.Fatal(err)
	}
	x := direct("alice", "bob", "after a crash", "ghost", "m-real")
	if err := db.AppendMessages(ctx, []*parley.Append{x}); err != nil || x.Err != nil {
		t.Fatalf("append: %v, %v", err, x.Err)
	}
	if x.Duplicate || x.Message.Seq != 1 || x.Message.ID != "m-real" {
		t.Fatalf("a stale claim is taken over: got %+v dup=%v", x.Message, x.Duplicate)
	}

	y := direct("alice", "bob", "stored, seq not recorded", "half", "m-half")
	if err := db.AppendMessages(ctx, []*parley.Append{y}); err != nil || y.Err != nil {
		t.Fatalf("append: %v, %v", err, y.Err)
	}
	if err := s.Query(`UPDATE client_ids SET seq = null, claimed_at = ? WHERE sender = ? AND client_id = ?`, old, "alice", "half").Exec(); err != nil {
		t.Fatal(err)
	}
	z := direct("alice", "bob", "repeat", "half", "m-repeat")
	if err := db.AppendMessages(ctx, []*parley.Append{z}); err != nil || z.Err != nil {
		t.Fatalf("append: %v, %v", err, z.Err)
	}
	if !z.Duplicate || z.Message.ID != "m-half" || z.Message.Seq != 2 {
		t.Fatalf("repeat of a stored message with no seq in its claim: got %+v dup=%v", z.Message, z.Duplicate)
	}
	if all := history(t, db, "alice-bob"); len(all) != 2 {
		t.Fatalf("stored %d messages, want 2", len(all))
	}
}

// Nodes starting at once on a new keyspace apply the migrations together.
func TestConcurrentOpen(t *testing.T) {
	hosts := testenv.CassandraHosts(t)
	cfg := cassandra.Config{Hosts: hosts, Keyspace: testenv.FreshKeyspace(t, hosts)}
	var wg sync.WaitGroup
	dbs := make([]*cassandra.DB, 3)
	errs := make([]error, 3)
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = cassandra.Open(ctx, cfg)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	x := direct("alice", "bob", "hi", "", "m1")
	if err := dbs[2].AppendMessages(ctx, []*parley.Append{x}); err != nil || x.Err != nil || x.Message.Seq != 1 {
		t.Fatalf("append after a concurrent open: %v %v %+v", err, x.Err, x.Message)
	}
}

func TestUnavailable(t *testing.T) {
	t.Run("Open", func(t *testing.T) {
		_, err := cassandra.Open(ctx, cassandra.Config{Hosts: []string{"127.0.0.1:1"}, ConnectTimeout: time.Second, Timeout: time.Second})
		if parley.ErrorCode(err) != parley.EUNAVAILABLE {
			t.Fatalf("open with Cassandra down: got %v (code %s), want unavailable", err, parley.ErrorCode(err))
		}
	})
	t.Run("Closed", func(t *testing.T) {
		db, _ := open(t)
		db.Close()
		x := direct("alice", "bob", "hi", "k", "m1")
		err := db.AppendMessages(ctx, []*parley.Append{x})
		if parley.ErrorCode(err) != parley.EUNAVAILABLE {
			t.Fatalf("append on a closed log: got %v (code %s), want unavailable", err, parley.ErrorCode(err))
		}
		if parley.ErrorMessage(err) == "internal error" {
			t.Fatalf("an unavailable error must show its domain message, got %q", parley.ErrorMessage(err))
		}
		check := func(name string, err error) {
			t.Helper()
			if parley.ErrorCode(err) != parley.EUNAVAILABLE {
				t.Errorf("%s on a closed log: got %v, want unavailable", name, err)
			}
		}
		_, _, err = db.History(ctx, "alice-bob", parley.Page{Limit: 5})
		check("History", err)
		_, err = db.Undelivered(ctx, "bob", "alice-bob", 0, 10)
		check("Undelivered", err)
		_, err = db.Inbox(ctx, "bob", nil)
		check("Inbox", err)
		_, err = db.Contacts(ctx, "bob")
		check("Contacts", err)
		_, err = db.LastSeq(ctx, "alice-bob")
		check("LastSeq", err)
		_, err = db.Stats(ctx)
		check("Stats", err)
		check("Ping", db.Ping(ctx))
		check("Ack", db.Ack(ctx, []parley.Cursor{{Username: "bob", Conv: "alice-bob", Seq: 1}}))
	})
}

func rawSession(t testing.TB, cfg cassandra.Config) *gocql.Session {
	t.Helper()
	c := gocql.NewCluster(cfg.Hosts...)
	c.Keyspace = cfg.Keyspace
	c.Consistency = gocql.LocalQuorum
	s, err := c.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// A second Open on a migrated keyspace applies nothing again, and every
// migration is recorded once.
func TestMigrationsRecorded(t *testing.T) {
	_, cfg := open(t)
	openConfig(t, cfg)
	s := rawSession(t, cfg)
	var versions []int
	iter := s.Query(`SELECT version FROM schema_migrations`).Iter()
	var v int
	for iter.Scan(&v) {
		versions = append(versions, v)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(versions)
	if !slices.Equal(versions, []int{1, 2, 3, 4}) {
		t.Fatalf("recorded migrations: got %v, want 1 to 4", versions)
	}
	var grace int
	if err := s.Query(`SELECT gc_grace_seconds FROM system_schema.tables WHERE keyspace_name = ? AND table_name = 'cursors'`, cfg.Keyspace).Scan(&grace); err != nil || grace != 3600 {
		t.Fatalf("cursors' gc_grace_seconds: got %d, %v; want 3600", grace, err)
	}
}
