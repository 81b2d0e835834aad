package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/sqlite"
	"github.com/parley-chat/parley/storetest"
)

func open(t testing.TB) parley.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "parley.db"), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, &parley.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Migrations are applied once; the data survives.
	db, err = sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if _, err := db.User(ctx, "alice"); err != nil {
		t.Fatalf("user after reopen: %v", err)
	}
}

// TestBackgroundCheckpoint checks that the background checkpointer copies
// the WAL into the database file while the store stays open and far below
// CheckpointPages, and that nothing does when it is turned off.
func TestBackgroundCheckpoint(t *testing.T) {
	for _, c := range []struct {
		name  string
		every time.Duration
	}{{"on", 20 * time.Millisecond}, {"off", -1}} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "parley.db")
			ctx := context.Background()
			db, err := sqlite.Open(ctx, sqlite.Config{Path: path, CheckpointEvery: c.every})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			size := func() int64 {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				return fi.Size()
			}
			before := size()
			for _, u := range []string{"alice", "bob"} {
				if err := db.CreateUser(ctx, &parley.User{Username: u, PasswordHash: []byte("h")}); err != nil {
					t.Fatal(err)
				}
			}
			batch := make([]*parley.Append, 500)
			for i := range batch {
				batch[i] = &parley.Append{ID: fmt.Sprint(i), ClientID: fmt.Sprint("c", i), From: "alice", To: "bob",
					Conv: parley.ChatID("alice", "bob"), Content: strings.Repeat("x", 200), Time: time.Now()}
			}
			if err := db.AppendMessages(ctx, batch); err != nil {
				t.Fatal(err)
			}
			// 500 messages of 200 bytes are over 100 KB of pages.
			deadline := time.Now().Add(5 * time.Second)
			if c.every < 0 {
				deadline = time.Now().Add(300 * time.Millisecond)
			}
			for size() < before+100_000 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			copied := size() >= before+100_000
			if copied != (c.every > 0) {
				t.Fatalf("database file %d → %d bytes with CheckpointEvery %v", before, size(), c.every)
			}
			// Whatever was copied, the messages read back whole.
			msgs, _, err := db.History(ctx, parley.ChatID("alice", "bob"), parley.Page{Forward: true, Limit: parley.MaxPageSize})
			if err != nil || len(msgs) == 0 || msgs[0].Seq != 1 || msgs[0].Content != batch[0].Content {
				t.Fatalf("history after the checkpoint: %d messages, %v", len(msgs), err)
			}
		})
	}
}
