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

func open(t testing.TB) parley.AccountStore {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "parley.db"), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) { storetest.RunAccounts(t, open) }

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
			users := make([]*parley.User, 500)
			for i := range users {
				users[i] = &parley.User{Username: fmt.Sprintf("user%03d", i), PasswordHash: []byte(strings.Repeat("x", 200)), CreatedAt: time.Now()}
			}
			if n, err := db.CreateUsers(ctx, users); err != nil || n != len(users) {
				t.Fatalf("create users: %d, %v", n, err)
			}
			// 500 users with 200-byte hashes are over 100 KB of pages.
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
			// Whatever was copied, the users read back whole.
			u, err := db.User(ctx, "user499")
			if err != nil || string(u.PasswordHash) != string(users[499].PasswordHash) {
				t.Fatalf("a user after the checkpoint: %+v, %v", u, err)
			}
		})
	}
}
