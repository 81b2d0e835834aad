package main

import (
	"testing"
)

func TestOfflineDelivery(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	chatID := chatIDOf(alice.name, bob.name)
	for i := 1; i <= 3; i++ {
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "while you were out " + itoa(i)})
		ca.expect("SUCCESS")
	}

	// Bob was never online: everything waits for him.
	cb, init, offline := s.chat(bob)
	if len(init.Chats) != 1 || init.Chats[0].ChatID != chatID || init.Chats[0].With != alice.name ||
		init.Chats[0].Unread != 3 || init.Chats[0].LastSeq != 3 || init.Chats[0].Status != "ONLINE" || init.Chats[0].LastSeen == nil {
		t.Fatalf("bob's INIT_DATA: got %s", init.Raw)
	}
	if len(offline) != 3 {
		t.Fatalf("got %d offline messages, want 3", len(offline))
	}
	for i, m := range offline {
		if m.Type != "ONE_TO_ONE_CHAT" || m.Seq != int64(i+1) || !m.Offline || m.From != alice.name || m.ChatID != chatID {
			t.Fatalf("offline %d: got %s", i, m.Raw)
		}
	}
	// Alice's own messages are never offline messages nor unread for her.
	_, initA, offA := s.chat(alice)
	if len(offA) != 0 || initA.Chats[0].Unread != 0 {
		t.Fatalf("alice: %d offline, INIT_DATA %s", len(offA), initA.Raw)
	}

	t.Run("redelivered until acknowledged", func(t *testing.T) {
		cb.Close()
		_, _, again := s.chat(bob)
		if len(again) != 3 {
			t.Fatalf("without ACK: got %d offline messages again, want 3", len(again))
		}
	})

	t.Run("ACK moves the cursor", func(t *testing.T) {
		c, _, _ := s.chat(bob)
		c.send(obj{"type": "ACK", "chatId": chatID, "seq": 2})
		c.send(obj{"type": "PING", "id": "after-ack"})
		if p := c.expect("PONG"); p.ID != "after-ack" {
			t.Fatalf("got %s", p.Raw)
		}
		c.Close()
		c, init, again := s.chat(bob)
		// An ACK moves the cursor, not the read position unread counts from.
		if len(again) != 1 || again[0].Seq != 3 || init.Chats[0].Unread != 3 || init.Chats[0].ReadSeq != 0 {
			t.Fatalf("after ACK 2: %d offline (%v), INIT_DATA %s", len(again), again, init.Raw)
		}
		// An ACK past the last seq is clamped; nothing waits afterwards
		// (unread still counts from the read position, which ACK leaves).
		c.send(obj{"type": "ACK", "chatId": chatID, "seq": 99})
		c.send(obj{"type": "PING"})
		c.expect("PONG")
		c.Close()
		_, init, again = s.chat(bob)
		if len(again) != 0 || init.Chats[0].Unread != 3 || init.Chats[0].ReadSeq != 0 {
			t.Fatalf("after ACK 99: %d offline, INIT_DATA %s", len(again), init.Raw)
		}
		// A later message is still delivered: the clamp kept the cursor at 3.
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "one more"})
		ca.expect("SUCCESS")
		_, _, again = s.chat(bob)
		if len(again) != 1 || again[0].Seq != 4 {
			t.Fatalf("after a new message: got %v", again)
		}
	})

	t.Run("ACK errors", func(t *testing.T) {
		c, _, _ := s.chat(bob)
		carol := s.newUser("carol")
		for _, f := range []struct {
			frame obj
			code  string
		}{
			{obj{"chatId": chatID}, "invalid"},
			{obj{"chatId": chatID, "seq": -1}, "invalid"},
			{obj{"seq": 1}, "invalid"},
			{obj{"chatId": chatIDOf(alice.name, carol.name), "seq": 1}, "forbidden"},
			{obj{"groupId": "gnothere", "seq": 1}, "not_found"},
			{obj{"chatId": chatID, "groupId": "gx", "seq": 1}, "invalid"},
		} {
			fr := obj{"type": "ACK", "id": "a"}
			for k, v := range f.frame {
				fr[k] = v
			}
			c.send(fr)
			if e := c.expectError(f.code); e.ID != "a" {
				t.Fatalf("ACK error without id: %s", e.Raw)
			}
		}
	})
}

