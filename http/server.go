// Package http is Parley's HTTP surface: the auth API, health and
// readiness, the authenticated WebSocket upgrades (handed to package ws and
// the hub), the web client handler it is given, and the operators'
// listener (metrics and detailed health). It maps domain error codes to
// HTTP statuses.
package http

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/parley-chat/parley"
)

// Check is one dependency that /health and /ready test.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Observer receives the HTTP layer's measurements (package metrics).
type Observer interface {
	HTTPRequest(route string, status int, took time.Duration)
	LoginFailed(reason string)
	RateLimited(limit string)
}

// Authenticator is the auth service as the handlers use it.
type Authenticator interface {
	Register(ctx context.Context, username, password string) (*parley.User, error)
	Login(ctx context.Context, username, password string) (*parley.Tokens, error)
	Refresh(ctx context.Context, refreshToken string) (*parley.Tokens, error)
	// Authenticate checks an access token and that its session is active.
	Authenticate(ctx context.Context, token string) (parley.Identity, error)
	// CheckPassword authenticates the token and checks its user's password.
	CheckPassword(ctx context.Context, token, password string) (parley.Identity, error)
	Logout(ctx context.Context, token string) (parley.Identity, error)
}

// Node is this node's hub and transport as the handlers use them.
type Node interface {
	// Closing reports whether the node is shutting down.
	Closing() bool
	NodeName() string
	Stats() parley.NodeStats
	DeleteAccount(ctx context.Context, username string, erase bool) (*parley.Deletion, error)
	// Upgrade turns an authenticated request into a WebSocket of kind
	// and hands it to the hub; on failure it has answered the request.
	Upgrade(w http.ResponseWriter, r *http.Request, who parley.Identity, kind parley.ConnKind) error
}

// Server holds what the handlers need. Fields are set by cmd/parleyd.
type Server struct {
	Auth Authenticator
	Hub  Node
	// Checks are run by /health and /ready.
	Checks []Check
	// Web serves the browser client at /; Metrics serves /metrics on the
	// operators' listener (OperatorHandler). Either may be nil.
	Web     http.Handler
	Metrics http.Handler
	Logger  *slog.Logger
	// Observer, when set, is told of requests, failed logins and limits.
	Observer Observer
	// Security holds headers, CORS and limits; nil is the zero Security.
	Security *Security
	// Users answers GET /users; UserSearch, when set, limits each user's
	// searches.
	Users      UserFinder
	UserSearch parley.Limiter
	// BodyTimeout is how long a request body may take to arrive
	// (default DefaultBodyTimeout); a slower one is a 400.
	BodyTimeout time.Duration
}

// Handler serves the HTTP listener: API, health, both WebSocket endpoints
// and the web client.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "GET /health", s.publicHealth)
	s.route(mux, "GET /ready", s.publicReady)
	for _, prefix := range []string{"/auth", "/api/auth"} {
		s.route(mux, "POST "+prefix+"/register", s.register)
		s.route(mux, "POST "+prefix+"/login", s.login)
		s.route(mux, "POST "+prefix+"/refresh", s.refresh)
		s.route(mux, "POST "+prefix+"/logout", s.logout)
		s.route(mux, "DELETE "+prefix+"/account", s.deleteAccount)
	}
	if s.Users != nil {
		for _, path := range []string{"/users", "/api/users"} {
			s.route(mux, "GET "+path, s.findUsers)
		}
	}
	s.route(mux, "GET /ws/chat", s.upgrade(parley.ConnChat))
	s.route(mux, "GET /ws/presence", s.upgrade(parley.ConnPresence))
	if s.Web != nil {
		s.route(mux, "GET /", s.Web.ServeHTTP)
	}
	mux.Handle("OPTIONS /", s.logged("preflight", s.security().preflight(s)))
	s.route(mux, "/", s.notFound)
	return mux
}

func (s *Server) security() *Security {
	if s.Security == nil {
		return &Security{}
	}
	return s.Security
}

// EndpointHandler serves a dedicated WebSocket port: every path upgrades to
// the endpoint of the given kind.
func (s *Server) EndpointHandler(kind parley.ConnKind) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /", s.logged("ws", s.security().Wrap(s, "ws", s.upgrade(kind))))
	return mux
}

// route registers a handler wrapped in logging and the security layer.
func (s *Server) route(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	name := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		name = path
	}
	mux.Handle(pattern, s.logged(name, s.security().Wrap(s, name, h)))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, s.Logger, parley.Errorf(parley.ENOTFOUND, "no such endpoint"))
}

// OperatorHandler serves the operators' listener, which must not face the
// public network: /metrics for Prometheus, and /health and /ready with the
// state of every dependency, the node and its connection counts. Like any
// Prometheus exporter it asks for no credentials.
func (s *Server) OperatorHandler() http.Handler {
	mux := http.NewServeMux()
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /ready", s.ready)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.Logger, parley.Errorf(parley.ENOTFOUND, "no such endpoint: /metrics, /health and /ready are served here"))
	})
	return mux
}

// health answers GET /health on the operators' listener: liveness, with
// the state of each dependency.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	status, body := s.check(r.Context())
	writeJSON(w, status, body)
}

// ready answers GET /ready on the operators' listener: ready to take
// traffic, which it is not once shutdown has begun.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	status, body := s.readiness(r.Context())
	writeJSON(w, status, body)
}

// publicHealth and publicReady answer the public listener's /health and
// /ready with the status alone, {"status":"ok"} or 503
// {"status":"unavailable"}: which dependency failed, the version and the
// load are for operators.
func (s *Server) publicHealth(w http.ResponseWriter, r *http.Request) {
	status, body := s.check(r.Context())
	writeJSON(w, status, map[string]any{"status": body["status"]})
}

func (s *Server) publicReady(w http.ResponseWriter, r *http.Request) {
	status, body := s.readiness(r.Context())
	writeJSON(w, status, map[string]any{"status": body["status"]})
}

func (s *Server) readiness(ctx context.Context) (int, map[string]any) {
	status, body := s.check(ctx)
	if s.Hub != nil && s.Hub.Closing() {
		status = http.StatusServiceUnavailable
		body["status"] = "unavailable"
		body["shuttingDown"] = true
	}
	return status, body
}

func (s *Server) check(ctx context.Context) (int, map[string]any) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	status, word := http.StatusOK, "ok"
	for _, c := range s.Checks {
		if err := c.Fn(ctx); err != nil {
			s.Logger.Warn("health check failed", "check", c.Name, "err", err)
			checks[c.Name] = "unavailable"
			status, word = http.StatusServiceUnavailable, "unavailable"
			continue
		}
		checks[c.Name] = "ok"
	}
	body := map[string]any{"status": word, "version": parley.Version, "checks": checks}
	if s.Hub != nil {
		st := s.Hub.Stats()
		body["node"] = s.Hub.NodeName()
		body["connections"] = st.Connections
		body["users"] = st.Users
	}
	return status, body
}
