package main

import (
	"fmt"
	"testing"
)

// TestAttackAcks: an ACK names only a conversation of the user's that has
// messages, is clamped to its last seq when it arrives, and is rate
// limited.
func TestAttackAcks(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RateAcksPerSec = 5 })
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)

	t.Run("conversations without messages", func(t *testing.T) {
		for i, f := range []obj{
			{"type": "ACK", "chatId": chatIDOf(alice.name, bob.name), "seq": 1},            // no message yet
			{"type": "ACK", "chatId": chatIDOf(alice.name, "madeup"+alice.name), "seq": 1}, // no such peer
		} {
			ca.send(f)
			if e := ca.expect("ERROR"); e.Code != "not_found" {
				t.Fatalf("ACK %d: got %s, want not_found", i, e.Raw)
			}
		}
	})

	t.Run("beyond the last seq", func(t *testing.T) {
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "1"})
		ca.expect("SUCCESS")
		cb, _, offline := s.chat(bob)
		if len(offline) != 1 {
			t.Fatalf("bob's offline messages: %d, want 1", len(offline))
		}
		// An ACK far beyond the last seq counts up to seq 1 only: the
		// messages stored next are still undelivered.
		cb.send(obj{"type": "ACK", "chatId": chatIDOf(alice.name, bob.name), "seq": 1_000_000})
		cb.send(obj{"type": "PING"})
		cb.expect("PONG")
		cb.Close()
		for i := 2; i <= 4; i++ {
			ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": fmt.Sprint(i)})
			ca.expect("SUCCESS")
		}
		_, init, offline := s.chat(bob)
		// Unread counts from the read position, which an ACK does not move.
		if len(offline) != 3 || offline[0].Seq != 2 || init.Chats[0].Unread != 4 {
			t.Fatalf("after an ACK beyond the last seq: %d offline messages (first seq %d), %d unread; want 3 from seq 2, 4 unread",
				len(offline), offline[0].Seq, init.Chats[0].Unread)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		limited := 0
		for range 100 {
			ca.send(obj{"type": "ACK", "chatId": chatIDOf(alice.name, bob.name), "seq": 1})
		}
		ca.send(obj{"type": "PING"})
		for {
			f := ca.next()
			if f.Type == "PONG" {
				break
			}
			if f.Type == "ERROR" && f.Code == "rate_limited" {
				limited++
			}
		}
		// A burst of 20 (less the two ACKs above) passes, the rest is refused.
		if limited < 75 || limited > 85 {
			t.Fatalf("%d of 100 ACKs refused, want about 80", limited)
		}
	})
}
