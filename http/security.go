package http

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// Security is the HTTP layer's defence: response headers, CORS and origin
// checks, and the per-address limits. Its zero value allows same-origin
// browsers only and limits nothing.
type Security struct {
	// Origins are the browser origins allowed besides the server's own,
	// like "https://chat.example.com"; "*" allows any.
	Origins []string
	// TLS is set when the listeners serve HTTPS (HSTS is sent).
	TLS bool
	// Register limits registrations per address; Connect limits new
	// WebSocket connections per address. Nil limits nothing.
	Register, Connect KeyedLimit
	// Lockout refuses logins after too many failures per username or
	// address. Nil locks no one out.
	Lockout LoginGuard
	// TrustProxy takes the client address from X-Forwarded-For and the
	// scheme from X-Forwarded-Proto (behind a load balancer).
	TrustProxy bool
	// MaxAuthInFlight bounds the /auth/* requests (register, login,
	// refresh, logout) one address may have under way at once; past it,
	// 429. 0: no bound.
	MaxAuthInFlight int

	inflight inflight
}

// inflight counts requests under way per address. An address is kept only
// while it has requests under way, so its size follows the open requests.
type inflight struct {
	mu sync.Mutex
	n  map[string]int
}

// enter counts a request of key unless max are already under way.
func (f *inflight) enter(key string, max int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = make(map[string]int)
	}
	if f.n[key] >= max {
		return false
	}
	f.n[key]++
	return true
}

func (f *inflight) leave(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[key]--; f.n[key] <= 0 {
		delete(f.n, key)
	}
}

// KeyedLimit limits requests per key, here a client address: Allow spends
// one request and, when there is none left, says how long until there will
// be. ratelimit.Keyed counts in this process; redis.KeyLimiter across
// every node of a cluster.
type KeyedLimit interface {
	Allow(key string) (ok bool, retryAfter time.Duration)
}

// LoginGuard refuses logins after too many failures: Locked says whether
// any of the keys (a username, an address) is locked out and for how long,
// Fail counts a failure for each. ratelimit.Lockout counts in this process;
// redis.Lockout across every node of a cluster.
//
// Trust and Trusted remember the (username, address) pairs that logged in
// successfully: the username's lock-out does not apply to them, so that
// someone who knows a name cannot lock its owner out of the places they
// use.
type LoginGuard interface {
	Locked(keys ...string) (bool, time.Duration)
	Fail(keys ...string)
	Trust(key string)
	Trusted(key string) bool
}

// locked asks the Lockout, if there is one, whether any of keys is locked
// out, and for how long.
func (sec *Security) locked(keys []string) (bool, time.Duration) {
	if sec.Lockout == nil {
		return false, 0
	}
	return sec.Lockout.Locked(keys...)
}

// webCSP is the policy of the browser client: nothing but its own files,
// and WebSockets to its own origin.
const webCSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// apiCSP is the policy of every other response: nothing at all.
const apiCSP = "default-src 'none'; frame-ancestors 'none'"

// headers sets the security headers of every response.
func (sec *Security) headers(w http.ResponseWriter, route string) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if route == "/" {
		h.Set("Content-Security-Policy", webCSP)
	} else {
		h.Set("Content-Security-Policy", apiCSP)
	}
	if sec.TLS {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
}

// originAllowed reports whether a request's Origin may use the API: no
// Origin (not a browser), the server's own origin, or a listed one.
func (sec *Security) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) && u.Scheme == sec.scheme(r) {
		return true
	}
	for _, o := range sec.Origins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

func (sec *Security) scheme(r *http.Request) string {
	if sec.TrustProxy {
		if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
			return strings.ToLower(strings.TrimSpace(strings.Split(p, ",")[0]))
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// clientIP is the address limits count against.
func (sec *Security) clientIP(r *http.Request) string {
	if sec.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Wrap applies headers, CORS and the route's address limits to a handler.
func (sec *Security) Wrap(s *Server, route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			// A body must arrive within the timeout, or the request
			// fails (a 400), whoever reads it: the handler, or the
			// server draining what a refused request left unread.
			timeout := s.BodyTimeout
			if timeout <= 0 {
				timeout = DefaultBodyTimeout
			}
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
		}
		sec.headers(w, route)
		// A refused request's body is not waited for: the connection
		// closes after the answer.
		refuse := func() {
			if r.ContentLength != 0 {
				w.Header().Set("Connection", "close")
			}
		}
		if !sec.originAllowed(r) {
			refuse()
			s.observeLimit("origin")
			writeError(w, s.Logger, parley.Errorf(parley.EFORBIDDEN, "origin not allowed"))
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Add("Vary", "Origin")
		}
		var limit KeyedLimit
		switch {
		case strings.HasSuffix(route, "/auth/register"):
			limit = sec.Register
		case strings.HasPrefix(route, "/ws/") || route == "ws":
			limit = sec.Connect
		}
		if limit != nil {
			if ok, wait := limit.Allow(sec.clientIP(r)); !ok {
				refuse()
				s.observeLimit(route)
				tooMany(w, s, wait)
				return
			}
		}
		if sec.MaxAuthInFlight > 0 && strings.Contains(route, "/auth/") {
			ip := sec.clientIP(r)
			if !sec.inflight.enter(ip, sec.MaxAuthInFlight) {
				refuse()
				s.observeLimit("auth-in-flight")
				tooMany(w, s, time.Second)
				return
			}
			defer sec.inflight.leave(ip)
		}
		h.ServeHTTP(w, r)
	})
}

// preflight answers CORS preflight requests for allowed origins.
func (sec *Security) preflight(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sec.headers(w, "preflight")
		if r.Header.Get("Origin") == "" || !sec.originAllowed(r) {
			writeError(w, s.Logger, parley.Errorf(parley.EFORBIDDEN, "origin not allowed"))
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	}
}

// tooMany answers 429 with Retry-After.
func tooMany(w http.ResponseWriter, s *Server, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, s.Logger, parley.Errorf(parley.ERATELIMITED, "too many requests; retry in %d s", secs))
}

func (s *Server) observeLimit(limit string) {
	if s.Observer != nil {
		s.Observer.RateLimited(limit)
	}
}
