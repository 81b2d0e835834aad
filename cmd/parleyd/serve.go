package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
	parleyhttp "github.com/parley-chat/parley/http"
	"github.com/parley-chat/parley/hub"
	"github.com/parley-chat/parley/metrics"
	"github.com/parley-chat/parley/ratelimit"
	"github.com/parley-chat/parley/redis"
	"github.com/parley-chat/parley/web"
	"github.com/parley-chat/parley/ws"
	"golang.org/x/term"
)

// Main is a running parleyd: its store, hub and listeners.
type Main struct {
	Config Config
	Logger *slog.Logger

	store   parley.Store
	backup  backupFunc    // nil on PostgreSQL
	redis   *redis.Client // nil on a single node
	metrics *metrics.Metrics
	hub     *hub.Hub
	ws      *ws.Server
	servers []*http.Server
	addrs   map[string]string
	closed  sync.Once
}

// NewMain returns a Main that logs to w: in text when cfg.LogFormat is
// "text", or "auto" and w is a terminal; else one JSON object a line.
func NewMain(cfg Config, w io.Writer) *Main {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: readableDurations}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" || cfg.LogFormat == "auto" && isTerminal(w) {
		h = slog.NewTextHandler(w, opts)
	}
	return &Main{Config: cfg, Logger: slog.New(h), addrs: map[string]string{}}
}

// isTerminal says whether w is a terminal (a person reads the log).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readableDurations logs durations as Go writes them ("1.25ms", "30s"),
// in JSON too, where slog would write a count of nanoseconds.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		d := a.Value.Duration()
		if d > time.Millisecond {
			d = d.Round(time.Microsecond)
		}
		a.Value = slog.StringValue(d.String())
	}
	return a
}

