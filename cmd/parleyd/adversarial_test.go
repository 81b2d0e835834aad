package main

// The adversarial suite: each test attacks the server the way a hostile
// client would and checks that it is refused with the right answer, that
// nothing is stored or leaked, and that other users are unaffected.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/parley-chat/parley/client"
)

func TestAttackIdentityAndAccess(t *testing.T) {
	s := startServer(t, nil)
	alice, bob, mallory := s.newUser("alice"), s.newUser("bob"), s.newUser("mallory")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	cm, _, _ := s.chat(mallory)
	ab := chatIDOf(alice.name, bob.name)
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "private"})
	ca.expect("SUCCESS")
	cb.expect("ONE_TO_ONE_CHAT")

	for _, c := range []struct {
		name  string
		frame obj
		code  string
	}{
		{"forged from", obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "from": alice.name, "content": "it's alice, honest"}, "forbidden"},
		{"forged chatId", obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "chatId": ab, "content": "x"}, "forbidden"},
		{"others' history by chatId", obj{"type": "GET_ONE_TO_ONE_HISTORY", "chatId": ab}, "forbidden"},
		{"others' history with a matching to", obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": bob.name, "chatId": ab}, "forbidden"},
		{"ACK of others' chat", obj{"type": "ACK", "chatId": ab, "seq": 1}, "forbidden"},
		{"typing into others' chat", obj{"type": "TYPING", "to": bob.name, "chatId": ab}, "forbidden"},
	} {
		cm.send(c.frame)
		if e := cm.expect("ERROR"); e.Code != c.code {
			t.Errorf("%s: got %s, want %s", c.name, e.Raw, c.code)
		}
	}
	cb.quiet(100 * ms) // bob got nothing from mallory
	cm.send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": alice.name})
	if h := cm.expect("ONE_TO_ONE_CHAT_HISTORY"); len(h.Messages) != 0 {
		t.Fatalf("mallory's own chat with alice shows %d messages", len(h.Messages))
	}

	t.Run("groups", func(t *testing.T) {
		ca.send(obj{"type": "CREATE_GROUP", "name": "private club", "private": true, "members": []string{bob.name, mallory.name}})
		gid := ca.expect("SUCCESS").GroupID
		for range 3 {
			cb.expect("GROUP_MEMBER_JOINED")
			cm.expect("GROUP_MEMBER_JOINED")
		}
		ca.send(obj{"type": "REMOVE_GROUP_MEMBER", "groupId": gid, "username": mallory.name})
		ca.expect("SUCCESS")
		cm.expect("GROUP_MEMBER_LEFT")
		cb.expect("GROUP_MEMBER_LEFT")
		for _, f := range []obj{
			{"type": "GROUP_CHAT", "groupId": gid, "content": "still here"},
			{"type": "GET_GROUP_CHAT_HISTORY", "groupId": gid},
			{"type": "GET_GROUP_MEMBERS", "groupId": gid},
			{"type": "JOIN_GROUP", "groupId": gid},
			{"type": "ADD_GROUP_MEMBER", "groupId": gid, "username": mallory.name},
			{"type": "TYPING", "groupId": gid},
			{"type": "ACK", "groupId": gid, "seq": 1},
		} {
			cm.send(f)
			cm.expectError("forbidden")
		}
		cb.quiet(100 * ms)
	})
}

