package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAdminListener: the admin API and pprof answer only requests with the
// data directory's token, for a loopback Host, from no browser.
func TestAdminListener(t *testing.T) {
	s := startServer(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	b, err := os.ReadFile(filepath.Join(s.Config.DataDir, adminTokenFile))
	if err != nil {
		t.Fatalf("no admin token in the data directory: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(s.Config.DataDir, adminTokenFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token mode %v, want 0600", fi.Mode().Perm())
	}
	token := strings.TrimSpace(string(b))
	base := "http://" + s.Addr("admin")

	do := func(t *testing.T, method, path, body string, header map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			if k == "Host" {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	auth := "Bearer " + token
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		want                     int
	}{
		{"with the token", "GET", "/admin/stats", "", map[string]string{"Authorization": auth}, 200},
		{"no token", "GET", "/admin/stats", "", nil, 401},
		{"wrong token", "GET", "/admin/stats", "", map[string]string{"Authorization": "Bearer " + strings.Repeat("0", len(token))}, 401},
		{"pprof without the token", "GET", "/debug/pprof/cmdline", "", nil, 401},
		{"rebound DNS name", "GET", "/admin/stats", "", map[string]string{"Authorization": auth, "Host": "attacker.example:6060"}, http.StatusMisdirectedRequest},
		{"localhost", "GET", "/admin/stats", "", map[string]string{"Authorization": auth, "Host": "localhost"}, 200},
		{"browser Origin", "GET", "/admin/stats", "", map[string]string{"Authorization": auth, "Origin": "https://evil.example"}, 403},
		{"browser fetch", "POST", "/admin/end-sessions", `{"username":"x"}`, map[string]string{"Authorization": auth, "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403},
		{"text/plain POST", "POST", "/admin/end-sessions", `{"username":"x"}`, map[string]string{"Authorization": auth, "Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"JSON POST", "POST", "/admin/end-sessions", `{"username":"x"}`, map[string]string{"Authorization": auth, "Content-Type": "application/json"}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if code, body := do(t, c.method, c.path, c.body, c.header); code != c.want {
				t.Errorf("%s %s: got %d %q, want %d", c.method, c.path, code, body, c.want)
			}
		})
	}

	t.Run("cmdline hides secrets", func(t *testing.T) {
		old := os.Args
		defer func() { os.Args = old }()
		os.Args = []string{"parleyd", "-jwt-secret", "s3cret-one-0123456789abcdef0123456789", "--jwt-secret=s3cret-two",
			"-postgres-url=postgres://parley:pgpass@db:5432/parley", "-redis-url", "redis://:redispass@cache:6379/0", "-http-addr", ":3000"}
		code, body := do(t, "GET", "/debug/pprof/cmdline", "", map[string]string{"Authorization": auth})
		if code != 200 {
			t.Fatalf("cmdline: %d", code)
		}
		for _, secret := range []string{"s3cret", "pgpass", "redispass"} {
			if strings.Contains(body, secret) {
				t.Errorf("cmdline shows %q: %q", secret, body)
			}
		}
		got := strings.Split(body, "\x00")
		for _, want := range []string{"-jwt-secret", "REDACTED", "--jwt-secret=REDACTED", "-http-addr", ":3000"} {
			if !slices.Contains(got, want) {
				t.Errorf("cmdline %q lacks %q", got, want)
			}
		}
	})
}

// TestAddressInUse: a listener whose port is taken names the flag and the
// variable that move it.
func TestAddressInUse(t *testing.T) {
	for _, name := range []string{"http", "chat", "metrics"} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cfg := defaultConfig()
			cfg.HTTPAddr, cfg.ChatAddr, cfg.PresenceAddr, cfg.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0", "", ""
			cfg.DataDir = t.TempDir()
			switch name {
			case "http":
				cfg.HTTPAddr = ln.Addr().String()
			case "chat":
				cfg.ChatAddr = ln.Addr().String()
			case "metrics":
				cfg.MetricsAddr = ln.Addr().String()
			}
			m := NewMain(cfg, io.Discard)
			err = m.Open(context.Background())
			m.Close(context.Background())
			flag, env := "-"+name+"-addr", "PARLEY_"+strings.ToUpper(name)+"_ADDR"
			if err == nil || !strings.Contains(err.Error(), flag) || !strings.Contains(err.Error(), env) || !strings.Contains(err.Error(), "in use") {
				t.Fatalf("got %v, want an error naming %s and %s", err, flag, env)
			}
		})
	}
}
