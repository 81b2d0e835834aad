package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
)

// post sends a raw request to the HTTP API and returns status and body.
func (s *testServer) post(t *testing.T, path, contentType, body string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.api.BaseURL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func apiStatus(err error) (int, string) {
	var e *client.APIError
	if errors.As(err, &e) {
		return e.Status, e.Code
	}
	return 0, ""
}

func TestAuthAPI(t *testing.T) {
	s := startServer(t, nil)
	ctx := context.Background()
	for _, c := range []struct {
		name, user, pass string
		status           int
		code             string
	}{
		{"ok", "alice_1.x", "correct horse", 201, ""},
		{"taken", "alice_1.x", "another password", 409, "conflict"},
		{"case-sensitive names", "ALICE_1.x", "correct horse", 201, ""},
		{"short name", "al", "correct horse", 400, "invalid"},
		{"long name", strings.Repeat("a", 33), "correct horse", 400, "invalid"},
		{"bad character", "al-ice", "correct horse", 400, "invalid"},
		{"unicode name", "alicé", "correct horse", 400, "invalid"},
		{"short password", "bob_", "seven77", 400, "invalid"},
		{"long password", "bob_", strings.Repeat("p", 73), 400, "invalid"},
		{"72-byte password", "bob_", strings.Repeat("p", 72), 201, ""},
	} {
		err := s.api.Register(ctx, c.user, c.pass)
		status, code := apiStatus(err)
		if c.status == 201 && err != nil || c.status != 201 && (status != c.status || code != c.code) {
			t.Errorf("register %s: got %v, want %d %s", c.name, err, c.status, c.code)
		}
	}

	tok, err := s.api.Login(ctx, "alice_1.x", "correct horse")
	if err != nil || tok.Token == "" || tok.RefreshToken == "" || tok.Username != "alice_1.x" || tok.ExpiresIn != 900 {
		t.Fatalf("login: got %+v, %v", tok, err)
	}
	for _, c := range []struct{ user, pass string }{
		{"alice_1.x", "wrong password"}, {"nobody", "correct horse"}, {"alice_1.x", strings.Repeat("p", 100)},
	} {
		if _, err := s.api.Login(ctx, c.user, c.pass); err == nil {
			t.Errorf("login %s/%s succeeded", c.user, c.pass)
		} else if status, code := apiStatus(err); status != 401 || code != "unauthorized" {
			t.Errorf("login %s: got %v, want 401", c.user, err)
		}
	}
	if _, err := s.api.Login(ctx, "", ""); err == nil {
		t.Error("empty login succeeded")
	} else if status, _ := apiStatus(err); status != 400 {
		t.Errorf("empty login: got %v, want 400", err)
	}

	t.Run("bodies", func(t *testing.T) {
		for _, c := range []struct {
			name, ctype, body string
			status            int
		}{
			{"not JSON", "application/json", "username=a", 400},
			{"not an object", "application/json", `["a"]`, 400},
			{"two objects", "application/json", `{} {}`, 400},
			{"wrong content type", "text/plain", `{"username":"carol","password":"password1"}`, 400},
			{"too large", "application/json", `{"username":"carol","password":"` + strings.Repeat("x", 70000) + `"}`, 400},
			{"unknown fields ignored", "application/json; charset=utf-8", `{"username":"carol","password":"password1","extra":[1,2]}`, 201},
		} {
			status, body := s.post(t, "/auth/register", c.ctype, c.body, nil)
			if status != c.status {
				t.Errorf("%s: got %d %s, want %d", c.name, status, body, c.status)
			}
			if status >= 400 && (!strings.Contains(body, `"error"`) || !strings.Contains(body, `"code"`)) {
				t.Errorf("%s: error body %s", c.name, body)
			}
		}
		// The /api prefix serves the same calls.
		if status, body := s.post(t, "/api/auth/login", "application/json", `{"username":"carol","password":"password1"}`, nil); status != 200 || !strings.Contains(body, `"refreshToken"`) {
			t.Errorf("/api/auth/login: got %d %s", status, body)
		}
	})

	t.Run("refresh rotates", func(t *testing.T) {
		t2, err := s.api.Refresh(ctx, tok.RefreshToken)
		if err != nil || t2.RefreshToken == tok.RefreshToken || t2.Token == "" {
			t.Fatalf("refresh: got %+v, %v", t2, err)
		}
		// Access tokens already issued stay valid.
		c, err := s.api.Dial(ctx, "chat", tok.Token)
		if err != nil {
			t.Fatalf("old access token after refresh: %v", err)
		}
		defer c.Close()
		if _, err := s.api.Refresh(ctx, ""); err == nil {
			t.Fatal("empty refresh token accepted")
		} else if status, _ := apiStatus(err); status != 400 {
			t.Fatalf("empty refresh token: got %v, want 400", err)
		}
		if _, err := s.api.Refresh(ctx, "made-up"); err == nil {
			t.Fatal("unknown refresh token accepted")
		}
		// The old refresh token again, at once: a client that lost the
		// answer (a page reloaded mid-refresh) retries within the grace and
		// gets a new pair; the pair it lost stops working.
		t3, err := s.api.Refresh(ctx, tok.RefreshToken)
		if err != nil || t3.RefreshToken == t2.RefreshToken || t3.RefreshToken == tok.RefreshToken {
			t.Fatalf("retried refresh: got %+v, %v; want a new pair", t3, err)
		}
		// The lost pair's refresh token comes back: someone else has it.
		// Theft: 401, and the session ends: its access tokens stop
		// working and its sockets close.
		_, err = s.api.Refresh(ctx, t2.RefreshToken)
		if status, _ := apiStatus(err); status != 401 {
			t.Fatalf("retired refresh token: got %v, want 401", err)
		}
		select {
		case <-c.Done():
			if c.CloseCode() != 1008 {
				t.Fatalf("close code %d, want 1008", c.CloseCode())
			}
		case <-time.After(time.Second):
			t.Fatal("the session's socket was not closed within a second")
		}
		if _, err := s.api.Refresh(ctx, t3.RefreshToken); err == nil {
			t.Fatal("the new refresh token of an ended session still works")
		}
		if _, err := s.api.Dial(ctx, "chat", t2.Token); err == nil {
			t.Fatal("an access token of an ended session still opens sockets")
		}
	})
}

func TestLogout(t *testing.T) {
	s := startServer(t, nil)
	ctx := context.Background()
	alice := s.newUser("alice")
	other, err := s.api.Login(ctx, alice.name, alice.pass) // a second session
	if err != nil {
		t.Fatal(err)
	}
	chat := s.dial(alice, "chat")
	pres := s.dial(alice, "presence")
	keep, err := s.api.Dial(ctx, "chat", other.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()

	if err := s.api.Logout(ctx, alice.tokens.Token); err != nil {
		t.Fatalf("logout: %v", err)
	}
	start := time.Now()
	for _, c := range []*conn{chat, pres} {
		if code := c.closeCode(); code != 1008 {
			t.Fatalf("close code %d, want 1008", code)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("sockets closed after %v, want within a second", took)
	}
	// The other session is untouched.
	select {
	case <-keep.Done():
		t.Fatal("logout closed another session's socket")
	case <-time.After(100 * ms):
	}
	if _, err := s.api.Dial(ctx, "chat", alice.tokens.Token); err == nil {
		t.Fatal("a logged-out access token opens a socket")
	}
	if err := s.api.Logout(ctx, alice.tokens.Token); err == nil {
		t.Fatal("logging out twice succeeded")
	} else if status, _ := apiStatus(err); status != 401 {
		t.Fatalf("second logout: got %v, want 401", err)
	}
	if _, err := s.api.Refresh(ctx, alice.tokens.RefreshToken); err == nil {
		t.Fatal("a logged-out refresh token works")
	}
	if status, _ := s.post(t, "/auth/logout", "application/json", "", nil); status != 401 {
		t.Fatalf("logout without a token: got %d", status)
	}
}

func TestWebSocketAuth(t *testing.T) {
	s := startServer(t, nil)
	ctx := context.Background()
	alice := s.newUser("alice")
	url, _ := s.api.WebSocketURL("chat")
	for _, c := range []struct {
		name, token string
	}{
		{"no token", ""},
		{"garbage", "not.a.token"},
		{"tampered", tamper(alice.tokens.Token)},
	} {
		_, resp, err := client.Dial(ctx, url, c.token, nil)
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("%s: got %v (%v), want 401 before the upgrade", c.name, err, resp)
		}
	}
	// The token may come in the query, for browsers.
	c, _, err := client.Dial(ctx, url, alice.tokens.Token, &client.DialOptions{TokenInQuery: true})
	if err != nil {
		t.Fatalf("authToken query: %v", err)
	}
	c.Close()
	// The dedicated ports serve their endpoint on any path.
	for _, addr := range []string{"ws://" + s.Addr("chat") + "/", "ws://" + s.Addr("chat") + "/any/path", "ws://" + s.Addr("presence")} {
		c, _, err := client.Dial(ctx, addr, alice.tokens.Token, nil)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		cc := &conn{Conn: c, t: t, name: addr, keepPresence: true}
		if strings.Contains(addr, s.Addr("chat")) {
			cc.expect("INIT_DATA")
		} else {
			cc.send(obj{"type": "PING"})
			cc.expect("PONG")
		}
		c.Close()
	}
	// The query token is never logged.
	if strings.Contains(s.log.String(), alice.tokens.Token) || strings.Contains(s.log.String(), "authToken") {
		t.Fatal("a token reached the log")
	}
}

// tamper changes one character in the middle of a token's signature. (The
// last characters of a base64url signature carry padding bits, so changing
// them may leave the decoded signature as it was.)
func tamper(token string) string {
	b := []byte(token)
	i := len(b) - 10
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
