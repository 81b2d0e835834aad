package main

import (
	"strings"
	"testing"
)

func TestGroups(t *testing.T) {
	s := startServer(t, nil)
	alice, bob, carol, dave := s.newUser("alice"), s.newUser("bob"), s.newUser("carol"), s.newUser("dave")
	ca, _, _ := s.chat(alice)
	ca2, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	cc, _, _ := s.chat(carol)
	cd, _, _ := s.chat(dave)

	ca.send(obj{"type": "CREATE_GROUP", "id": "c1", "name": "  Caf\u0065\u0301 crew ", "members": []string{bob.name, bob.name}})
	ok := ca.expect("SUCCESS")
	gid := ok.GroupID
	if ok.ID != "c1" || gid == "" || ok.Name != "  Caf\u00e9 crew " {
		t.Fatalf("CREATE_GROUP: got %s (the name is NFC-normalized)", ok.Raw)
	}
	// One GROUP_MEMBER_JOINED per member, the creator included, to every
	// member's connections except the creating one.
	for _, c := range []*conn{ca2, cb} {
		seen := map[string]bool{}
		for i := 0; i < 2; i++ {
			j := c.expect("GROUP_MEMBER_JOINED")
			if j.GroupID != gid || j.By != alice.name || j.Name != ok.Name {
				t.Fatalf("%s: got %s", c.name, j.Raw)
			}
			seen[j.Username] = true
		}
		if !seen[alice.name] || !seen[bob.name] {
			t.Fatalf("%s: joined events for %v", c.name, seen)
		}
	}
	ca.quiet(50 * ms)

	t.Run("fan-out", func(t *testing.T) {
		cb.send(obj{"type": "GROUP_CHAT", "id": "g1", "groupId": gid, "content": "hi group"})
		ok := cb.expect("SUCCESS")
		if ok.GroupID != gid || ok.Seq != 1 || ok.ChatID != "" {
			t.Fatalf("SUCCESS: got %s", ok.Raw)
		}
		for _, c := range []*conn{ca, ca2} {
			m := c.expect("GROUP_CHAT")
			if m.GroupID != gid || m.From != bob.name || m.Content != "hi group" || m.Seq != 1 || m.To != "" || m.MessageID != ok.MessageID {
				t.Fatalf("%s: got %s", c.name, m.Raw)
			}
		}
		cb.quiet(50 * ms)
		cc.quiet(10 * ms)
	})

	t.Run("outsiders", func(t *testing.T) {
		cc.send(obj{"type": "GROUP_CHAT", "id": "x", "groupId": gid, "content": "let me in"})
		cc.expectError("forbidden")
		cc.send(obj{"type": "GET_GROUP_CHAT_HISTORY", "groupId": gid})
		cc.expectError("forbidden")
		cc.send(obj{"type": "GET_GROUP_MEMBERS", "groupId": gid})
		cc.expectError("forbidden")
		cc.send(obj{"type": "GROUP_CHAT", "groupId": "gnosuchgroup", "content": "x"})
		cc.expectError("not_found")
		cc.send(obj{"type": "GROUP_CHAT", "groupId": "bad-id", "content": "x"})
		cc.expectError("invalid")
		cc.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": gid, "username": carol.name})
		cc.expectError("forbidden")
		cc.send(obj{"type": "REMOVE_GROUP_MEMBER", "groupId": gid, "username": bob.name})
		cc.expectError("forbidden")
		cc.send(obj{"type": "LEAVE_GROUP", "groupId": gid})
		cc.expectError("not_found")
	})

	t.Run("join", func(t *testing.T) {
		cc.send(obj{"type": "JOIN_GROUP", "id": "j", "groupId": gid})
		if ok := cc.expect("SUCCESS"); ok.ID != "j" || ok.GroupID != gid {
			t.Fatalf("JOIN_GROUP: got %s", ok.Raw)
		}
		for _, c := range []*conn{ca, ca2, cb} {
			if j := c.expect("GROUP_MEMBER_JOINED"); j.Username != carol.name || j.By != carol.name {
				t.Fatalf("%s: got %s", c.name, j.Raw)
			}
		}
		// Joining again: SUCCESS, no event.
		cc.send(obj{"type": "JOIN_GROUP", "groupId": gid})
		cc.expect("SUCCESS")
		ca.quiet(50 * ms)
		// A new member starts at the last seq but can read older history.
		cc.send(obj{"type": "GET_GROUP_CHAT_HISTORY", "id": "h", "groupId": gid})
		h := cc.expect("GROUP_CHAT_HISTORY")
		if h.GroupID != gid || len(h.Messages) != 1 || h.Messages[0].GroupID != gid || h.Messages[0].From != bob.name || h.HasMore {
			t.Fatalf("history: got %s", h.Raw)
		}
	})

	t.Run("members", func(t *testing.T) {
		cb.send(obj{"type": "GET_GROUP_MEMBERS", "id": "m", "groupId": gid})
		m := cb.expect("GROUP_MEMBERS")
		if m.ID != "m" || m.GroupID != gid || m.Owner != alice.name || m.Name != ok.Name || len(m.Members) != 3 {
			t.Fatalf("GROUP_MEMBERS: got %s", m.Raw)
		}
		want := []string{alice.name, bob.name, carol.name}
		for i, mem := range m.Members {
			if mem.Username != want[i] || mem.Status != "ONLINE" {
				t.Fatalf("member %d: got %+v, want %s ONLINE (earliest membership first)", i, mem, want[i])
			}
		}
	})

	t.Run("leave", func(t *testing.T) {
		cc.send(obj{"type": "LEAVE_GROUP", "id": "l", "groupId": gid})
		cc.expect("SUCCESS")
		for _, c := range []*conn{ca, ca2, cb} {
			l := c.expect("GROUP_MEMBER_LEFT")
			if l.Username != carol.name || l.By != carol.name || l.Owner != alice.name || l.GroupID != gid {
				t.Fatalf("%s: got %s", c.name, l.Raw)
			}
		}
		ca.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "after carol left"})
		ca.expect("SUCCESS")
		ca2.expect("GROUP_CHAT")
		cb.expect("GROUP_CHAT")
		cc.quiet(100 * ms)
		cc.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "can I still post?"})
		cc.expectError("forbidden")
	})

	t.Run("private", func(t *testing.T) {
		cb.send(obj{"type": "CREATE_GROUP", "name": strings.Repeat("é", 100), "members": []string{dave.name}})
		cb.expect("SUCCESS") // 100 characters is the longest name
		cd.expect("GROUP_MEMBER_JOINED")
		cd.expect("GROUP_MEMBER_JOINED")
		cb.send(obj{"type": "CREATE_GROUP", "name": "secret", "private": true, "members": []string{dave.name}})
		pid := cb.expect("SUCCESS").GroupID
		cd.expect("GROUP_MEMBER_JOINED")
		cd.expect("GROUP_MEMBER_JOINED")
		cb.quiet(50 * ms) // the creating connection gets SUCCESS only

		cc.send(obj{"type": "JOIN_GROUP", "groupId": pid})
		cc.expectError("forbidden")
		cd.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": pid, "username": carol.name})
		cd.expectError("forbidden")
		cb.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": pid, "username": "nobody_at_all"})
		cb.expectError("not_found")

		cb.send(obj{"type": "ADD_GROUP_MEMBER", "id": "a", "groupId": pid, "username": carol.name})
		if ok := cb.expect("SUCCESS"); ok.ID != "a" || ok.GroupID != pid {
			t.Fatalf("ADD_GROUP_MEMBER: got %s", ok.Raw)
		}
		for _, c := range []*conn{cc, cd} {
			if j := c.expect("GROUP_MEMBER_JOINED"); j.Username != carol.name || j.By != bob.name || j.Name != "secret" {
				t.Fatalf("%s: got %s", c.name, j.Raw)
			}
		}
		cb.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": pid, "username": carol.name})
		cb.expect("SUCCESS") // already a member: no event
		cc.quiet(50 * ms)

		cd.send(obj{"type": "REMOVE_GROUP_MEMBER", "groupId": pid, "username": carol.name})
		cd.expectError("forbidden")
		cb.send(obj{"type": "REMOVE_GROUP_MEMBER", "groupId": pid, "username": carol.name})
		cb.expect("SUCCESS")
		for _, c := range []*conn{cc, cd} {
			if l := c.expect("GROUP_MEMBER_LEFT"); l.Username != carol.name || l.By != bob.name || l.Owner != bob.name {
				t.Fatalf("%s: got %s", c.name, l.Raw)
			}
		}
		cb.send(obj{"type": "REMOVE_GROUP_MEMBER", "groupId": pid, "username": carol.name})
		cb.expectError("not_found")

		// The owner leaving hands the group to the longest-standing member.
		cb.send(obj{"type": "REMOVE_GROUP_MEMBER", "groupId": pid, "username": bob.name})
		cb.expect("SUCCESS")
		if l := cd.expect("GROUP_MEMBER_LEFT"); l.Username != bob.name || l.Owner != dave.name {
			t.Fatalf("owner left: got %s", l.Raw)
		}
		cd.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": pid, "username": carol.name})
		cd.expect("SUCCESS")
		cc.expect("GROUP_MEMBER_JOINED")
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, f := range []obj{
			{"type": "CREATE_GROUP", "name": ""},
			{"type": "CREATE_GROUP", "name": "   "},
			{"type": "CREATE_GROUP", "name": "tab\there"},
			{"type": "CREATE_GROUP", "name": strings.Repeat("é", 101)},
			{"type": "CREATE_GROUP", "name": "ok", "members": []string{"bad name"}},
			{"type": "JOIN_GROUP"},
			{"type": "ADD_GROUP_MEMBER", "groupId": gid},
			{"type": "GET_GROUP_MEMBERS", "groupId": ""},
		} {
			cd.send(f)
			cd.expectError("invalid")
		}
		cd.send(obj{"type": "CREATE_GROUP", "name": "x", "members": []string{"nobody_at_all"}})
		cd.expectError("not_found")
		cd.send(obj{"type": "JOIN_GROUP", "groupId": "gmissing"})
		cd.expectError("not_found")
	})
}
