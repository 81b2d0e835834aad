package main

import (
	"testing"

	"github.com/parley-chat/parley/internal/testenv"
)

// TestPostgresEndToEnd runs the main flows on a server whose store is
// PostgreSQL.
func TestPostgresEndToEnd(t *testing.T) {
	db := testenv.FreshDatabase(t)
	s := startServer(t, func(c *Config) { c.PostgresURL = db })
	alice, bob, carol := s.newUser("alice"), s.newUser("bob"), s.newUser("carol")
	ca, _, _ := s.chat(alice)

	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "p1", "to": bob.name, "content": "stored in postgres"})
	first := ca.expect("SUCCESS")
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "p1", "to": bob.name, "content": "again"})
	if again := ca.expect("SUCCESS"); again.MessageID != first.MessageID || again.Seq != 1 {
		t.Fatalf("repeat: got %s", again.Raw)
	}
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "p2", "to": bob.name, "content": "second"})
	if ok := ca.expect("SUCCESS"); ok.Seq != 2 {
		t.Fatalf("seq: got %s", ok.Raw)
	}

	cb, init, offline := s.chat(bob)
	if len(offline) != 2 || init.Chats[0].Unread != 2 || offline[0].Content != "stored in postgres" {
		t.Fatalf("bob's offline messages: %v (INIT_DATA %s)", offline, init.Raw)
	}
	cb.send(obj{"type": "ACK", "chatId": offline[1].ChatID, "seq": 2})
	cb.send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": alice.name, "limit": 1})
	if h := cb.expect("ONE_TO_ONE_CHAT_HISTORY"); len(h.Messages) != 1 || h.Messages[0].Seq != 2 || !h.HasMore {
		t.Fatalf("history: got %s", h.Raw)
	}
	cb.Close()
	if _, _, again := s.chat(bob); len(again) != 0 {
		t.Fatalf("after ACK: %d offline", len(again))
	}

	// Carol is connected first: the group's GROUP_MEMBER_JOINED events are
	// published after the SUCCESS, so a connection opened just after it
	// may or may not get them.
	cc, _, _ := s.chat(carol)
	ca.send(obj{"type": "CREATE_GROUP", "name": "pg", "members": []string{carol.name}})
	gid := ca.expect("SUCCESS").GroupID
	cc.expect("GROUP_MEMBER_JOINED")
	cc.expect("GROUP_MEMBER_JOINED")
	ca.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "hello group"})
	ca.expect("SUCCESS")
	if m := cc.expect("GROUP_CHAT"); m.Content != "hello group" || m.Seq != 1 {
		t.Fatalf("group message: %s", m.Raw)
	}
	cc.send(obj{"type": "LEAVE_GROUP", "groupId": gid})
	cc.expect("SUCCESS")
	cc.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "gone"})
	cc.expectError("forbidden")
}
