package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-chat/parley"

	"github.com/parley-chat/parley/hub"
)

// adminTokenFile is the admin listener's token, in the data directory:
// the server generates it, parleyd's commands read it.
const adminTokenFile = "admin-token"

// adminHandler serves pprof and the admin API that parleyd's commands use.
// It is only ever bound to a loopback address, and it still trusts no
// request for that: every one must carry the admin token, name a loopback
// Host (a page whose domain resolves to 127.0.0.1 cannot reach it) and
// come from no browser (no Origin, no Sec-Fetch-Site).
func adminHandler(h *hub.Hub, store parley.Store, backup backupFunc, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/backup", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Dir string `json:"dir"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil || !filepath.IsAbs(body.Dir) {
			http.Error(w, "want {\"dir\"}: an absolute path that does not exist", http.StatusBadRequest)
			return
		}
		if backup == nil {
			http.Error(w, "this server keeps its data in PostgreSQL: back it up with pg_dump", http.StatusConflict)
			return
		}
		if err := backup(r.Context(), body.Dir); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte("{}"))
	})
	mux.HandleFunc("POST /admin/end-sessions", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Username string `json:"username"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil || body.Username == "" {
			http.Error(w, "want {\"username\"}", http.StatusBadRequest)
			return
		}
		h.EndSession(body.Username, hub.AllSessions)
		w.Write([]byte("{}"))
	})
	mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, r *http.Request) {
		st := h.Stats()
		out := map[string]any{"node": h.NodeName(), "users": st.Users, "connections": st.Connections}
		// What the store holds, as the server sees it: the embedded
		// message log can be read only by the process that holds it.
		if ss, err := store.Stats(r.Context(), time.Now()); err == nil {
			out["store"] = ss
		} else {
			out["store"] = "unavailable: " + err.Error()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	adminAccountRoutes(mux, h, store)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return adminGuard(token, mux)
}

// adminGuard refuses what is not a request of an administrator's tool.
func adminGuard(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !loopbackHost(r.Host):
			http.Error(w, "the admin listener answers only requests for a loopback host (127.0.0.1, ::1, localhost)", http.StatusMisdirectedRequest)
		case r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "":
			http.Error(w, "the admin listener refuses requests from browsers", http.StatusForbidden)
		case subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1:
			w.Header().Set("WWW-Authenticate", `Bearer realm="parleyd admin"`)
			http.Error(w, "send Authorization: Bearer <the data directory's admin-token>", http.StatusUnauthorized)
		case r.Method == http.MethodPost && !isJSON(r.Header.Get("Content-Type")):
			http.Error(w, "POST bodies must be application/json", http.StatusUnsupportedMediaType)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// loopbackHost says whether a Host header names this machine's loopback
// interface.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cmdline is pprof's /debug/pprof/cmdline without the secrets a command
// line may hold.
func cmdline(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, strings.Join(redactArgs(os.Args), "\x00"))
}

// secretFlags are the flags whose values are secrets; urlFlags may hold a
// password in their user information.
var (
	secretFlags = map[string]bool{"jwt-secret": true}
	urlFlags    = map[string]bool{"postgres-url": true, "redis-url": true}
)

// redactArgs returns args with the values of secret flags replaced, and
// the passwords of URLs removed.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 1; i < len(out); i++ {
		a := out[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !secretFlags[name] && !urlFlags[name] {
			continue
		}
		prefix := a[:len(a)-len(strings.TrimLeft(a, "-"))] + name
		if !hasValue {
			if i+1 >= len(out) {
				continue
			}
			i++
			out[i] = redactValue(name, out[i])
			continue
		}
		out[i] = prefix + "=" + redactValue(name, value)
	}
	return out
}

func redactValue(flag, v string) string {
	if secretFlags[flag] {
		return "REDACTED"
	}
	u, err := url.Parse(v)
	if err != nil {
		return "REDACTED"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "REDACTED")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// adminToken returns the admin token kept in the data directory,
// generating it on the server's first start with an admin listener.
func (c *Config) adminToken(create bool) (string, error) {
	path := filepath.Join(c.DataDir, adminTokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); len(s) >= 32 {
			return s, nil
		}
		return "", fmt.Errorf("%s holds a token shorter than 32 characters", path)
	}
	if !os.IsNotExist(err) {
		return "", err
	}
	if !create {
		return "", fmt.Errorf("no admin token in %s: give the server's -data-dir (the server writes it when its admin listener starts)", c.DataDir)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	s := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keeping the admin token: %w", err)
	}
	return s, nil
}

// checkLoopback refuses an admin address that is not on a loopback
// interface: pprof and the admin API must never face the network.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("admin address %q must be a loopback address such as 127.0.0.1:6060", addr)
	}
	return nil
}
