package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testenv"
)

// TestTimeline runs the conversation timeline (edits, deletions,
// reactions, replies, read positions) on the embedded store, and checks
// that a deleted message's content is gone from the files of the data
// directory.
func TestTimeline(t *testing.T) {
	s := startServer(t, nil)
	secret := testTimeline(t, s, s)
	dir := s.Config.DataDir
	closeServer(t, s)
	// The message log keeps the write-ahead log file that held it for
	// reuse until it opens again (pebble's TestDeletionPurged): look after
	// a restart.
	closeServer(t, startServer(t, func(c *Config) { c.DataDir = dir }))
	if where := findInFiles(t, dir, secret); where != "" {
		t.Fatalf("the deleted message's content is still in %s", where)
	}
}

// TestTimelinePostgres runs the timeline on a server whose store is
// PostgreSQL.
func TestTimelinePostgres(t *testing.T) {
	db := testenv.FreshDatabase(t)
	s := startServer(t, func(c *Config) { c.PostgresURL = db })
	testTimeline(t, s, s)
}

// TestClusterTimeline runs the timeline with the two sides of each
// conversation on different nodes, so that every entry and read receipt
// crosses the bus, with the messages in either cluster store.
func TestClusterTimeline(t *testing.T) {
	onEachStore(t, func(t *testing.T, store messageStore) {
		c := startClusterOn(t, store, 2)
		testTimeline(t, c.nodes[0], c.nodes[1])
	})
}

