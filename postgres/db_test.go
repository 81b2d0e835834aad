package postgres_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/testenv"
	"github.com/parley-chat/parley/postgres"
	"github.com/parley-chat/parley/storetest"
)

var ctx = context.Background()

// queryInt runs a query that returns one number.
func queryInt(t testing.TB, url, sql string) int64 {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// openDB opens a store on the database at url, closed when the test ends:
// one node of a cluster.
func openDB(t testing.TB, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func open(t testing.TB) parley.Store { return openDB(t, testenv.FreshDatabase(t)) }

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func migrationFiles(t testing.TB) int64 {
	t.Helper()
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(files))
}

func TestMigrateTwice(t *testing.T) {
	url := testenv.FreshDatabase(t)
	for i := 0; i < 2; i++ {
		if err := postgres.Migrate(ctx, url); err != nil {
			t.Fatalf("migrate %d: %v", i+1, err)
		}
	}
	if n, want := queryInt(t, url, `SELECT count(*) FROM schema_migrations`), migrationFiles(t); n != want {
		t.Fatalf("schema_migrations: got %d rows, want %d", n, want)
	}
	if n := queryInt(t, url, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass`); n != 16 {
		t.Fatalf("messages partitions: got %d, want 16", n)
	}

	// Open migrates again, finds nothing to do, and the data survives.
	db := openDB(t, url)
	if err := db.CreateUser(ctx, &parley.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDB(t, url)
	if _, err := db.User(ctx, "alice"); err != nil {
		t.Fatalf("user after reopen: %v", err)
	}
}

// TestConcurrentOpen starts several nodes at once on a fresh database: the
// advisory lock lets one migrate while the others wait.
func TestConcurrentOpen(t *testing.T) {
	url := testenv.FreshDatabase(t)
	const nodes = 6
	errs := make(chan error, nodes)
	var wg sync.WaitGroup
	for i := 0; i < nodes; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 2})
			if err == nil {
				err = db.Ping(ctx)
				db.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	if n, want := queryInt(t, url, `SELECT count(*) FROM schema_migrations`), migrationFiles(t); n != want {
		t.Fatalf("schema_migrations: got %d rows, want %d", n, want)
	}
}

func TestTimes(t *testing.T) {
	url := testenv.FreshDatabase(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	db, err := postgres.Open(ctx, postgres.Config{URL: url, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := time.Date(2026, 11, 26, 11, 0, 0, 123000000, time.UTC)
	for _, n := range []string{"alice", "bob"} {
		if err := db.CreateUser(ctx, &parley.User{Username: n, PasswordHash: []byte("h"), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := db.User(ctx, "alice")
	if err != nil || u.CreatedAt != want {
		t.Fatalf("created at: got %v, %v; want %v", u.CreatedAt, err, want)
	}
	a := &parley.Append{From: "alice", To: "bob", Conv: "alice-bob", Content: "hi", ID: "m1", Time: now}
	if err := db.AppendMessages(ctx, []*parley.Append{a}); err != nil || a.Err != nil {
		t.Fatal(err, a.Err)
	}
	msgs, _, err := db.History(ctx, "alice-bob", parley.Page{Limit: 1})
	if err != nil || len(msgs) != 1 || msgs[0].Time != want || a.Message.Time != want {
		t.Fatalf("message time: got %+v / %v, %v; want %v", msgs, a.Message.Time, err, want)
	}
}

func mustUsers(t testing.TB, s parley.Store, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := s.CreateUser(ctx, &parley.User{Username: n, PasswordHash: []byte("h")}); err != nil {
			t.Fatalf("create user %s: %v", n, err)
		}
	}
}

// TestSetLastSeen stores last-seen times from two nodes at once, for
// overlapping users in whatever order their maps give: no deadlock, and a
// late, older time does not move a newer one back.
func TestSetLastSeen(t *testing.T) {
	url := testenv.FreshDatabase(t)
	nodes := []*postgres.DB{openDB(t, url), openDB(t, url)}
	var users []*parley.User
	for i := 0; i < 200; i++ {
		users = append(users, &parley.User{Username: fmt.Sprintf("user%03d", i), PasswordHash: []byte("h")})
	}
	if _, err := nodes[0].CreateUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 2*20)
	for n, db := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				seen := map[string]time.Time{"nobody": t0}
				for _, u := range users {
					seen[u.Username] = t0.Add(time.Duration(n*100+i) * time.Second)
				}
				errs <- db.SetLastSeen(ctx, seen)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("set last seen: %v", err)
		}
	}
	want := t0.Add(119 * time.Second)
	if err := nodes[0].SetLastSeen(ctx, map[string]time.Time{"user000": t0}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"user000", "user199"} {
		if u, err := nodes[1].User(ctx, name); err != nil || !u.LastSeen.Equal(want) {
			t.Fatalf("%s: last seen %v, %v; want %v", name, u.LastSeen, err, want)
		}
	}
}

// TestRepeatInLaterBatch sends, among new messages, the repeat of a stored
// one that would succeed again: the first run of the batch finds its key
// taken, and the second gets the original without using a seq.
func TestRepeatInLaterBatch(t *testing.T) {
	s := open(t)
	mustUsers(t, s, "alice", "bob")
	first := []*parley.Append{msg("alice", "bob", "k1", "m1"), msg("alice", "bob", "k2", "m2")}
	if err := s.AppendMessages(ctx, first); err != nil {
		t.Fatal(err)
	}
	batch := []*parley.Append{msg("alice", "bob", "k3", "m3"), msg("alice", "bob", "k1", "again"), msg("alice", "bob", "k4", "m4"), msg("bob", "alice", "", "m5")}
	if err := s.AppendMessages(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		id  string
		seq int64
		dup bool
	}{{"m3", 3, false}, {"m1", 1, true}, {"m4", 4, false}, {"m5", 5, false}} {
		a := batch[i]
		if a.Err != nil || a.Message.ID != want.id || a.Message.Seq != want.seq || a.Duplicate != want.dup {
			t.Fatalf("item %d: got %+v dup=%v err=%v; want %s seq %d dup=%v", i, a.Message, a.Duplicate, a.Err, want.id, want.seq, want.dup)
		}
	}
	if len(batch[1].Recipients) != 0 || batch[1].Message.To != "bob" {
		t.Fatalf("repeat: got %+v, recipients %v", batch[1].Message, batch[1].Recipients)
	}
	checkGapless(t, s, "alice-bob", 5)
}

type result struct {
	id  string
	seq int64
	dup bool
}

// appendFromNodes runs writers goroutines on each node, each appending
// rounds batches made by batch, and returns the outcomes by idempotency key.
func appendFromNodes(t *testing.T, nodes []*postgres.DB, writers, rounds int, batch func(node, w, i int) []*parley.Append) map[string][]result {
	t.Helper()
	var mu sync.Mutex
	results := map[string][]result{}
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes)*writers*rounds*4)
	for n, db := range nodes {
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < rounds; i++ {
					b := batch(n, w, i)
					if err := db.AppendMessages(ctx, b); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for _, a := range b {
						if a.Err != nil {
							errs <- a.Err
						}
						if a.ClientID != "" {
							results[a.ClientID] = append(results[a.ClientID], result{a.Message.ID, a.Message.Seq, a.Duplicate})
						}
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	return results
}

// checkOnce checks that each key was sent by every node and stored once:
// one outcome is the original, the others duplicates of it.
func checkOnce(t *testing.T, results map[string][]result, nodes int) {
	t.Helper()
	for key, rs := range results {
		originals := 0
		for _, r := range rs {
			if !r.dup {
				originals++
			}
			if r.id != rs[0].id || r.seq != rs[0].seq {
				t.Fatalf("key %s: got %+v, want one message", key, rs)
			}
		}
		if len(rs) != nodes || originals != 1 {
			t.Fatalf("key %s: got %+v, want one original and %d duplicates", key, rs, nodes-1)
		}
	}
}

// checkGapless checks that conv holds messages 1 to want.
func checkGapless(t *testing.T, s parley.Store, conv string, want int) {
	t.Helper()
	var seqs []int64
	for after := int64(0); ; {
		page, more, err := s.History(ctx, conv, parley.Page{Forward: true, After: after, Limit: parley.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			seqs = append(seqs, m.Seq)
		}
		if !more {
			break
		}
		after = page[len(page)-1].Seq
	}
	if len(seqs) != want {
		t.Fatalf("%s: got %d messages, want %d", conv, len(seqs), want)
	}
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("%s: seq %d at position %d: gap or duplicate", conv, seq, i)
		}
	}
}

func msg(from, to, clientID, id string) *parley.Append {
	return &parley.Append{ClientID: clientID, From: from, To: to, Conv: parley.ChatID(from, to), Content: "x", ID: id}
}

// TestTwoNodes appends from two stores on one database, as two parleyd
// nodes would, to the same conversations in opposite orders and with the
// same idempotency keys: seqs stay gapless, batches do not deadlock, and
// each key is stored once.
func TestTwoNodes(t *testing.T) {
	url := testenv.FreshDatabase(t)
	nodes := []*postgres.DB{openDB(t, url), openDB(t, url)}
	mustUsers(t, nodes[0], "alice", "bob", "carol")
	const writers, rounds = 4, 25
	results := appendFromNodes(t, nodes, writers, rounds, func(n, w, i int) []*parley.Append {
		batch := []*parley.Append{
			msg("alice", "bob", fmt.Sprintf("b%d-%d", w, i), fmt.Sprintf("n%d-b%d-%d", n, w, i)),
			msg("alice", "carol", fmt.Sprintf("c%d-%d", w, i), fmt.Sprintf("n%d-c%d-%d", n, w, i)),
			msg("bob", "alice", "", fmt.Sprintf("n%d-y%d-%d", n, w, i)),
		}
		if n == 1 {
			slices.Reverse(batch)
		}
		return batch
	})
	checkOnce(t, results, len(nodes))
	checkGapless(t, nodes[1], "alice-bob", 3*writers*rounds)
	checkGapless(t, nodes[1], "alice-carol", writers*rounds)
}

// TestTwoNodesKeyRace sends each idempotency key from two nodes to two
// different conversations, so that no conversation lock orders them: the
// batches race on the key itself, and the loser finds the winner's message.
func TestTwoNodesKeyRace(t *testing.T) {
	url := testenv.FreshDatabase(t)
	nodes := []*postgres.DB{openDB(t, url), openDB(t, url)}
	mustUsers(t, nodes[0], "alice", "bob", "carol")
	const writers, rounds = 4, 50
	peers := []string{"bob", "carol"}
	results := appendFromNodes(t, nodes, writers, rounds, func(n, w, i int) []*parley.Append {
		return []*parley.Append{msg("alice", peers[n], fmt.Sprintf("k%d-%d", w, i), fmt.Sprintf("n%d-%d-%d", n, w, i))}
	})
	checkOnce(t, results, len(nodes))
	counts := map[string]int{}
	for _, rs := range results {
		counts[rs[0].id[:2]]++
	}
	checkGapless(t, nodes[0], "alice-bob", counts["n0"])
	checkGapless(t, nodes[0], "alice-carol", counts["n1"])
}

// TestJoinWhileAppending joins users to a group on one node while another
// appends to it: every message after a newcomer's starting cursor lists it
// as a recipient, and none before.
func TestJoinWhileAppending(t *testing.T) {
	url := testenv.FreshDatabase(t)
	a, b := openDB(t, url), openDB(t, url)
	mustUsers(t, a, "alice")
	var joiners []string
	for i := 0; i < 20; i++ {
		joiners = append(joiners, fmt.Sprintf("user%02d", i))
	}
	mustUsers(t, a, joiners...)
	g := &parley.Group{ID: "g", Name: "g", Owner: "alice"}
	if err := a.CreateGroup(ctx, g, nil, time.Now()); err != nil {
		t.Fatal(err)
	}

	recipients := map[int64][]string{}
	done := make(chan struct{})
	appended := make(chan error, 1)
	go func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				appended <- nil
				return
			default:
			}
			batch := []*parley.Append{
				{From: "alice", Conv: "g", Content: "x", ID: fmt.Sprintf("a%d", n)},
				{From: "alice", Conv: "g", Content: "y", ID: fmt.Sprintf("b%d", n)},
			}
			if err := a.AppendMessages(ctx, batch); err != nil {
				appended <- err
				return
			}
			for _, x := range batch {
				recipients[x.Message.Seq] = x.Recipients
			}
		}
	}()
	for _, u := range joiners {
		if _, err := b.JoinGroup(ctx, "g", u, time.Now()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	close(done)
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	for _, u := range joiners {
		in, err := b.Inbox(ctx, u)
		if err != nil || len(in.Groups) != 1 {
			t.Fatalf("inbox of %s: %+v, %v", u, in, err)
		}
		cursor := in.Groups[0].Cursor
		for seq, rs := range recipients {
			if got, want := slices.Contains(rs, u), seq > cursor; got != want {
				t.Fatalf("%s joined at cursor %d; message %d lists it as a recipient: %v, want %v", u, cursor, seq, got, want)
			}
		}
	}
}

// TestConcurrentRefresh refreshes one token from two nodes at once: exactly
// one refresh wins, and the other counts as a reuse.
func TestConcurrentRefresh(t *testing.T) {
	url := testenv.FreshDatabase(t)
	nodes := []*postgres.DB{openDB(t, url), openDB(t, url)}
	mustUsers(t, nodes[0], "alice")
	now := time.Now()
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("s%d", i)
		if err := nodes[0].CreateSession(ctx, &parley.Session{ID: id, Username: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, "r-"+id); err != nil {
			t.Fatal(err)
		}
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for n, db := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[n] = db.RotateRefresh(ctx, "r-"+id, fmt.Sprintf("r-%s-%d", id, n), now, now.Add(2*time.Hour), 0)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch parley.ErrorCode(err) {
			case "":
				ok++
			case parley.EUNAUTHORIZED:
			default:
				t.Fatalf("refresh: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("session %s: %d refreshes succeeded, want 1 (%v)", id, ok, errs)
		}
	}
}

// TestAccountConformance runs the account half of the suite, the
// Directory's tests included, on the store as the account store of a
// parley.Split.
func TestAccountConformance(t *testing.T) {
	storetest.RunAccounts(t, func(t testing.TB) parley.AccountStore { return openDB(t, testenv.FreshDatabase(t)) })
}

// TestDirectoryAcrossNodes: a node's GroupMembers and UserGroups see a
// membership change made through another node at once, as a cluster's
// message log needs (a stale member list would send a group's messages to
// a member who left, or not to one who joined).
func TestDirectoryAcrossNodes(t *testing.T) {
	url := testenv.FreshDatabase(t)
	a, b := openDB(t, url), openDB(t, url)
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := a.CreateUser(ctx, &parley.User{Username: u, PasswordHash: []byte("h")}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if err := a.CreateGroup(ctx, &parley.Group{ID: "g1", Name: "g", Owner: "alice", CreatedAt: now}, []string{"bob"}, now); err != nil {
		t.Fatal(err)
	}
	members := func(want ...string) {
		t.Helper()
		// Read twice: a cache would answer the second.
		for range 2 {
			if m, err := b.GroupMembers(ctx, "g1"); err != nil || !slices.Equal(m, want) {
				t.Fatalf("members on node B: got %v, %v; want %v", m, err, want)
			}
		}
	}
	members("alice", "bob")
	if _, err := a.JoinGroup(ctx, "g1", "carol", now); err != nil {
		t.Fatal(err)
	}
	members("alice", "bob", "carol")
	if _, err := a.RemoveMember(ctx, "g1", "bob", "bob", now); err != nil {
		t.Fatal(err)
	}
	members("alice", "carol")
	if gs, err := b.UserGroups(ctx, "bob"); err != nil || len(gs) != 0 {
		t.Fatalf("bob's groups on node B after leaving on A: %v, %v", gs, err)
	}
	if _, err := a.DeleteUser(ctx, "alice", now); err != nil {
		t.Fatal(err)
	}
	members("carol")
}
