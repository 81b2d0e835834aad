package pebble_test

import (
	"context"
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