// closeServer shuts a test server down before its cleanup does.
func closeServer(t *testing.T, s *testServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// findInFiles returns the first file under dir that holds text, or "".
func findInFiles(t *testing.T, dir, text string) string {
	t.Helper()
	found := ""
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(text)) {
			found = path
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	return found
}

// testTimeline exercises every timeline frame between users connected to
// sa and sb (the same server, or two nodes of a cluster). It returns a
// content that was deleted, for the caller to look for in storage.
func testTimeline(t *testing.T, sa, sb *testServer) string {
	alice, bob, carol, dave := sa.newUser("alice"), sa.newUser("bob"), sa.newUser("carol"), sa.newUser("dave")
	chat := chatIDOf(alice.name, bob.name)
	secret := "helo, this is secret " + testenv.RandomHex(8)
	ca, _, _ := sa.chat(alice)
	ca2, _, _ := sb.chat(alice) // alice's second device, on the other node
	cb, _, _ := sb.chat(bob)

	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "m1", "to": bob.name, "content": secret})
	ca.expect("SUCCESS")
	for _, c := range []*conn{cb, ca2} {
		if m := c.expect("ONE_TO_ONE_CHAT"); m.Kind != "message" || m.Seq != 1 || m.Content != secret || m.ReplyTo != 0 {
			t.Fatalf("%s: got %s", c.name, m.Raw)
		}
	}

	// A reply names the message it answers; it must be one of the
	// conversation's messages.
	cb.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "m2", "to": alice.name, "content": "hi", "replyTo": 1})
	if ok := cb.expect("SUCCESS"); ok.Seq != 2 {
		t.Fatalf("reply: got %s", ok.Raw)
	}
	for _, c := range []*conn{ca, ca2} {
		if m := c.expect("ONE_TO_ONE_CHAT"); m.Seq != 2 || m.ReplyTo != 1 || m.Kind != "message" {
			t.Fatalf("%s: got %s", c.name, m.Raw)
		}
	}
	for _, bad := range []any{0, -1, 99, "1", 1.5} {
		cb.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "bad-reply", "to": alice.name, "content": "x", "replyTo": bad})
		if e := cb.expectError("invalid"); e.ID != "bad-reply" {
			t.Fatalf("replyTo %v: got %s", bad, e.Raw)
		}
	}

	// An edit is the author's, and reaches everyone else.
	ca.send(obj{"type": "EDIT_MESSAGE", "id": "e1", "chatId": chat, "seq": 1, "content": secret + ", edited"})
	e1 := ca.expect("SUCCESS")
	if e1.ID != "e1" || e1.Seq != 3 || e1.Target != 1 || e1.MessageID == "" || e1.ChatID != chat || e1.Timestamp == "" {
		t.Fatalf("edit: got %s", e1.Raw)
	}
	for _, c := range []*conn{cb, ca2} {
		m := c.expect("MESSAGE_EDITED")
		if m.Kind != "edit" || m.Seq != 3 || m.Target != 1 || m.From != alice.name || m.Content != secret+", edited" ||
			m.ChatID != chat || m.MessageID != e1.MessageID || m.Offline {
			t.Fatalf("%s: got %s", c.name, m.Raw)
		}
	}
	// A repeat of the id is answered as the first time, whatever it says.
	ca.send(obj{"type": "EDIT_MESSAGE", "id": "e1", "chatId": chat, "seq": 2, "content": "other"})
	if again := ca.expect("SUCCESS"); again.Seq != 3 || again.MessageID != e1.MessageID || again.Target != 1 {
		t.Fatalf("repeated edit: got %s", again.Raw)
	}
	for _, tc := range []struct {
		c     *conn
		frame obj
		code  string
	}{
		{cb, obj{"type": "EDIT_MESSAGE", "chatId": chat, "seq": 1, "content": "not mine"}, "forbidden"},
		{ca, obj{"type": "EDIT_MESSAGE", "chatId": chat, "seq": 99, "content": "nothing there"}, "not_found"},
		{ca, obj{"type": "EDIT_MESSAGE", "chatId": chat, "seq": 3, "content": "an edit is not a message"}, "invalid"},
		{ca, obj{"type": "EDIT_MESSAGE", "chatId": chat, "content": "no seq"}, "invalid"},
		{ca, obj{"type": "EDIT_MESSAGE", "chatId": chat, "seq": 0, "content": "seq 0"}, "invalid"},
		{ca, obj{"type": "EDIT_MESSAGE", "chatId": chat, "seq": 1, "content": ""}, "invalid"},
		{ca, obj{"type": "EDIT_MESSAGE", "chatId": chat, "seq": 1, "content": strings.Repeat("x", 4097)}, "invalid"},
		{ca, obj{"type": "EDIT_MESSAGE", "seq": 1, "content": "where?"}, "invalid"},
		{ca, obj{"type": "EDIT_MESSAGE", "chatId": chatIDOf(bob.name, carol.name), "seq": 1, "content": "not my chat"}, "forbidden"},
		{ca, obj{"type": "EDIT_MESSAGE", "chatId": chat, "seq": "1", "content": "seq as a string"}, "invalid"},
		{cb, obj{"type": "REACT", "chatId": chat, "seq": 1, "emoji": "a b"}, "invalid"},
		{cb, obj{"type": "REACT", "chatId": chat, "seq": 1, "emoji": ""}, "invalid"},
		{cb, obj{"type": "REACT", "chatId": chat, "seq": 1, "emoji": strings.Repeat("x", 33)}, "invalid"},
		{cb, obj{"type": "REACT", "chatId": chat, "seq": 1, "emoji": "\u0007"}, "invalid"},
		{cb, obj{"type": "REACT", "chatId": chat, "seq": 3, "emoji": "👍"}, "invalid"},
		{cb, obj{"type": "REACT", "chatId": chat, "seq": 1, "emoji": "👍", "remove": "yes"}, "invalid"},
		{cb, obj{"type": "DELETE_MESSAGE", "chatId": chat, "seq": 1}, "forbidden"},
		{cb, obj{"type": "DELETE_MESSAGE", "chatId": chat, "seq": 42}, "not_found"},
		{cb, obj{"type": "READ", "chatId": chat, "seq": -1}, "invalid"},
		{cb, obj{"type": "READ", "seq": 1}, "invalid"},
		{cb, obj{"type": "READ", "chatId": chatIDOf(alice.name, carol.name), "seq": 1}, "forbidden"},
	} {
		tc.frame["id"] = "bad"
		tc.c.send(tc.frame)
		if e := tc.c.expectError(tc.code); e.ID != "bad" {
			t.Fatalf("%v: got %s", tc.frame, e.Raw)
		}
	}

	// A reaction; the same again changes nothing and stores nothing.
	cb.send(obj{"type": "REACT", "id": "r1", "chatId": chat, "seq": 1, "emoji": "👍"})
	r1 := cb.expect("SUCCESS")
	if r1.Seq != 4 || r1.Target != 1 || r1.MessageID == "" {
		t.Fatalf("reaction: got %s", r1.Raw)
	}
	for _, c := range []*conn{ca, ca2} {
		m := c.expect("REACTION")
		if m.Kind != "reaction" || m.Seq != 4 || m.Target != 1 || m.From != bob.name || m.Emoji != "👍" || m.Removed || !strings.Contains(string(m.Raw), `"removed":false`) {
			t.Fatalf("%s: got %s", c.name, m.Raw)
		}
	}
	cb.send(obj{"type": "REACT", "id": "r2", "to": alice.name, "seq": 1, "emoji": "👍"})
	if noop := cb.expect("SUCCESS"); noop.ID != "r2" || noop.Seq != 0 || noop.MessageID != "" || noop.Target != 1 || noop.ChatID != chat {
		t.Fatalf("a reaction the user already has: got %s", noop.Raw)
	}
	ca.quiet(100 * ms)

	// History lists every entry, with the message's current state.
	h := history(t, cb, alice.name)
	checkGapless(t, "history", h)
	if len(h) != 4 {
		t.Fatalf("history: %d entries, want 4", len(h))
	}
	if m := h[0]; m.Kind != "message" || m.Content != secret+", edited" || !m.Edited || m.EditedAt == "" || m.Deleted ||
		len(m.Reactions) != 1 || m.Reactions[0].Emoji != "👍" || !slices.Equal(m.Reactions[0].Users, []string{bob.name}) {
		t.Fatalf("history: message 1 is %s", m.Raw)
	}
	if m := h[1]; m.ReplyTo != 1 || m.Edited {
		t.Fatalf("history: message 2 is %s", m.Raw)
	}
	if m := h[2]; m.Kind != "edit" || m.Target != 1 || m.Content != secret+", edited" {
		t.Fatalf("history: entry 3 is %s", m.Raw)
	}
	if m := h[3]; m.Kind != "reaction" || m.Target != 1 || m.Emoji != "👍" || m.From != bob.name {
		t.Fatalf("history: entry 4 is %s", m.Raw)
	}

	// Bob reads up to 4: alice's connections and bob's other one get a
	// receipt, the connection that read none.
	cb2, _, _ := sa.chat(bob)
	cb.send(obj{"type": "READ", "chatId": chat, "seq": 4})
	for _, c := range []*conn{ca, ca2, cb2} {
		if r := c.expect("READ_RECEIPT"); r.ChatID != chat || r.Username != bob.name || r.Seq != 4 || r.Timestamp == "" {
			t.Fatalf("%s: got %s", c.name, r.Raw)
		}
	}
	cb.quiet(100 * ms)

	// A deletion by the author erases the content; deleting again is
	// answered with the first deletion.
	ca.send(obj{"type": "DELETE_MESSAGE", "id": "d1", "chatId": chat, "seq": 1})
	d1 := ca.expect("SUCCESS")
	if d1.Seq != 5 || d1.Target != 1 {
		t.Fatalf("deletion: got %s", d1.Raw)
	}
	for _, c := range []*conn{cb, cb2, ca2} {
		if m := c.expect("MESSAGE_DELETED"); m.Kind != "delete" || m.Seq != 5 || m.Target != 1 || m.From != alice.name || m.Content != "" || m.MessageID != d1.MessageID {
			t.Fatalf("%s: got %s", c.name, m.Raw)
		}
	}
	ca.send(obj{"type": "DELETE_MESSAGE", "id": "d2", "chatId": chat, "seq": 1})
	if again := ca.expect("SUCCESS"); again.ID != "d2" || again.Seq != 5 || again.MessageID != d1.MessageID {
		t.Fatalf("second deletion: got %s", again.Raw)
	}
	ca.send(obj{"type": "EDIT_MESSAGE", "id": "late", "chatId": chat, "seq": 1, "content": "too late"})
	ca.expectError("invalid")
	cb.send(obj{"type": "REACT", "id": "late", "chatId": chat, "seq": 1, "emoji": "👍", "remove": true})
	cb.expectError("invalid")
	cb.quiet(100 * ms)
	h = history(t, cb, alice.name)
	if len(h) != 5 || !h[0].Deleted || h[0].Content != "" || h[0].MessageID == "" {
		t.Fatalf("history after the deletion: %d entries, message 1 is %+v", len(h), h[0])
	}
	if h[2].Content != "" || h[4].Kind != "delete" || h[4].Target != 1 || h[4].From != alice.name {
		t.Fatalf("history after the deletion: entries 3 and 5 are %s and %s", h[2].Raw, h[4].Raw)
	}

	// Bob goes away; what happens meanwhile reaches him on his return,
	// from his cursor on (READ counted as an ACK of 4).
	cb.CloseNormal()
	cb2.CloseNormal()
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "m6", "to": bob.name, "content": "while you were away"})
	ca.expect("SUCCESS")
	ca.send(obj{"type": "EDIT_MESSAGE", "id": "e6", "chatId": chat, "seq": 6, "content": "while you were away (edited)"})
	ca.expect("SUCCESS")
	ca.send(obj{"type": "REACT", "id": "r6", "chatId": chat, "seq": 2, "emoji": "❤️"})
	ca.expect("SUCCESS")
	for range 3 {
		ca2.next()
	}
	cb, init, offline := sb.chat(bob)
	var types []string
	for _, f := range offline {
		types = append(types, f.Type)
	}
	if !slices.Equal(types, []string{"MESSAGE_DELETED", "ONE_TO_ONE_CHAT", "MESSAGE_EDITED", "REACTION"}) {
		t.Fatalf("bob's offline frames: %v", types)
	}
	if m := offline[1]; m.Content != "while you were away (edited)" || !m.Edited || m.Seq != 6 {
		t.Fatalf("the offline message comes with its current state: %s", m.Raw)
	}
	if c := init.Chats[0]; c.ReadSeq != 4 || c.PeerReadSeq != 0 || c.Unread != 1 || c.LastSeq != 8 {
		t.Fatalf("bob's INIT_DATA: %s, want readSeq 4, unread 1 (message 6)", init.Raw)
	}
	ca.CloseNormal()
	ca, init, _ = sa.chat(alice)
	if c := init.Chats[0]; c.ReadSeq != 0 || c.PeerReadSeq != 4 || c.Unread != 1 {
		t.Fatalf("alice's INIT_DATA: %s, want peerReadSeq 4, unread 1 (bob's message 2)", init.Raw)
	}

	// In a group, the owner may delete anyone's message; other members
	// only their own, and outsiders nothing.
	cc, _, _ := sa.chat(carol)
	cd, _, _ := sb.chat(dave)
	cc.send(obj{"type": "CREATE_GROUP", "id": "g", "name": "timeline", "members": []string{alice.name, bob.name}})
	gid := cc.expect("SUCCESS").GroupID
	for _, c := range []*conn{ca, ca2, cb} {
		for range 3 {
			c.expect("GROUP_MEMBER_JOINED")
		}
	}
	ca.send(obj{"type": "GROUP_CHAT", "id": "g1", "groupId": gid, "content": "in the group"})
	ca.expect("SUCCESS")
	for _, c := range []*conn{ca2, cb, cc} {
		c.expect("GROUP_CHAT")
	}
	cb.send(obj{"type": "DELETE_MESSAGE", "id": "gx", "groupId": gid, "seq": 1})
	cb.expectError("forbidden")
	for _, f := range []obj{
		{"type": "EDIT_MESSAGE", "groupId": gid, "seq": 1, "content": "intruder"},
		{"type": "REACT", "groupId": gid, "seq": 1, "emoji": "👀"},
		{"type": "DELETE_MESSAGE", "groupId": gid, "seq": 1},
		{"type": "READ", "groupId": gid, "seq": 1},
	} {
		f["id"] = "outsider"
		cd.send(f)
		cd.expectError("forbidden")
	}
	cc.send(obj{"type": "DELETE_MESSAGE", "id": "gd", "groupId": gid, "seq": 1})
	if ok := cc.expect("SUCCESS"); ok.Seq != 2 || ok.Target != 1 || ok.GroupID != gid {
		t.Fatalf("the owner's deletion: got %s", ok.Raw)
	}
	for _, c := range []*conn{ca, ca2, cb} {
		if m := c.expect("MESSAGE_DELETED"); m.GroupID != gid || m.From != carol.name || m.Target != 1 {
			t.Fatalf("%s: got %s", c.name, m.Raw)
		}
	}

	// Reading in a group: the members get a receipt, and GET_GROUP_MEMBERS
	// shows each member's position.
	cb.send(obj{"type": "READ", "groupId": gid, "seq": 2})
	for _, c := range []*conn{ca, ca2, cc} {
		if r := c.expect("READ_RECEIPT"); r.GroupID != gid || r.Username != bob.name || r.Seq != 2 {
			t.Fatalf("%s: got %s", c.name, r.Raw)
		}
	}
	cd.quiet(100 * ms)
	until(t, wait, "bob's read position in GROUP_MEMBERS", func() bool {
		cc.send(obj{"type": "GET_GROUP_MEMBERS", "id": "gm", "groupId": gid})
		for _, m := range cc.expect("GROUP_MEMBERS").Members {
			if m.Username == bob.name {
				return m.ReadSeq == 2
			}
		}
		return false
	})

	// READs in quick succession are announced at most once a second, the
	// latest position winning.
	for i := range 3 {
		ca.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "more " + string(rune('a'+i))})
		ca.expect("SUCCESS")
	}
	for _, c := range []*conn{ca2, cb, cc} {
		for range 3 {
			c.expect("GROUP_CHAT")
		}
	}
	for seq := 3; seq <= 5; seq++ {
		cb.send(obj{"type": "READ", "groupId": gid, "seq": seq})
	}
	var receipts []client.Frame
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2500*ms)
		f, err := cc.Next(ctx)
		cancel()
		if err != nil {
			break
		}
		if f.Type == "READ_RECEIPT" {
			receipts = append(receipts, f)
		}
	}
	if n := len(receipts); n == 0 || n > 2 || receipts[n-1].Seq != 5 || n == 2 && receipts[0].Seq >= 5 {
		t.Fatalf("receipts for three quick READs: %v", receipts)
	}
	return secret
}

