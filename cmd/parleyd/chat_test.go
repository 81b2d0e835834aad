package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestOneToOne(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, initA, _ := s.chat(alice)
	ca2, _, _ := s.chat(alice) // alice's second device
	cb, _, _ := s.chat(bob)
	if initA.Username != alice.name || len(initA.Chats) != 0 || len(initA.Groups) != 0 {
		t.Fatalf("INIT_DATA: got %s", initA.Raw)
	}

	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "m1", "to": bob.name, "content": "hello bob"})
	ok := ca.expect("SUCCESS")
	chatID := chatIDOf(alice.name, bob.name)
	if ok.ID != "m1" || ok.Seq != 1 || ok.MessageID == "" || ok.ChatID != chatID || len(ok.Timestamp) != len("2006-01-02T15:04:05.000Z") {
		t.Fatalf("SUCCESS: got %s", ok.Raw)
	}
	for _, c := range []*conn{cb, ca2} {
		got := c.expect("ONE_TO_ONE_CHAT")
		if got.From != alice.name || got.To != bob.name || got.ChatID != chatID || got.Content != "hello bob" ||
			got.Seq != 1 || got.MessageID != ok.MessageID || got.Timestamp != ok.Timestamp || got.Offline {
			t.Fatalf("%s got %s", c.name, got.Raw)
		}
	}
	ca.quiet(100 * time.Millisecond) // the sending connection does not get its own message

	t.Run("reply", func(t *testing.T) {
		cb.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "r1", "to": alice.name, "content": "hi alice", "from": bob.name, "chatId": chatID})
		if ok := cb.expect("SUCCESS"); ok.Seq != 2 {
			t.Fatalf("reply seq: got %d, want 2", ok.Seq)
		}
		if got := ca.expect("ONE_TO_ONE_CHAT"); got.Content != "hi alice" || got.Seq != 2 {
			t.Fatalf("alice got %s", got.Raw)
		}
		ca2.expect("ONE_TO_ONE_CHAT")
		cb.quiet(50 * time.Millisecond)
	})

	t.Run("content is stored exactly", func(t *testing.T) {
		content := "  <b>bold?</b> & \"quotes\" \u00e9\u0301 \U0001F600\n\ttrailing  "
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": content})
		ca.expect("SUCCESS")
		if got := cb.expect("ONE_TO_ONE_CHAT"); got.Content != content {
			t.Fatalf("content: got %q, want %q", got.Content, content)
		}
		ca2.expect("ONE_TO_ONE_CHAT")
	})

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name  string
			frame obj
			code  string
		}{
			{"forged from", obj{"type": "ONE_TO_ONE_CHAT", "id": "e1", "to": bob.name, "from": bob.name, "content": "x"}, "forbidden"},
			{"forged chatId", obj{"type": "ONE_TO_ONE_CHAT", "id": "e2", "to": bob.name, "chatId": "bob-carol", "content": "x"}, "forbidden"},
			{"to yourself", obj{"type": "ONE_TO_ONE_CHAT", "id": "e3", "to": alice.name, "content": "x"}, "invalid"},
			{"no to", obj{"type": "ONE_TO_ONE_CHAT", "id": "e4", "content": "x"}, "invalid"},
			{"bad to", obj{"type": "ONE_TO_ONE_CHAT", "id": "e5", "to": "no-dashes", "content": "x"}, "invalid"},
			{"unknown user", obj{"type": "ONE_TO_ONE_CHAT", "id": "e6", "to": "nobody_here", "content": "x"}, "not_found"},
			{"empty content", obj{"type": "ONE_TO_ONE_CHAT", "id": "e7", "to": bob.name, "content": ""}, "invalid"},
			{"content too long", obj{"type": "ONE_TO_ONE_CHAT", "id": "e8", "to": bob.name, "content": strings.Repeat("x", 4097)}, "invalid"},
			{"content wrong type", obj{"type": "ONE_TO_ONE_CHAT", "id": "e9", "to": bob.name, "content": 42}, "invalid"},
			{"no id, invalid", obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": ""}, "invalid"},
		}
		for _, c := range cases {
			ca.send(c.frame)
			e := ca.expectError(c.code)
			if id, _ := c.frame["id"].(string); e.ID != id || e.Msg == "" {
				t.Errorf("%s: got %s", c.name, e.Raw)
			}
		}
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": strings.Repeat("é", 2048)}) // exactly 4096 bytes
		ca.expect("SUCCESS")
		cb.expect("ONE_TO_ONE_CHAT")
		ca2.expect("ONE_TO_ONE_CHAT")
		cb.quiet(50 * time.Millisecond)
	})
}