// signed makes a token with the given claims, method and key.
func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAttackTokens(t *testing.T) {
	s := startServer(t, nil)
	ctx := context.Background()
	alice := s.newUser("alice")
	secret, err := os.ReadFile(filepath.Join(s.Config.DataDir, "jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	key := []byte(strings.TrimSpace(string(secret)))
	good, err := jwt.Parse(alice.tokens.Token, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		t.Fatal(err)
	}
	claims := good.Claims.(jwt.MapClaims)
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range claims {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	parts := strings.Split(alice.tokens.Token, ".")
	none := strings.Join([]string{"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", parts[1], ""}, ".")
	url, _ := s.api.WebSocketURL("chat")
	for _, c := range []struct{ name, token string }{
		{"expired", signed(t, jwt.SigningMethodHS256, key, with("exp", time.Now().Add(-time.Minute).Unix()))},
		{"no expiry", signed(t, jwt.SigningMethodHS256, key, with("exp", nil))},
		{"tampered subject", parts[0] + "." + strings.TrimRight(jwtSeg(t, `{"sub":"bob","sid":"x","iss":"parley","exp":9999999999}`), "=") + "." + parts[2]},
		{"other secret", signed(t, jwt.SigningMethodHS256, []byte("some-other-secret-that-is-long-enough-0123456789"), claims)},
		{"alg none", none},
		{"HS512 with the right key", signed(t, jwt.SigningMethodHS512, key, claims)},
		{"other session", signed(t, jwt.SigningMethodHS256, key, with("sid", "not-a-session"))},
		{"no session", signed(t, jwt.SigningMethodHS256, key, with("sid", nil))},
		{"other user of the session", signed(t, jwt.SigningMethodHS256, key, with("sub", "bob"))},
		{"wrong issuer", signed(t, jwt.SigningMethodHS256, key, with("iss", "evil"))},
		{"garbage", "a.b.c"},
	} {
		_, resp, err := client.Dial(ctx, url, c.token, nil)
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("%s: dial got %v (status %v), want 401", c.name, err, resp)
		}
		req, _ := http.NewRequest("POST", s.api.BaseURL+"/auth/logout", nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 401 {
			t.Errorf("%s: logout got %v %v, want 401", c.name, r, err)
		} else {
			r.Body.Close()
		}
	}
	// The genuine token still works after all that.
	c, err := s.api.Dial(ctx, "chat", alice.tokens.Token)
	if err != nil {
		t.Fatalf("genuine token: %v", err)
	}
	c.Close()
}

var jwtEncoding = base64.RawURLEncoding

func jwtSeg(t *testing.T, s string) string {
	t.Helper()
	return strings.TrimRight(jwtEncoding.EncodeToString([]byte(s)), "=")
}

func TestAttackFrames(t *testing.T) {
	s := startServer(t, nil)
	alice, bob, mallory := s.newUser("alice"), s.newUser("bob"), s.newUser("mallory")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)

	t.Run("invalid UTF-8", func(t *testing.T) {
		cm, _, _ := s.chat(mallory)
		cm.SendRaw(websocket.TextMessage, []byte("{\"type\":\"PING\",\"id\":\"u\",\"x\":\"\xff\xfe\"}"))
		cm.expectError("invalid")
		cm.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "ok"})
		cm.expect("SUCCESS") // the socket stays open
		cb.expect("ONE_TO_ONE_CHAT")
	})

	t.Run("10,000 malformed frames", func(t *testing.T) {
		cm, _, _ := s.chat(mallory)
		done := make(chan struct{})
		go func() {
			defer close(done)
			junk := []string{`{`, `nope`, `{"type":"NOPE"}`, `{"type":"ACK","seq":"x"}`, `[` + strings.Repeat("[", 40), `{"type":"GET_ONE_TO_ONE_HISTORY","limit":-5,"to":"x"}`}
			for i := 0; i < 10000; i++ {
				if cm.SendRaw(websocket.TextMessage, []byte(junk[i%len(junk)])) != nil {
					return
				}
			}
		}()
		// Others chat normally while it goes on.
		for i := 0; i < 20; i++ {
			ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "during the flood"})
			ca.expect("SUCCESS")
			cb.expect("ONE_TO_ONE_CHAT")
		}
		<-done
		// The attacker got an error for each frame (invalid, or
		// rate_limited when it outran the server), and nothing else.
		errors := 0
		for errors < 10000 {
			f := cm.next()
			if f.Type != "ERROR" || (f.Code != "invalid" && f.Code != "rate_limited") {
				t.Fatalf("attacker got %s", f.Raw)
			}
			errors++
		}
		cm.send(obj{"type": "PING", "id": "still-alive"})
		if p := cm.expect("PONG"); p.ID != "still-alive" {
			t.Fatalf("got %s", p.Raw)
		}
		resp, err := http.Get(s.api.BaseURL + "/health")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("health after the flood: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}

func TestAttackFloodsAndGuessing(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.RateMessagesPerSec = 5 // burst 20
		c.LoginMaxFailures = 3
		c.RateRegisterPerMin = 40
	})
	ctx := context.Background()
	alice, bob, mallory := s.newUser("alice"), s.newUser("bob"), s.newUser("mallory")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	cm, _, _ := s.chat(mallory)

	t.Run("message flood", func(t *testing.T) {
		const n = 100
		for i := 0; i < n; i++ {
			cm.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "f" + itoa(i), "to": bob.name, "content": "spam"})
		}
		ok, limited := 0, 0
		for i := 0; i < n; i++ {
			f := cm.next()
			switch {
			case f.Type == "SUCCESS":
				ok++
			case f.Type == "ERROR" && f.Code == "rate_limited":
				limited++
			default:
				t.Fatalf("got %s", f.Raw)
			}
		}
		if ok > 25 || limited < 75 {
			t.Fatalf("%d stored, %d limited; want at most the burst (20) and a little refill through", ok, limited)
		}
		for i := 0; i < ok; i++ {
			cb.expect("ONE_TO_ONE_CHAT")
		}
		// Alice is not limited by mallory's flood, which goes on.
		stop := make(chan struct{})
		flooding := make(chan struct{})
		go func() {
			defer close(flooding)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if cm.Send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "spam"}) != nil {
					return
				}
				time.Sleep(ms / 10)
			}
		}()
		start := time.Now()
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "hello"})
		ca.expect("SUCCESS")
		for {
			m := cb.expect("ONE_TO_ONE_CHAT")
			if m.From == alice.name {
				break
			}
		}
		t.Logf("alice's message reached bob in %v during mallory's flood", time.Since(start))
		close(stop)
		<-flooding
	})

	t.Run("login guessing", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			_, err := s.api.Login(ctx, alice.name, "guess-"+itoa(i))
			if status, _ := apiStatus(err); status != 401 {
				t.Fatalf("guess %d: got %v, want 401", i, err)
			}
		}
		// Locked out now, even with the right password.
		status, body := s.post(t, "/auth/login", "application/json", `{"username":"`+alice.name+`","password":"`+alice.pass+`"}`, nil)
		if status != 429 || !strings.Contains(body, "rate_limited") {
			t.Fatalf("after 3 failures: got %d %s, want 429", status, body)
		}
		req, _ := http.NewRequest("POST", s.api.BaseURL+"/auth/login", strings.NewReader(`{"username":"x","password":"yyyyyyyy"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("the address is locked out too: got %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		// Sessions already open are untouched.
		ca.send(obj{"type": "PING"})
		ca.expect("PONG")
	})

	t.Run("registration flood", func(t *testing.T) {
		limited := 0
		for i := 0; i < 60; i++ {
			err := s.api.Register(ctx, "flood"+itoa(i), "password123")
			if status, _ := apiStatus(err); status == 429 {
				limited++
			} else if err != nil {
				t.Fatalf("register %d: %v", i, err)
			}
		}
		if limited < 20 {
			t.Fatalf("only %d of 60 registrations limited; the limit is 40 a minute and 3 were used", limited)
		}
	})
}

func TestAttackOrigins(t *testing.T) {
	s := startServer(t, func(c *Config) { c.CORSOrigins = "https://chat.example.com" })
	alice := s.newUser("alice")
	ctx := context.Background()
	url, _ := s.api.WebSocketURL("chat")
	self := "http://" + s.Addr("http")
	for _, c := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{self, true},
		{"https://chat.example.com", true},
		{"https://evil.example", false},
		{"http://" + s.Addr("http") + ".evil.example", false},
		{"null", false},
	} {
		h := http.Header{}
		if c.origin != "" {
			h.Set("Origin", c.origin)
		}
		conn, resp, err := client.Dial(ctx, url, alice.tokens.Token, &client.DialOptions{Header: h, TokenInQuery: true})
		if c.ok && err != nil {
			t.Errorf("origin %q refused: %v", c.origin, err)
		}
		if !c.ok && (err == nil || resp == nil || resp.StatusCode != 403) {
			t.Errorf("origin %q: got %v (%v), want 403 before the upgrade", c.origin, err, resp)
		}
		if conn != nil {
			conn.Close()
		}
	}

	// CORS on the API: preflight and actual requests.
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", s.api.BaseURL+"/auth/login", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := preflight("https://chat.example.com"); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://chat.example.com" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Fatalf("allowed preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := preflight("https://evil.example"); r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("refused preflight: %d %v", r.StatusCode, r.Header)
	}
	status, _ := s.post(t, "/auth/login", "application/json", `{"username":"`+alice.name+`","password":"`+alice.pass+`"}`, map[string]string{"Origin": "https://evil.example"})
	if status != 403 {
		t.Fatalf("cross-origin login: got %d, want 403", status)
	}

	// Security headers on every response.
	for _, path := range []string{"/health", "/", "/nope"} {
		resp, err := http.Get(s.api.BaseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" ||
			!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: headers %v", path, h)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS without TLS", path)
		}
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	s := startServer(t, func(c *Config) { c.TLSCert, c.TLSKey = cert, key })
	tlsConf := &tls.Config{InsecureSkipVerify: true} // our self-signed test certificate
	s.api.BaseURL = "https://" + s.Addr("http")
	s.api.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
	ctx := context.Background()
	if err := s.api.Register(ctx, "alice", "password123"); err != nil {
		t.Fatalf("register over HTTPS: %v", err)
	}
	tok, err := s.api.Login(ctx, "alice", "password123")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.api.HTTP.Get(s.api.BaseURL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS over TLS")
	}
	if r, err := http.Get("http://" + s.Addr("http") + "/health"); err == nil {
		r.Body.Close()
		if r.StatusCode != 400 {
			t.Fatalf("plain HTTP on a TLS listener: got %d, want 400", r.StatusCode)
		}
	}
	for _, url := range []string{"wss://" + s.Addr("http") + "/ws/chat", "wss://" + s.Addr("chat") + "/"} {
		c, _, err := client.Dial(ctx, url, tok.Token, &client.DialOptions{TLSConfig: tlsConf})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		cc := &conn{Conn: c, t: t, name: url}
		cc.expect("INIT_DATA")
		cc.expect("INFO")
		cc.send(obj{"type": "PING", "id": "tls"})
		if p := cc.expect("PONG"); p.ID != "tls" {
			t.Fatalf("got %s", p.Raw)
		}
		c.Close()
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "parley test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestNoSecretsInLogs runs every kind of credential through the server at
// debug level and checks that none of them reaches the log.
func TestNoSecretsInLogs(t *testing.T) {
	s := startServer(t, func(c *Config) { c.LoginMaxFailures = 2 })
	ctx := context.Background()
	alice := s.newUser("alice")
	secrets := []string{alice.pass, alice.tokens.Token, alice.tokens.RefreshToken}
	url, _ := s.api.WebSocketURL("chat")
	c, _, err := client.Dial(ctx, url, alice.tokens.Token, &client.DialOptions{TokenInQuery: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	t2, err := s.api.Refresh(ctx, alice.tokens.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, t2.Token, t2.RefreshToken)
	s.api.Refresh(ctx, alice.tokens.RefreshToken) // a replay, which ends the session
	for _, p := range []string{"wrong-password-1", "wrong-password-2", "wrong-password-3"} {
		s.api.Login(ctx, alice.name, p)
		secrets = append(secrets, p)
	}
	client.Dial(ctx, url, "forged."+alice.tokens.Token, &client.DialOptions{TokenInQuery: true})
	s.api.Logout(ctx, t2.Token)
	s.api.Register(ctx, "bob", "bob-secret-password")
	secrets = append(secrets, "bob-secret-password")
	logs := s.log.String()
	if !strings.Contains(logs, `"path":"/ws/chat"`) || !strings.Contains(logs, "/auth/login") {
		t.Fatal("the log does not show the requests; the check would be empty")
	}
	for _, sec := range secrets {
		if strings.Contains(logs, sec) {
			t.Fatalf("a secret reached the log: %.12s...", sec)
		}
	}
	for _, word := range []string{"authToken", "password", "refreshToken"} {
		if strings.Contains(logs, word) {
			t.Fatalf("the log mentions %q", word)
		}
	}
}