func TestOfflineGroupDelivery(t *testing.T) {
	s := startServer(t, nil)
	alice, bob, carol := s.newUser("alice"), s.newUser("bob"), s.newUser("carol")
	ca, _, _ := s.chat(alice)
	ca.send(obj{"type": "CREATE_GROUP", "name": "team", "members": []string{bob.name}})
	gid := ca.expect("SUCCESS").GroupID
	ca.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "before carol"})
	ca.expect("SUCCESS")
	ca.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": gid, "username": carol.name})
	ca.expect("SUCCESS")
	ca.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "after carol"})
	ca.expect("SUCCESS")

	_, init, offline := s.chat(bob)
	if len(init.Groups) != 1 || init.Groups[0].GroupID != gid || init.Groups[0].Unread != 2 || init.Groups[0].LastSeq != 2 || init.Groups[0].Name != "team" {
		t.Fatalf("bob's INIT_DATA: got %s", init.Raw)
	}
	if len(offline) != 2 || offline[0].Type != "GROUP_CHAT" || offline[0].GroupID != gid || !offline[1].Offline {
		t.Fatalf("bob's offline messages: %v", offline)
	}
	// Carol joined at seq 1: only the later message waits for her.
	_, init, offline = s.chat(carol)
	if init.Groups[0].Unread != 1 || len(offline) != 1 || offline[0].Content != "after carol" {
		t.Fatalf("carol: INIT_DATA %s, offline %v", init.Raw, offline)
	}
}

func TestOfflineCap(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	const n = 1005
	for i := 0; i < n; i++ {
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "x"})
	}
	for i := 0; i < n; i++ {
		ca.expect("SUCCESS")
	}
	// The oldest 1000 come as offline messages; the rest by history.
	cb, init, offline := s.chat(bob)
	if len(offline) != 1000 || offline[0].Seq != 1 || offline[999].Seq != 1000 || init.Chats[0].Unread != n {
		t.Fatalf("got %d offline messages (%d..), unread %d", len(offline), offline[0].Seq, init.Chats[0].Unread)
	}
	cb.send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": alice.name, "after": 1000})
	if h := cb.expect("ONE_TO_ONE_CHAT_HISTORY"); len(h.Messages) != 5 || h.HasMore {
		t.Fatalf("the rest by history: got %d hasMore=%v", len(h.Messages), h.HasMore)
	}
}

// TestLiveDuringSync checks that messages sent while a connection is
// receiving its offline messages arrive once, after them.
func TestLiveDuringSync(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	const before, during = 300, 100
	for i := 0; i < before; i++ {
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "old"})
	}
	for i := 0; i < before; i++ {
		ca.expect("SUCCESS")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < during; i++ {
			ca.Send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "new"})
		}
	}()
	cb := s.dial(bob, "chat")
	cb.expect("INIT_DATA")
	seen := map[int64]bool{}
	var last int64
	info := false
	for len(seen) < before+during || !info {
		f := cb.next()
		if f.Type == "INFO" {
			info = true
			continue
		}
		if f.Type != "ONE_TO_ONE_CHAT" {
			t.Fatalf("got %s", f.Raw)
		}
		if seen[f.Seq] {
			t.Fatalf("seq %d delivered twice", f.Seq)
		}
		if f.Seq <= last {
			t.Fatalf("seq %d after %d", f.Seq, last)
		}
		seen[f.Seq], last = true, f.Seq
	}
	<-done
	cb.quiet(100 * ms)
}

// TestResync checks what a connection is sent when the bus comes back from
// an outage: everything above its cursors, again.
func TestResync(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	for i := 0; i < 3; i++ {
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "m" + itoa(i)})
		ca.expect("SUCCESS")
		cb.expect("ONE_TO_ONE_CHAT")
	}
	cb.send(obj{"type": "ACK", "chatId": chatIDOf(alice.name, bob.name), "seq": 1})
	cb.send(obj{"type": "PING"})
	cb.expect("PONG")
	s.hub.Resync()
	for _, want := range []int64{2, 3} {
		if m := cb.expect("ONE_TO_ONE_CHAT"); !m.Offline || m.Seq != want {
			t.Fatalf("resync: got %s, want offline seq %d", m.Raw, want)
		}
	}
	if info := cb.expect("INFO"); info.Event != "offline_delivered" || *info.Count != 2 {
		t.Fatalf("got %s", info.Raw)
	}
	if info := ca.expect("INFO"); *info.Count != 0 {
		t.Fatalf("alice: got %s", info.Raw)
	}
}
