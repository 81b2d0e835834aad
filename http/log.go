package http

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

type userKey struct{}

// setUser records, for the request's log line, who made it.
func setUser(r *http.Request, username string) {
	if p, ok := r.Context().Value(userKey{}).(*string); ok {
		*p = username
	}
}

// logged writes one log line per request: never the query string, which
// may hold a token, and never a body.
func (s *Server) logged(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var user string
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, &user))
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		status := rec.status
		if rec.hijacked {
			status = http.StatusSwitchingProtocols
		} else if status == 0 {
			status = http.StatusOK
		}
		took := time.Since(start)
		attrs := []any{"method", r.Method, "path", r.URL.Path, "route", route, "status", status,
			"duration", took.Round(time.Microsecond), "remote", r.RemoteAddr}
		if user != "" {
			attrs = append(attrs, "user", user)
		}
		level := slog.LevelInfo
		if route == "/" && r.Method == http.MethodGet && status < 400 {
			level = slog.LevelDebug // the web client's static files
		}
		s.Logger.Log(r.Context(), level, "http request", attrs...)
		if s.Observer != nil {
			s.Observer.HTTPRequest(route, status, took)
		}
	})
}

// recorder remembers the status of a response and lets WebSocket upgrades
// hijack the connection through it.
type recorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("http: response does not support hijacking")
	}
	r.hijacked = true
	return hj.Hijack()
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
