package main

import (
	"testing"

	"github.com/parley-chat/parley/client"
)

func TestHistory(t *testing.T) {
	s := startServer(t, nil)
	alice, bob, carol := s.newUser("alice"), s.newUser("bob"), s.newUser("carol")
	ca, _, _ := s.chat(alice)
	for i := 1; i <= 250; i++ {
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "m" + itoa(i)})
	}
	for i := 1; i <= 250; i++ {
		ca.expect("SUCCESS")
	}
	chatID := chatIDOf(alice.name, bob.name)
	seqRange := func(h client.Frame) (int64, int64) {
		if len(h.Messages) == 0 {
			return 0, 0
		}
		return h.Messages[0].Seq, h.Messages[len(h.Messages)-1].Seq
	}
	cases := []struct {
		name        string
		frame       obj
		first, last int64
		count       int
		more        bool
	}{
		{"newest, default limit", obj{"to": bob.name}, 201, 250, 50, true},
		{"by chatId", obj{"chatId": chatID, "limit": 10}, 241, 250, 10, true},
		{"before", obj{"to": bob.name, "before": 101, "limit": 20}, 81, 100, 20, true},
		{"before reaching the start", obj{"to": bob.name, "before": 6, "limit": 20}, 1, 5, 5, false},
		{"after 0", obj{"to": bob.name, "after": 0, "limit": 3}, 1, 3, 3, true},
		{"after", obj{"to": bob.name, "after": 245, "limit": 10}, 246, 250, 5, false},
		{"limit over 200 is cut", obj{"to": bob.name, "limit": 1000}, 51, 250, 200, true},
		{"after the end", obj{"to": bob.name, "after": 250}, 0, 0, 0, false},
	}
	for _, c := range cases {
		f := obj{"type": "GET_ONE_TO_ONE_HISTORY", "id": c.name}
		for k, v := range c.frame {
			f[k] = v
		}
		ca.send(f)
		h := ca.expect("ONE_TO_ONE_CHAT_HISTORY")
		first, last := seqRange(h)
		if h.ID != c.name || h.ChatID != chatID || len(h.Messages) != c.count || first != c.first || last != c.last || h.HasMore != c.more {
			t.Errorf("%s: got id=%q chatId=%q %d messages %d..%d hasMore=%v; want %d messages %d..%d hasMore=%v",
				c.name, h.ID, h.ChatID, len(h.Messages), first, last, h.HasMore, c.count, c.first, c.last, c.more)
		}
		for i := 1; i < len(h.Messages); i++ {
			if h.Messages[i].Seq != h.Messages[i-1].Seq+1 {
				t.Fatalf("%s: not ascending and gapless", c.name)
			}
		}
	}
	ca.send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": bob.name, "before": 2, "limit": 1})
	m := ca.expect("ONE_TO_ONE_CHAT_HISTORY").Messages[0]
	if m.Seq != 1 || m.From != alice.name || m.To != bob.name || m.ChatID != chatID || m.Content != "m1" || m.MessageID == "" || m.Timestamp == "" {
		t.Fatalf("message fields: got %s", m.Raw)
	}

	t.Run("the other participant reads it too", func(t *testing.T) {
		cb, _, _ := s.chat(bob)
		cb.send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": alice.name, "limit": 1})
		if h := cb.expect("ONE_TO_ONE_CHAT_HISTORY"); len(h.Messages) != 1 || h.Messages[0].Seq != 250 {
			t.Fatalf("bob's view: got %s", h.Raw)
		}
	})

	t.Run("errors", func(t *testing.T) {
		cc, _, _ := s.chat(carol)
		for _, c := range []struct {
			frame obj
			code  string
		}{
			{obj{"chatId": chatID}, "forbidden"},
			{obj{}, "invalid"},
			{obj{"to": carol.name}, "invalid"},
			{obj{"chatId": "not a chat id"}, "invalid"},
			{obj{"to": alice.name, "chatId": chatID}, "forbidden"},
			{obj{"to": alice.name, "before": 5, "after": 1}, "invalid"},
			{obj{"to": alice.name, "before": 0}, "invalid"},
			{obj{"to": alice.name, "after": -1}, "invalid"},
			{obj{"to": alice.name, "limit": 0}, "invalid"},
			{obj{"to": alice.name, "limit": "ten"}, "invalid"},
			{obj{"to": alice.name, "before": 1.5}, "invalid"},
		} {
			f := obj{"type": "GET_ONE_TO_ONE_HISTORY", "id": "x"}
			for k, v := range c.frame {
				f[k] = v
			}
			cc.send(f)
			if e := cc.expectError(c.code); e.ID != "x" {
				t.Fatalf("id not echoed: %s", e.Raw)
			}
		}
		cc.send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": "nobody_here"})
		cc.expectError("not_found")
		// A chat that has no messages yet is empty, not an error.
		cc.send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": alice.name})
		if h := cc.expect("ONE_TO_ONE_CHAT_HISTORY"); len(h.Messages) != 0 || h.HasMore {
			t.Fatalf("empty chat: got %s", h.Raw)
		}
	})
}
