package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"time"

	"github.com/parley-chat/parley"

	"github.com/parley-chat/parley/hub"
)

// adminHandler serves pprof and the admin API that parleyd's commands use.
// It is only ever bound to a loopback address.
func adminHandler(h *hub.Hub, store parley.Store, backup backupFunc) http.Handler {
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
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
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
