package main

import (
	"testing"
)

func TestOneToOneRoundTrip(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, initA, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	if initA.Username != alice.name || len(initA.Chats) != 0 || len(initA.Groups) != 0 {
		t.Fatalf("INIT_DATA: got %s", initA.Raw)
	}
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "m1", "to": bob.name, "content": "hello bob"})
	ok := ca.expect("SUCCESS")
	if ok.ID != "m1" || ok.Seq != 1 || ok.MessageID == "" || ok.ChatID == "" || ok.Timestamp == "" {
		t.Fatalf("SUCCESS: got %s", ok.Raw)
	}
	got := cb.expect("ONE_TO_ONE_CHAT")
	if got.From != alice.name || got.To != bob.name || got.Content != "hello bob" || got.Seq != 1 || got.MessageID != ok.MessageID || got.Offline {
		t.Fatalf("delivery: got %s", got.Raw)
	}
}
