package pebble_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/pebble"
)

// TestDeletionPurged: once a message is deleted, its content (and its
// edits') is in none of the log's files after Close.
func TestDeletionPurged(t *testing.T) {
	dir := t.TempDir()
	log, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Now()
	secret := "a secret that must go " + at.Format(time.RFC3339Nano)
	send := &parley.Append{From: "alice", To: "bob", Conv: "alice-bob", ClientID: "m1", ID: "id1", Content: secret, Time: at}
	edit := &parley.Append{From: "alice", To: "bob", Conv: "alice-bob", ClientID: "e1", ID: "id2", Kind: parley.KindEdit, Target: 1, Content: secret + " (edited)", Time: at}
	other := &parley.Append{From: "bob", To: "alice", Conv: "alice-bob", ClientID: "m2", ID: "id3", Content: "an answer that stays", Time: at}
	for _, a := range []*parley.Append{send, edit, other} {
		if err := log.AppendMessages(ctx, []*parley.Append{a}); err != nil || a.Err != nil {
			t.Fatalf("append: %v %v", err, a.Err)
		}
	}
	del := &parley.Append{From: "alice", To: "bob", Conv: "alice-bob", ID: "id4", Kind: parley.KindDelete, Target: 1, Time: at}
	if err := log.AppendMessages(ctx, []*parley.Append{del}); err != nil || del.Err != nil {
		t.Fatalf("delete: %v %v", err, del.Err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	// The tables no longer hold it; the write-ahead log that did is kept
	// for reuse while the log is open, and removed when it opens again.
	if where := filesWith(t, dir, secret); len(where) > 1 || len(where) == 1 && filepath.Ext(where[0]) != ".log" {
		t.Fatalf("after the purge, the deleted content is in %v", where)
	}
	if log, err = pebble.Open(dir, pebble.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if where := filesWith(t, dir, secret); len(where) > 0 {
		t.Fatalf("after a restart, the deleted content is in %v", where)
	}
	if where := filesWith(t, dir, "an answer that stays"); len(where) == 0 {
		t.Fatal("the message that was not deleted is gone")
	}
}

// filesWith lists the files under dir that hold text.
func filesWith(t *testing.T, dir, text string) []string {
	t.Helper()
	var where []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if bytes.Contains(data, []byte(text)) {
			where = append(where, filepath.Base(path))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return where
}
