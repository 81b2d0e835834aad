package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/sqlite"
)

// The legacy data directory of TestUpgradeFromSQLite: 20 users, u00 in a
// chat with each of the 19 others and all of them in one group, 3,000
// messages in each conversation (60,000 in all), every even seq sent with
// a client id.
const (
	legacyUsers   = 20
	legacyPerConv = 3000
	legacyGroup   = "legacygroup"
	legacyCursor  = 2990 // u00's cursor in every chat
)

func legacyContent(conv string, seq int) string { return fmt.Sprintf("%s #%d", conv, seq) }

// writeLegacyDataDir writes parley.db as a release before the message log
// did: messages, cursors, chats and conversations in SQLite.
func writeLegacyDataDir(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "parley.db")
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("password"), 4)
	var users []*parley.User
	for i := range legacyUsers {
		users = append(users, &parley.User{Username: fmt.Sprintf("u%02d", i), PasswordHash: hash, CreatedAt: time.Now()})
	}
	if _, err := db.CreateUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	g := &parley.Group{ID: legacyGroup, Name: "the old group", Owner: "u00", CreatedAt: time.Now()}
	if err := db.CreateGroup(ctx, g, []string{"u01", "u02"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := tx.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	convs := []string{legacyGroup}
	for i := 1; i < legacyUsers; i++ {
		peer := fmt.Sprintf("u%02d", i)
		chat := parley.ChatID("u00", peer)
		convs = append(convs, chat)
		exec(`INSERT INTO chats (username, peer, chat_id) VALUES (?, ?, ?), (?, ?, ?)`, "u00", peer, chat, peer, "u00", chat)
		exec(`INSERT INTO cursors (username, conv, seq) VALUES (?, ?, ?)`, "u00", chat, legacyCursor)
	}
	for _, conv := range convs {
		a, b := "u00", "u01"
		if conv != legacyGroup {
			a, b, _ = parley.ChatPeers(conv)
		}
		for seq := 1; seq <= legacyPerConv; seq++ {
			from := a
			if seq%2 == 0 {
				from = b
			}
			var clientID any
			if seq%2 == 0 {
				clientID = fmt.Sprintf("k-%s-%d", conv, seq)
			}
			exec(`INSERT INTO messages (conv, seq, id, sender, client_id, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				conv, seq, fmt.Sprintf("id-%s-%d", conv, seq), from, clientID, legacyContent(conv, seq), time.Now().UnixMilli())
		}
		exec(`INSERT INTO conversations (id, last_seq) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq`, conv, legacyPerConv)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeFromSQLite starts parleyd on a data directory written before
// the message log, kills it in the middle of the import, starts it again,
// and checks that every message, cursor and idempotency key came across
// once.
func TestUpgradeFromSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	writeLegacyDataDir(t, dir)
	total := legacyPerConv * legacyUsers

	killed := testserver.Start(t, testserver.Options{DataDir: dir, KillOnLog: `"msg":"import progress"`})
	<-killed.Exited()
	if !strings.Contains(killed.Logs(), fmt.Sprintf(`"messages":%d`, total)) {
		t.Fatalf("no import announced before the kill:\n%s", killed.Logs())
	}

	srv := testserver.Start(t, testserver.Options{DataDir: dir})
	logs := srv.Logs()
	if !strings.Contains(logs, "resuming_after") || strings.Contains(logs, `"resuming_after":"/0"`) {
		t.Fatalf("the second start did not resume the import:\n%s", logs)
	}
	if !strings.Contains(logs, `"msg":"imported messages from parley.db"`) {
		t.Fatalf("no import summary:\n%s", logs)
	}

	ctx := context.Background()
	api := client.New(srv.URL())
	tok, err := api.Login(ctx, "u00", "password")
	if err != nil {
		t.Fatal(err)
	}
	c, err := api.Dial(ctx, "chat", tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	init := nextOfType(t, c, "INIT_DATA")
	if len(init.Chats) != legacyUsers-1 || len(init.Groups) != 1 {
		t.Fatalf("INIT_DATA after the upgrade: %d chats, %d groups", len(init.Chats), len(init.Groups))
	}
	for _, ch := range init.Chats {
		// Above the cursor (2,990) the peer sent the 5 even seqs.
		if ch.LastSeq != legacyPerConv || ch.Unread != 5 {
			t.Fatalf("chat %s: lastSeq %d unread %d, want %d and 5", ch.ChatID, ch.LastSeq, ch.Unread, legacyPerConv)
		}
	}

	// Every message of one chat, in order, once.
	chat := parley.ChatID("u00", "u07")
	var after int64
	for {
		c.Send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": "u07", "after": after, "limit": 200})
		h := nextOfType(t, c, "ONE_TO_ONE_CHAT_HISTORY")
		for _, m := range h.Messages {
			if m.Seq != after+1 || m.Content != legacyContent(chat, int(m.Seq)) {
				t.Fatalf("history: seq %d %q after %d", m.Seq, m.Content, after)
			}
			after = m.Seq
		}
		if !h.HasMore {
			break
		}
	}
	if after != legacyPerConv {
		t.Fatalf("history ends at seq %d, want %d", after, legacyPerConv)
	}

	// A repeat of a message sent before the upgrade gets the original; a
	// new message continues the sequence.
	peer, err := api.Login(ctx, "u07", "password")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.Dial(ctx, "chat", peer.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.Send(obj{"type": "ONE_TO_ONE_CHAT", "id": fmt.Sprintf("k-%s-%d", chat, 2), "to": "u00", "content": "again"})
	if f := nextOfType(t, pc, "SUCCESS"); f.Seq != 2 {
		t.Fatalf("repeat of a legacy message: seq %d, want 2", f.Seq)
	}
	pc.Send(obj{"type": "ONE_TO_ONE_CHAT", "id": "after-upgrade", "to": "u00", "content": "new"})
	if f := nextOfType(t, pc, "SUCCESS"); f.Seq != legacyPerConv+1 {
		t.Fatalf("first message after the upgrade: seq %d, want %d", f.Seq, legacyPerConv+1)
	}

	// The message tables are gone from parley.db, and a third start
	// imports nothing.
	srv.Stop()
	raw, err := sql.Open("sqlite", filepath.Join(dir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	raw.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name IN ('messages', 'cursors', 'chats', 'conversations')`).Scan(&n)
	raw.Close()
	if n != 0 {
		t.Fatalf("%d legacy tables left in parley.db", n)
	}
	again := testserver.Start(t, testserver.Options{DataDir: dir})
	if strings.Contains(again.Logs(), "import") {
		t.Fatalf("a third start imported again:\n%s", again.Logs())
	}
}

// nextOfType returns the next frame of the given type, failing after 10 s.
func nextOfType(t *testing.T, c *client.Conn, typ string) client.Frame {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		f, err := c.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f.Type == typ {
			return f
		}
	}
}
