package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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
