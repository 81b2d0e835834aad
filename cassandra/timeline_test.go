package cassandra_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/cassandra"
)

func act(kind parley.EntryKind, from, to string, target int64, clientID, id string) *parley.Append {
	return &parley.Append{Kind: kind, Target: target, ClientID: clientID, From: from, To: to, Conv: parley.ChatID(from, to),
		ID: id, Time: time.Now(), Recipients: []string{to}}
}

func appendAll(t *testing.T, db *cassandra.DB, batch ...*parley.Append) {
	t.Helper()
	if err := db.AppendMessages(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, a := range batch {
		if a.Err != nil {
			t.Fatalf("append %+v: %v", a, a.Err)
		}
	}
}

// TestDeletionErasesContent: deleting a message overwrites its content and
// its edits' in the rows Cassandra keeps, in whichever bucket they lie.
func TestDeletionErasesContent(t *testing.T) {
	db, cfg := open(t) // buckets of 5: the edit and the deletion lie in later buckets
	appendAll(t, db, direct("alice", "bob", "the secret is 1234", "m1", "id-1"))
	for i := range 6 {
		appendAll(t, db, direct("bob", "alice", fmt.Sprintf("filler %d", i), "", fmt.Sprintf("id-f%d", i)))
	}
	e := act(parley.KindEdit, "alice", "bob", 1, "e1", "id-e")
	e.Content = "the secret is 5678"
	appendAll(t, db, e)
	for i := range 4 {
		appendAll(t, db, direct("bob", "alice", fmt.Sprintf("more %d", i), "", fmt.Sprintf("id-g%d", i)))
	}
	if h := history(t, db, "alice-bob"); h[0].Content != "the secret is 5678" || !h[0].Edited {
		t.Fatalf("edited message: got %+v", h[0])
	}
	appendAll(t, db, act(parley.KindDelete, "alice", "bob", 1, "d1", "id-d"))

	s := rawSession(t, cfg)
	iter := s.Query(`SELECT seq, content FROM messages WHERE conv = ? AND bucket IN (0, 1, 2, 3)`, "alice-bob").Iter()
	var seq int64
	var content string
	rows := 0
	for iter.Scan(&seq, &content) {
		rows++
		if strings.Contains(content, "secret") {
			t.Errorf("row %d still holds %q", seq, content)
		}
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if rows != 13 {
		t.Fatalf("read %d rows, want 13", rows)
	}
	h := history(t, db, "alice-bob")
	if !h[0].Deleted || h[0].Content != "" || h[7].Kind != parley.KindEdit || h[7].Content != "" {
		t.Fatalf("after the deletion: %+v, %+v", h[0], h[7])
	}
}

// TestRepeatRepairsEntry: an entry stored without the rows that let reads
// of its target find it (a crash right after its batch) is recorded when
// its client repeats it.
func TestRepeatRepairsEntry(t *testing.T) {
	db, cfg := open(t)
	appendAll(t, db, direct("alice", "bob", "react to me", "m1", "id-1"))
	r := act(parley.KindReaction, "bob", "alice", 1, "r1", "id-r")
	r.Emoji = "👍"
	appendAll(t, db, r)
	s := rawSession(t, cfg)
	for _, q := range []string{
		`DELETE FROM timeline_entries WHERE conv = 'alice-bob' AND target = 1`,
		`UPDATE messages SET has_entries = null WHERE conv = 'alice-bob' AND bucket = 0 AND seq = 1`,
	} {
		if err := s.Query(q).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	if h := history(t, db, "alice-bob"); len(h[0].Reactions) != 0 {
		t.Fatalf("the lost rows still show: %+v", h[0])
	}
	again := act(parley.KindReaction, "bob", "alice", 1, "r1", "id-r2")
	again.Emoji = "👍"
	appendAll(t, db, again)
	if !again.Duplicate || again.Message.Seq != 2 {
		t.Fatalf("repeat: got %+v", again)
	}
	if h := history(t, db, "alice-bob"); len(h) != 2 || len(h[0].Reactions) != 1 || h[0].Reactions[0].Users[0] != "bob" {
		t.Fatalf("after the repeat: %+v", h)
	}
}