// openURL is the address a person opens in a browser for the HTTP
// listener bound to addr.
func openURL(addr string, tls bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() || ip != nil && ip.IsLoopback() {
		host = "localhost"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}

// storeName names the configured store in logs.
func storeName(cfg Config) string {
	switch {
	case cfg.CassandraHosts != "":
		return "postgres+cassandra"
	case cfg.PostgresURL != "":
		return "postgres"
	}
	return "sqlite+pebble"
}

// Open starts the server: store, hub, transport and listeners.
func (m *Main) Open(ctx context.Context) error {
	cfg := m.Config
	var err error
	var local *embedded
	if m.store, local, err = openStore(ctx, cfg, m.Logger, false); err != nil {
		return err
	}
	m.metrics = metrics.New()
	if local != nil {
		m.backup = local.backup
		m.metrics.MessageLog(local.logStats)
	}
	store := m.metrics.Store(m.store)
	secret, err := cfg.secret()
	if err != nil {
		return err
	}
	checks := healthChecks(m.store)
	if cfg.RedisURL != "" {
		if m.redis, err = m.openRedis(ctx); err != nil {
			return err
		}
		checks = append(checks, parleyhttp.Check{Name: "redis", Fn: m.redis.Ping})
	}
	hcfg := hub.Config{
		Store:            store,
		Metrics:          m.metrics,
		NodeID:           max(cfg.NodeID, 0),
		InitListMax:      cfg.InitListMax,
		MaxGroupsPerUser: cfg.MaxGroupsPerUser,
		PingInterval:     cfg.PingInterval,
		Logger:           m.Logger,
		Limits: hub.Limits{
			Messages:   m.userLimit("send", cfg.RateMessagesPerSec, burst(cfg.RateMessagesPerSec)),
			History:    m.userLimit("history", cfg.RateHistoryPerSec, burst(cfg.RateHistoryPerSec)),
			Groups:     m.userLimit("groups", float64(cfg.RateGroupsPerMin)/60, cfg.RateGroupsPerMin),
			Membership: m.userLimit("membership", cfg.RateMembershipPerSec, burst(cfg.RateMembershipPerSec)),
			Edits:      m.userLimit("edits", cfg.RateEditsPerSec, burst(cfg.RateEditsPerSec)),
			Deletes:    m.userLimit("deletes", cfg.RateDeletesPerSec, burst(cfg.RateDeletesPerSec)),
			Reactions:  m.userLimit("reactions", cfg.RateReactionsPerSec, burst(cfg.RateReactionsPerSec)),
			// Typing is limited on each node alone: a hint is not worth a
			// round trip to Redis, and its buckets are forgotten when idle.
			Typing:     localLimit(cfg.RateTypingPerSec, burst(cfg.RateTypingPerSec)),
			TypingPair: localLimit(cfg.RateTypingPerSec/4, max(burst(cfg.RateTypingPerSec/4), 2)),
			// Per node: a Redis round trip for each ACK would cost more
			// than the ACK.
			Acks:  localLimit(cfg.RateAcksPerSec, burst(cfg.RateAcksPerSec)),
			Reads: localLimit(cfg.RateReadsPerSec, burst(cfg.RateReadsPerSec)),
		},
	}
	if cfg.RateJoinFailuresPerMin > 0 {
		// Counted on each node: group ids are 128 random bits, so this
		// only keeps a guesser from loading the store.
		n := cfg.RateJoinFailuresPerMin
		hcfg.Limits.JoinFailures = ratelimit.Failures{Keyed: ratelimit.PerMinute(n)}
	}
	if m.redis != nil {
		hcfg.Presence, hcfg.Bus, hcfg.NodeID = m.redis, m.redis, m.redis.NodeID()
	}
	if m.hub, err = hub.New(hcfg); err != nil {
		return err
	}
	m.hub.Run()
	if m.redis != nil {
		m.redis.Start() // its callbacks may use the hub from now on
	}
	authn, err := auth.New(auth.Config{
		Secret:       secret,
		AccessTTL:    cfg.AccessTTL,
		RefreshTTL:   cfg.RefreshTTL,
		RefreshGrace: cfg.RefreshGrace,
		BcryptCost:   cfg.BcryptCost,
		OnRevoke:     m.hub.EndSession,
	}, store)
	if err != nil {
		return err
	}
	if m.ws, err = ws.New(ws.Config{MaxQueueBytes: cfg.MaxQueue, SendBufferBytes: cfg.SendBuffer, Logger: m.Logger}); err != nil {
		return err
	}
	api := &parleyhttp.Server{
		Auth:     authn,
		Hub:      node{m.hub, m.ws},
		Logger:   m.Logger,
		Checks:   checks,
		Web:      web.Handler(),
		Metrics:  m.metrics.Handler(),
		Observer: m.metrics,

		Users:       store,
		UserSearch:  m.userLimit("user_search", cfg.RateUserSearchPerSec, burst(cfg.RateUserSearchPerSec)),
		BodyTimeout: cfg.HTTPBodyTimeout,
		Security: &parleyhttp.Security{
			Origins:    splitList(cfg.CORSOrigins),
			TLS:        cfg.TLSCert != "",
			Register:   m.addrLimit("register", cfg.RateRegisterPerMin),
			Connect:    m.addrLimit("connect", cfg.RateConnectionsPerMin),
			Lockout:    m.loginGuard(cfg.LoginMaxFailures),
			TrustProxy: cfg.TrustProxy,

			MaxAuthInFlight: cfg.MaxAuthInFlight,
		},
	}
	var adminToken string
	if cfg.AdminAddr != "" {
		if adminToken, err = cfg.adminToken(true); err != nil {
			return err
		}
	}
	listeners := []struct {
		name, addr string
		handler    http.Handler
	}{
		{"http", cfg.HTTPAddr, api.Handler()},
		{"chat", cfg.ChatAddr, api.EndpointHandler(hub.Chat)},
		{"presence", cfg.PresenceAddr, api.EndpointHandler(hub.Presence)},
		{"metrics", cfg.MetricsAddr, api.OperatorHandler()},
		{"admin", cfg.AdminAddr, adminHandler(m.hub, store, m.backup, adminToken)},
	}
	for _, l := range listeners {
		if l.addr == "" {
			continue
		}
		tls := cfg.TLSCert != "" && l.name != "metrics" // scraped in plain HTTP, on a private network
		if l.name == "admin" {
			if err := checkLoopback(l.addr); err != nil {
				return err
			}
			tls = false
		}
		ln, err := net.Listen("tcp", l.addr)
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s listener: %s is already in use (another parleyd?): move it with -%s-addr or PARLEY_%s_ADDR, or turn it off with an empty value",
				l.name, l.addr, l.name, strings.ToUpper(l.name))
		}
		if err != nil {
			return fmt.Errorf("%s listener (-%s-addr): %w", l.name, l.name, err)
		}
		srv := &http.Server{
			Handler:           l.handler,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
		}
		m.servers = append(m.servers, srv)
		m.addrs[l.name] = ln.Addr().String()
		go func() {
			var err error
			if tls {
				err = srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.Logger.Error("listener failed", "listener", l.name, "err", err)
			}
		}()
		m.Logger.Debug("listening", "listener", l.name, "addr", ln.Addr().String())
	}
	// One line says it all: where to point a browser, and every listener.
	started := []any{}
	if a := m.addrs["http"]; a != "" {
		started = append(started, "url", openURL(a, cfg.TLSCert != ""))
	}
	var bound []any
	for _, l := range listeners {
		if a := m.addrs[l.name]; a != "" {
			bound = append(bound, l.name, a)
		}
	}
	started = append(started, slog.Group("listeners", bound...), "version", parley.Version, "store", storeName(cfg), "redis", m.redis != nil, "data_dir", cfg.DataDir, "node", m.hub.NodeName())
	m.Logger.Info("parleyd started", started...)
	return nil
}