func chatIDOf(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "-" + b
}

func TestIdempotentSends(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)

	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "same", "to": bob.name, "content": "once"})
	first := ca.expect("SUCCESS")
	cb.expect("ONE_TO_ONE_CHAT")

	// The repeat, from another connection, with other (even invalid)
	// fields, gets the original SUCCESS and stores and delivers nothing.
	ca2, _, _ := s.chat(alice)
	for _, f := range []obj{
		{"type": "ONE_TO_ONE_CHAT", "id": "same", "to": bob.name, "content": "twice"},
		{"type": "ONE_TO_ONE_CHAT", "id": "same", "to": alice.name, "content": ""},
		{"type": "ONE_TO_ONE_CHAT", "id": "same", "content": 12},
	} {
		ca2.send(f)
		again := ca2.expect("SUCCESS")
		if again.MessageID != first.MessageID || again.Seq != first.Seq || again.ChatID != first.ChatID || again.Timestamp != first.Timestamp || again.ID != "same" {
			t.Fatalf("repeat: got %s, want %s", again.Raw, first.Raw)
		}
	}
	cb.quiet(150 * time.Millisecond)
	ca.quiet(10 * time.Millisecond)

	// An id answered with ERROR reserves nothing.
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "later", "to": bob.name, "content": ""})
	ca.expectError("invalid")
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "later", "to": bob.name, "content": "now valid"})
	if ok := ca.expect("SUCCESS"); ok.Seq != 2 {
		t.Fatalf("retry after error: got %s", ok.Raw)
	}
	if got := cb.expect("ONE_TO_ONE_CHAT"); got.Content != "now valid" {
		t.Fatalf("bob got %s", got.Raw)
	}

	// Keys survive a reconnect and belong to their sender only.
	cb.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "same", "to": alice.name, "content": "bob's own"})
	if ok := cb.expect("SUCCESS"); ok.Seq != 3 || ok.MessageID == first.MessageID {
		t.Fatalf("another sender's key: got %s", ok.Raw)
	}
}

func TestFramesInOrder(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	// A burst of sends mixed with other requests: replies come back in
	// frame order, seqs increase, and the history request sees them all.
	const n = 40
	for i := 0; i < n; i++ {
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "b" + itoa(i), "to": bob.name, "content": "m" + itoa(i)})
		if i%10 == 9 {
			ca.send(obj{"type": "PING", "id": "p" + itoa(i)})
		}
	}
	ca.send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "id": "h", "to": bob.name, "limit": 200})
	var seq int64
	for i := 0; i < n; i++ {
		ok := ca.expect("SUCCESS")
		if ok.ID != "b"+itoa(i) || ok.Seq != seq+1 {
			t.Fatalf("reply %d: got %s after seq %d", i, ok.Raw, seq)
		}
		seq = ok.Seq
		if i%10 == 9 {
			if p := ca.expect("PONG"); p.ID != "p"+itoa(i) {
				t.Fatalf("PONG: got %s", p.Raw)
			}
		}
	}
	h := ca.expect("ONE_TO_ONE_CHAT_HISTORY")
	if len(h.Messages) != n || h.HasMore {
		t.Fatalf("history after the burst: %d messages, hasMore %v", len(h.Messages), h.HasMore)
	}
	for i := 0; i < n; i++ {
		if got := cb.expect("ONE_TO_ONE_CHAT"); got.Seq != int64(i+1) || got.Content != "m"+itoa(i) {
			t.Fatalf("delivery %d: got %s", i, got.Raw)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
