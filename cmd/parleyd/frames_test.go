package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestBadFrames(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	for _, c := range []struct {
		name, frame, id string
	}{
		{"not JSON", `hello`, ""},
		{"truncated", `{"type":"PING"`, ""},
		{"array", `[1,2]`, ""},
		{"no type", `{"id":"n1"}`, "n1"},
		{"unknown type", `{"type":"FLY","id":"u1"}`, "u1"},
		{"id too long", `{"type":"PING","id":"` + strings.Repeat("i", 65) + `"}`, ""},
		{"id not a string", `{"type":"PING","id":5}`, ""},
		{"deep nesting", `{"type":"PING","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, ""},
		{"wrong field type", `{"type":"GET_ONE_TO_ONE_HISTORY","id":"w1","to":7}`, "w1"},
	} {
		if err := ca.SendRaw(websocket.TextMessage, []byte(c.frame)); err != nil {
			t.Fatal(err)
		}
		if e := ca.expectError("invalid"); e.ID != c.id || e.Msg == "" {
			t.Errorf("%s: got %s, want id %q", c.name, e.Raw, c.id)
		}
	}
	if err := ca.SendRaw(websocket.BinaryMessage, []byte(`{"type":"PING"}`)); err != nil {
		t.Fatal(err)
	}
	ca.expectError("invalid")
	// The socket is still open and works.
	ca.send(obj{"type": "PING", "id": strings.Repeat("i", 64)})
	ca.expect("PONG")

	t.Run("typing", func(t *testing.T) {
		cb, _, _ := s.chat(bob)
		// Typing goes only between users who share a conversation.
		ca.send(obj{"type": "TYPING", "to": bob.name})
		cb.quiet(100 * ms)
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "hi"})
		ca.expect("SUCCESS")
		cb.expect("ONE_TO_ONE_CHAT")
		ca.send(obj{"type": "TYPING", "to": bob.name})
		if ty := cb.expect("TYPING"); ty.From != alice.name || ty.ChatID != chatIDOf(alice.name, bob.name) || ty.GroupID != "" {
			t.Fatalf("got %s", ty.Raw)
		}
		ca.quiet(50 * ms) // no reply to TYPING
		ca.send(obj{"type": "CREATE_GROUP", "name": "g", "members": []string{bob.name}})
		gid := ca.expect("SUCCESS").GroupID
		cb.expect("GROUP_MEMBER_JOINED")
		cb.expect("GROUP_MEMBER_JOINED")
		cb.send(obj{"type": "TYPING", "groupId": gid})
		if ty := ca.expect("TYPING"); ty.From != bob.name || ty.GroupID != gid {
			t.Fatalf("got %s", ty.Raw)
		}
		cb.quiet(50 * ms)
		ca.send(obj{"type": "TYPING", "to": alice.name})
		ca.expectError("invalid")
		ca.send(obj{"type": "TYPING"})
		ca.expectError("invalid")
		ca.send(obj{"type": "TYPING", "groupId": "gnope"})
		ca.expectError("not_found")
		ca.send(obj{"type": "TYPING", "to": "nobody_here"})
		ca.expectError("not_found")
	})

	t.Run("frame too large", func(t *testing.T) {
		big := `{"type":"PING","pad":"` + strings.Repeat("x", 64<<10) + `"}`
		ca.SendRaw(websocket.TextMessage, []byte(big))
		if code := ca.closeCode(); code != 1009 {
			t.Fatalf("close code %d, want 1009", code)
		}
	})

	t.Run("a frame of exactly 64 KiB is fine", func(t *testing.T) {
		c, _, _ := s.chat(alice)
		head, tail := `{"type":"PING","id":"big","pad":"`, `"}`
		frame := head + strings.Repeat("x", 64<<10-len(head)-len(tail)) + tail
		c.SendRaw(websocket.TextMessage, []byte(frame))
		if p := c.expect("PONG"); p.ID != "big" {
			t.Fatalf("got %s", p.Raw)
		}
	})
}

// TestHealth: the public /health and /ready say ok and nothing more; the
// operators' listener has the checks, and /metrics, which the public
// listener does not serve.
func TestHealth(t *testing.T) {
	s := startServer(t, nil)
	get := func(t *testing.T, url string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	for _, path := range []string{"/health", "/ready"} {
		code, body := get(t, s.api.BaseURL+path)
		if code != 200 || body["status"] != "ok" || len(body) != 1 {
			t.Errorf("public %s: got %d %v, want 200 and only {\"status\":\"ok\"}", path, code, body)
		}
		code, body = get(t, "http://"+s.Addr("metrics")+path)
		checks, _ := body["checks"].(map[string]any)
		if code != 200 || body["status"] != "ok" || checks["store"] != "ok" || body["node"] == nil {
			t.Errorf("operators' %s: got %d %v", path, code, body)
		}
	}
	if code, _ := get(t, s.api.BaseURL+"/metrics"); code != 404 {
		t.Errorf("public /metrics: got %d, want 404", code)
	}
	resp, err := http.Get("http://" + s.Addr("metrics") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "parley_connections") {
		t.Errorf("operators' /metrics: got %d\n%.300s", resp.StatusCode, b)
	}
	if code, _ := get(t, s.api.BaseURL+"/no/such/thing"); code != 404 {
		t.Fatalf("unknown path: got %d", code)
	}
}