// openRedis connects to Redis, claiming a node id. Its callbacks refer to
// m.hub, which exists by the time Start lets them run.
func (m *Main) openRedis(ctx context.Context) (*redis.Client, error) {
	cfg := m.Config
	bg := context.Background()
	return redis.Open(ctx, redis.Config{
		URL:          cfg.RedisURL,
		Prefix:       cfg.RedisPrefix,
		NodeID:       cfg.NodeID, // -1 claims a free one
		PingInterval: cfg.PingInterval,
		Logger:       m.Logger.With("component", "redis"),
		OnEvent:      func(ev *parley.Event) { m.hub.ReceiveEvent(ev) },
		OnOffline: func(username string, at time.Time) {
			m.hub.PresenceChanged(bg, username, false, at)
		},
		OnOnline: func(username string) {
			m.hub.PresenceChanged(bg, username, true, time.Now())
		},
		OnReconnect: func() { m.hub.Resync() },
		BusLag:      m.metrics.BusLag,
		BusError:    m.metrics.BusError,
	})
}

// userLimit is a per-user limit of requests: held in Redis when there is
// one, so that it spans every node, else in this process. A perSec of 0
// turns it off.
func (m *Main) userLimit(name string, perSec float64, burst int) hub.Limiter {
	if m.redis == nil {
		return ratelimit.Limiter{Keyed: ratelimit.NewKeyed(perSec, burst)}
	}
	if perSec <= 0 {
		return nil
	}
	return m.redis.NamedLimiter(name, perSec, burst)
}

// localLimit is a per-key limit kept in this process (nil when perSec is
// 0: no limit).
func localLimit(perSec float64, burst int) hub.Limiter {
	if perSec <= 0 {
		return nil
	}
	return ratelimit.Limiter{Keyed: ratelimit.NewKeyed(perSec, burst)}
}

// addrLimit is a per-address limit of perMin requests a minute (bursts of
// perMin): in Redis when there is one, so that it spans every node, else
// in this process. A perMin of 0 turns it off.
func (m *Main) addrLimit(name string, perMin int) parleyhttp.KeyedLimit {
	if m.redis == nil {
		return ratelimit.PerMinute(perMin)
	}
	if perMin <= 0 {
		return nil
	}
	return m.redis.KeyLimiter("addr-"+name, float64(perMin)/60, perMin)
}

// loginGuard locks logins out after maxFailures failures per username and
// per address: counted in Redis when there is one, so that spreading
// guesses over nodes does not multiply them, else in this process. A
// maxFailures of 0 turns it off.
func (m *Main) loginGuard(maxFailures int) parleyhttp.LoginGuard {
	if m.redis == nil {
		return ratelimit.NewLockout(maxFailures)
	}
	if maxFailures <= 0 {
		return nil
	}
	return m.redis.Lockout(maxFailures)
}

// burst is the burst of a per-second limit: four seconds' worth.
func burst(perSec float64) int { return int(4*perSec + 0.5) }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Addr returns the address a listener ("http", "chat", "presence",
// "metrics", "admin") is bound to, or "" if it is off.
func (m *Main) Addr(name string) string { return m.addrs[name] }

// Close shuts down gracefully: readiness turns off and listeners stop
// accepting, sockets are closed with 1001, the frames in flight are handled
// and stored, then the store is closed.
func (m *Main) Close(ctx context.Context) error {
	var errs []error
	var mu sync.Mutex
	m.closed.Do(func() {
		m.Logger.Info("shutting down")
		// The listeners get half the budget, so that what follows them
		// has the rest whatever HTTP clients do.
		httpCtx := ctx
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			httpCtx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
			defer cancel()
		}
		var wg sync.WaitGroup
		for _, srv := range m.servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Requests still under way when the budget is spent
				// belong to clients that would not finish (bodies sent a
				// byte at a time, say): they are cut, and that is not a
				// failure of the shutdown.
				if err := srv.Shutdown(httpCtx); err != nil {
					m.Logger.Warn("closing HTTP connections still open at the end of the shutdown", "err", err)
					if err := srv.Close(); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			}()
		}
		if m.hub != nil {
			if err := m.hub.Shutdown(ctx); err != nil {
				// The servers' goroutines may be appending too.
				mu.Lock()
				errs = append(errs, fmt.Errorf("hub: %w", err))
				mu.Unlock()
			}
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if m.ws != nil {
			if err := m.ws.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("websockets: %w", err))
			}
		}
		if m.redis != nil {
			if err := m.redis.Close(); err != nil {
				errs = append(errs, fmt.Errorf("redis: %w", err))
			}
		}
		if m.store != nil {
			if err := m.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("store: %w", err))
			}
		}
		m.Logger.Info("stopped")
	})
	return errors.Join(errs...)
}