// TestTimelineLimits: edits, deletions, reactions and READs each have a
// rate limit of their own.
func TestTimelineLimits(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.RateEditsPerSec, c.RateDeletesPerSec, c.RateReactionsPerSec, c.RateReadsPerSec = 0.25, 0.25, 0.25, 0.25
	})
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	chat := chatIDOf(alice.name, bob.name)
	for range 10 {
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "x"})
		ca.expect("SUCCESS")
	}
	// The burst is 4x the rate: one of each, then the limit.
	for _, f := range []obj{
		{"type": "EDIT_MESSAGE", "chatId": chat, "seq": 1, "content": "y"},
		{"type": "DELETE_MESSAGE", "chatId": chat, "seq": 2},
		{"type": "REACT", "chatId": chat, "seq": 3, "emoji": "👍"},
	} {
		f["id"] = "first"
		ca.send(f)
		ca.expect("SUCCESS")
		f["id"] = "second"
		if f["type"] == "REACT" {
			f["seq"] = 4
		} else {
			f["seq"] = 5
		}
		ca.send(f)
		if e := ca.expectError("rate_limited"); e.ID != "second" {
			t.Fatalf("%v: got %s", f["type"], e.Raw)
		}
	}
	ca.send(obj{"type": "READ", "chatId": chat, "seq": 1})
	ca.send(obj{"type": "READ", "id": "r", "chatId": chat, "seq": 2})
	ca.expectError("rate_limited")
}
