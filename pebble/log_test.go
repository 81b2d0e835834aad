package pebble_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/pebble"
	"github.com/parley-chat/parley/sqlite"
	"github.com/parley-chat/parley/storetest"
)

// open returns an account store and a message log in a fresh data
// directory, put together as parleyd does.
func open(t testing.TB) parley.Store {
	t.Helper()
	dir := t.TempDir()
	accounts, err := sqlite.Open(context.Background(), sqlite.Config{Path: dir + "/parley.db", Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	log, err := pebble.Open(dir+"/messages", pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := parley.Split(accounts, log)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.RunMessages(t, open) }

// TestClosed: every use of a closed log is unavailable, never a panic.
func TestClosed(t *testing.T) {
	log, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log.Close()
	ctx := context.Background()
	check := func(name string, err error) {
		t.Helper()
		if parley.ErrorCode(err) != parley.EUNAVAILABLE {
			t.Errorf("%s after Close: got %v, want unavailable", name, err)
		}
	}
	_, _, err = log.History(ctx, "a-b", parley.Page{Limit: 10})
	check("History", err)
	_, err = log.Undelivered(ctx, "a", "a-b", 0, 10)
	check("Undelivered", err)
	_, err = log.Inbox(ctx, "a", nil)
	check("Inbox", err)
	_, err = log.Contacts(ctx, "a")
	check("Contacts", err)
	_, err = log.LastSeq(ctx, "a-b")
	check("LastSeq", err)
	_, err = log.Stats(ctx)
	check("Stats", err)
	check("Ping", log.Ping(ctx))
	check("Ack", log.Ack(ctx, []parley.Cursor{{Username: "a", Conv: "a-b", Seq: 1}}))
	check("AppendMessages", log.AppendMessages(ctx, []*parley.Append{{From: "a", To: "b", Conv: "a-b", Content: "x", ID: "1"}}))
	check("Backup", log.Backup(t.TempDir()+"/copy"))
	if err := log.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

// TestBlockCacheKeepsBlocks: the block cache holds the tables' blocks
// whatever the memtables take. Pebble charges its memtables to the block
// cache, and a cache no larger than them kept nothing, so that every
// idempotency lookup read each table's filter from the file.
func TestBlockCacheKeepsBlocks(t *testing.T) {
	log, err := pebble.Open(t.TempDir(), pebble.Options{CacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	ctx := context.Background()
	n := 0
	// Enough batches to flush several memtables into tables, each batch
	// looking up its idempotency keys in the tables written before.
	for batch := 0; batch < 60; batch++ {
		var appends []*parley.Append
		for i := 0; i < 200; i++ {
			n++
			from, to := fmt.Sprintf("u%03d", n%100), fmt.Sprintf("v%03d", n%100)
			appends = append(appends, &parley.Append{From: from, To: to, Conv: parley.ChatID(from, to),
				ClientID: fmt.Sprint("c", n), ID: fmt.Sprint("m", n), Content: strings.Repeat("x", 150), Recipients: []string{to}})
		}
		if err := log.AppendMessages(ctx, appends); err != nil {
			t.Fatal(err)
		}
	}
	st, err := log.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.CacheHits == 0 || st.CacheHits < st.CacheMisses {
		t.Fatalf("block cache: %d hits, %d misses; want most reads answered from memory", st.CacheHits, st.CacheMisses)
	}
	t.Logf("block cache: %d hits, %d misses", st.CacheHits, st.CacheMisses)
}
