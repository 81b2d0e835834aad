package main

import (
	"context"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
)

// contacts makes a and b share a one-to-one chat (a writes first and
// learns b's presence, as a new contact).
func contacts(t *testing.T, s *testServer, a, b *user) {
	t.Helper()
	c, _, _ := s.chat(a)
	c.send(obj{"type": "ONE_TO_ONE_CHAT", "to": b.name, "content": "hi"})
	got := c.expectAll("SUCCESS", "PRESENCE_UPDATE")
	if p := got["PRESENCE_UPDATE"]; p.Username != b.name {
		t.Fatalf("%s: got %s, want %s's presence", a.name, p.Raw, b.name)
	}
	c.CloseNormal()
	waitOffline(t, s, a)
	// b's side of the introduction has no connection to reach; give its
	// fan-out worker a moment, so that it cannot reach one the test opens
	// next.
	time.Sleep(100 * ms)
}

// waitOffline waits until the server has counted a's connections closed.
func waitOffline(t *testing.T, s *testServer, a *user) {
	t.Helper()
	until(t, wait, a.name+" counted offline", func() bool {
		online, _ := s.hub.Online(context.Background(), a.name)
		return !online
	})
}

func expectPresence(t *testing.T, c *conn, username, status string) client.Frame {
	t.Helper()
	p := c.expect("PRESENCE_UPDATE")
	if p.Username != username || p.Status != status || p.LastSeen == nil {
		t.Fatalf("%s: got %s, want %s %s with lastSeen", c.name, p.Raw, username, status)
	}
	return p
}

func TestPresence(t *testing.T) {
	s := startServer(t, nil)
	alice, bob, carol := s.newUser("alice"), s.newUser("bob"), s.newUser("carol")
	contacts(t, s, alice, bob)

	// A presence connection starts with one update per contact.
	pb := s.dial(bob, "presence")
	expectPresence(t, pb, alice.name, "OFFLINE")
	pb.quiet(50 * ms)

	cb, _, _ := s.chat(bob)
	cb.keepPresence = true
	ca, init, _ := s.chat(alice)
	if init.Chats[0].Status != "ONLINE" || init.Chats[0].With != bob.name {
		t.Fatalf("alice's INIT_DATA: got %s", init.Raw)
	}
	// Bob learns that alice came online, on each of his connections.
	expectPresence(t, pb, alice.name, "ONLINE")
	expectPresence(t, cb, alice.name, "ONLINE")

	// A second device does not change her status; closing one of two
	// does not either.
	ca2, _, _ := s.chat(alice)
	ca2.CloseNormal()
	pb.quiet(100 * ms)

	// Carol shares no chat with alice: she hears nothing.
	pc := s.dial(carol, "presence")
	pc.quiet(50 * ms)

	ca.send(obj{"type": "DISCONNECT"})
	if code := ca.closeCode(); code != 1000 {
		t.Fatalf("DISCONNECT: close code %d, want 1000", code)
	}
	off := expectPresence(t, pb, alice.name, "OFFLINE")
	expectPresence(t, cb, alice.name, "OFFLINE")
	pc.quiet(50 * ms)

	// lastSeen is kept: a new presence connection reports it.
	pb2 := s.dial(bob, "presence")
	if p := expectPresence(t, pb2, alice.name, "OFFLINE"); *p.LastSeen != *off.LastSeen {
		t.Fatalf("lastSeen: got %s, want %s", *p.LastSeen, *off.LastSeen)
	}

	t.Run("presence connections take only PING and DISCONNECT", func(t *testing.T) {
		pb.send(obj{"type": "PING", "id": "p"})
		if p := pb.expect("PONG"); p.ID != "p" {
			t.Fatalf("got %s", p.Raw)
		}
		pb.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "x", "to": alice.name, "content": "no"})
		if e := pb.expectError("invalid"); e.ID != "x" {
			t.Fatalf("got %s", e.Raw)
		}
		pb.send(obj{"type": "DISCONNECT"})
		if code := pb.closeCode(); code != 1000 {
			t.Fatalf("close code %d", code)
		}
	})
}

func TestPresenceByMissedPongs(t *testing.T) {
	s := startServer(t, func(c *Config) { c.PingInterval = 100 * time.Millisecond })
	alice, bob := s.newUser("alice"), s.newUser("bob")
	contacts(t, s, alice, bob)
	pb := s.dial(bob, "presence")
	expectPresence(t, pb, alice.name, "OFFLINE")

	// Alice's client stops answering pings (a dead network, a frozen
	// tab): the server drops her within two intervals.
	url, _ := s.api.WebSocketURL("chat")
	dead, _, err := client.Dial(context.Background(), url, alice.tokens.Token, &client.DialOptions{NoPong: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	expectPresence(t, pb, alice.name, "ONLINE")
	start := time.Now()
	expectPresence(t, pb, alice.name, "OFFLINE")
	if took := time.Since(start); took > 400*time.Millisecond {
		t.Fatalf("dropped after %v, want within two ping intervals (200ms) and some slack", took)
	}
	// A live client that answers pings stays connected.
	pb.quiet(350 * ms)
	pb.send(obj{"type": "PING"})
	pb.expect("PONG")
}

// TestPresenceConnGetsPresenceOnly: a presence connection never gets the
// messages and events its user's chat connections get.
func TestPresenceConnGetsPresenceOnly(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	pa := s.dial(alice, "presence")
	pa.quiet(50 * ms) // no contacts yet
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "mine"})
	// The chat makes them contacts: each learns the other's presence, on
	// every connection, in any order with the message's own frames.
	if p := ca.expectAll("SUCCESS", "PRESENCE_UPDATE")["PRESENCE_UPDATE"]; p.Username != bob.name || p.Status != "ONLINE" {
		t.Fatalf("alice: got %s", p.Raw)
	}
	if p := cb.expectAll("ONE_TO_ONE_CHAT", "PRESENCE_UPDATE")["PRESENCE_UPDATE"]; p.Username != alice.name || p.Status != "ONLINE" {
		t.Fatalf("bob: got %s", p.Raw)
	}
	expectPresence(t, pa, bob.name, "ONLINE")
	cb.send(obj{"type": "ONE_TO_ONE_CHAT", "to": alice.name, "content": "yours"})
	cb.expect("SUCCESS")
	ca.expect("ONE_TO_ONE_CHAT")
	cb.send(obj{"type": "TYPING", "to": alice.name})
	ca.expect("TYPING")
	ca.send(obj{"type": "CREATE_GROUP", "name": "g", "members": []string{bob.name}})
	ca.expect("SUCCESS")
	cb.expect("GROUP_MEMBER_JOINED")
	pa.quiet(150 * ms)
	cb.CloseNormal()
	expectPresence(t, pa, bob.name, "OFFLINE")
}
