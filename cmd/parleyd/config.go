package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-chat/parley/auth"
)

// Config is parleyd's configuration. Every field has a default, can be set
// by an environment variable and by a flag; flags win.
type Config struct {
	HTTPAddr     string
	ChatAddr     string
	PresenceAddr string
	AdminAddr    string
	MetricsAddr  string
	DataDir      string
	PingInterval time.Duration
	JWTSecret    string
	BcryptCost   int
	AccessTTL    time.Duration
	RefreshTTL   time.Duration
	// RefreshGrace is how long a rotated-out refresh token may retry its
	// rotation (0: never).
	RefreshGrace time.Duration
	LogLevel     string
	LogFormat    string
	SQLiteSync   string
	// MemTableBytes is the message log's memtable size (0: 64 MiB).
	MemTableBytes int
	MaxQueue      int
	// SendBuffer is each WebSocket's kernel send buffer (0: autotuned).
	SendBuffer  int
	NodeID      int64
	PostgresURL string
	// CassandraHosts, when set, keeps messages in Cassandra (accounts stay
	// in PostgreSQL); the other Cassandra fields are the cassandra
	// package's, empty for its defaults.
	CassandraHosts       string
	CassandraKeyspace    string
	CassandraConsistency string
	CassandraReplication string
	RedisURL             string
	RedisPrefix          string
	ShutdownWait         time.Duration

	TLSCert, TLSKey string
	CORSOrigins     string
	TrustProxy      bool

	RateMessagesPerSec     float64
	RateHistoryPerSec      float64
	RateAcksPerSec         float64
	RateGroupsPerMin       int
	RateRegisterPerMin     int
	RateConnectionsPerMin  int
	LoginMaxFailures       int
	MaxGroupsPerUser       int
	InitListMax            int
	RateTypingPerSec       float64
	MaxAuthInFlight        int
	HTTPBodyTimeout        time.Duration
	RateJoinFailuresPerMin int
	RateMembershipPerSec   float64
	RateEditsPerSec        float64
	RateDeletesPerSec      float64
	RateReactionsPerSec    float64
	RateReadsPerSec        float64
	RateUserSearchPerSec   float64
}

// option describes one setting for flags, the environment and -h.
type option struct {
	flag, env, usage string
	value            flag.Value
}

func (c *Config) options() []option {
	return []option{
		{"http-addr", "PARLEY_HTTP_ADDR", "HTTP listener: API, web client, /ws/chat and /ws/presence (empty: off)", (*stringValue)(&c.HTTPAddr)},
		{"metrics-addr", "PARLEY_METRICS_ADDR", "operators' listener, without authentication: /metrics (Prometheus) and the detailed /health and /ready; keep it off the public network (empty: off)", (*stringValue)(&c.MetricsAddr)},
		{"chat-addr", "PARLEY_CHAT_ADDR", "dedicated chat WebSocket listener (empty: off)", (*stringValue)(&c.ChatAddr)},
		{"presence-addr", "PARLEY_PRESENCE_ADDR", "dedicated presence WebSocket listener (empty: off)", (*stringValue)(&c.PresenceAddr)},
		{"admin-addr", "PARLEY_ADMIN_ADDR", "loopback-only admin listener: pprof and the admin API, behind the token in the data directory's admin-token (empty: off)", (*stringValue)(&c.AdminAddr)},
		{"data-dir", "PARLEY_DATA_DIR", "directory of the embedded database and the generated JWT secret", (*stringValue)(&c.DataDir)},
		{"ping-interval", "PARLEY_PING_INTERVAL", "how often every connection is pinged (Go duration)", (*durationValue)(&c.PingInterval)},
		{"jwt-secret", "PARLEY_JWT_SECRET", "secret that signs access tokens, at least 32 bytes (default: generated once and kept in the data directory)", (*stringValue)(&c.JWTSecret)},
		{"bcrypt-cost", "PARLEY_BCRYPT_COST", "bcrypt cost of password hashes (4-31)", (*intValue)(&c.BcryptCost)},
		{"access-ttl", "PARLEY_ACCESS_TTL", "life of an access token", (*durationValue)(&c.AccessTTL)},
		{"refresh-ttl", "PARLEY_REFRESH_TTL", "life of a session without a refresh", (*durationValue)(&c.RefreshTTL)},
		{"refresh-grace", "PARLEY_REFRESH_GRACE", "how long a refresh token just rotated out may refresh again, once its answer was lost (a page reloaded mid-refresh); later reuse ends the session as theft (0: any reuse does)", (*durationValue)(&c.RefreshGrace)},
		{"log-level", "PARLEY_LOG_LEVEL", "debug, info, warn or error", (*stringValue)(&c.LogLevel)},
		{"log-format", "PARLEY_LOG_FORMAT", "json, text, or auto: text when stderr is a terminal, else json", (*stringValue)(&c.LogFormat)},
		{"sqlite-sync", "PARLEY_SQLITE_SYNC", "SQLite synchronous mode: FULL survives power loss, NORMAL only a crash", (*stringValue)(&c.SQLiteSync)},
		{"message-log-memtable-bytes", "PARLEY_MESSAGE_LOG_MEMTABLE_BYTES", "size of the embedded message log's memtable; a smaller one flushes and compacts more often (0: 64 MiB)", (*intValue)(&c.MemTableBytes)},
		{"max-queue-bytes", "PARLEY_MAX_QUEUE_BYTES", "bound of each connection's outbound queue; a client past it is disconnected with 1013", (*intValue)(&c.MaxQueue)},
		{"socket-send-buffer-bytes", "PARLEY_SOCKET_SEND_BUFFER_BYTES", "kernel send buffer of each WebSocket; what the kernel holds is not counted in the queue, so a smaller one makes a client that stops reading reach the bound sooner (0: the kernel's autotuning, up to megabytes)", (*intValue)(&c.SendBuffer)},
		{"node-id", "PARLEY_NODE_ID", "this node's number, 0-1023, unique in a cluster (makes message ids unique); -1: 0 on a single node, the first free one in Redis", (*int64Value)(&c.NodeID)},
		{"postgres-url", "PARLEY_POSTGRES_URL", "PostgreSQL URL; when set, users, groups and messages live there instead of SQLite (messages in Cassandra with -cassandra-hosts)", (*stringValue)(&c.PostgresURL)},
		{"cassandra-hosts", "PARLEY_CASSANDRA_HOSTS", "comma-separated Cassandra nodes, host or host:port (port 9042); when set (with -postgres-url), messages, cursors and chat lists live in Cassandra and accounts and groups in PostgreSQL", (*stringValue)(&c.CassandraHosts)},
		{"cassandra-keyspace", "PARLEY_CASSANDRA_KEYSPACE", "Cassandra keyspace of the messages, created when missing", (*stringValue)(&c.CassandraKeyspace)},
		{"cassandra-consistency", "PARLEY_CASSANDRA_CONSISTENCY", "consistency level of Cassandra reads and writes (conditional writes use LOCAL_SERIAL)", (*stringValue)(&c.CassandraConsistency)},
		{"cassandra-replication", "PARLEY_CASSANDRA_REPLICATION", "replication of the keyspace when parleyd creates it, as CQL; an existing keyspace keeps its own (production: {'class': 'NetworkTopologyStrategy', 'DC1': 3})", (*stringValue)(&c.CassandraReplication)},
		{"redis-url", "PARLEY_REDIS_URL", "Redis URL; when set (with -postgres-url and -jwt-secret), presence, fan-out, logouts and per-user limits span every node", (*stringValue)(&c.RedisURL)},
		{"redis-prefix", "PARLEY_REDIS_PREFIX", "prefix of every Redis key and channel; one per cluster sharing a Redis", (*stringValue)(&c.RedisPrefix)},
		{"shutdown-wait", "PARLEY_SHUTDOWN_WAIT", "how long a graceful shutdown may take", (*durationValue)(&c.ShutdownWait)},
		{"tls-cert", "PARLEY_TLS_CERT", "PEM certificate file: every listener serves HTTPS/WSS (with -tls-key)", (*stringValue)(&c.TLSCert)},
		{"tls-key", "PARLEY_TLS_KEY", "PEM private key file of -tls-cert", (*stringValue)(&c.TLSKey)},
		{"cors-origins", "PARLEY_CORS_ORIGINS", "comma-separated browser origins allowed besides the server's own (\"*\": any)", (*stringValue)(&c.CORSOrigins)},
		{"trust-proxy", "PARLEY_TRUST_PROXY", "take the client address and scheme from X-Forwarded-For/-Proto (behind a load balancer)", (*boolValue)(&c.TrustProxy)},
		{"rate-messages-per-sec", "PARLEY_RATE_MESSAGES_PER_SEC", "messages a user may send per second, burst 4x (0: no limit)", (*floatValue)(&c.RateMessagesPerSec)},
		{"rate-acks-per-sec", "PARLEY_RATE_ACKS_PER_SEC", "ACKs per user per second on each node, burst 4x (0: no limit)", (*floatValue)(&c.RateAcksPerSec)},
		{"rate-history-per-sec", "PARLEY_RATE_HISTORY_PER_SEC", "history requests per user per second, burst 4x (0: no limit)", (*floatValue)(&c.RateHistoryPerSec)},
		{"rate-groups-per-min", "PARLEY_RATE_GROUPS_PER_MIN", "groups a user may create per minute (0: no limit)", (*intValue)(&c.RateGroupsPerMin)},
		{"rate-register-per-min", "PARLEY_RATE_REGISTER_PER_MIN", "registrations per client address per minute (0: no limit)", (*intValue)(&c.RateRegisterPerMin)},
		{"rate-connections-per-min", "PARLEY_RATE_CONNECTIONS_PER_MIN", "new WebSocket connections per client address per minute (0: no limit)", (*intValue)(&c.RateConnectionsPerMin)},
		{"rate-typing-per-sec", "PARLEY_RATE_TYPING_PER_SEC", "TYPING a user may send per second, burst 4x, and a quarter of it (burst at least 2) to one conversation; the rest is dropped (0: no limit)", (*floatValue)(&c.RateTypingPerSec)},
		{"max-auth-in-flight", "PARLEY_MAX_AUTH_IN_FLIGHT", "/auth/* requests one client address may have under way at once; past it, 429 (0: no limit)", (*intValue)(&c.MaxAuthInFlight)},
		{"http-body-timeout", "PARLEY_HTTP_BODY_TIMEOUT", "how long an HTTP request body may take to arrive; slower is a 400", (*durationValue)(&c.HTTPBodyTimeout)},
		{"rate-join-failures-per-min", "PARLEY_RATE_JOIN_FAILURES_PER_MIN", "failed JOIN_GROUP attempts (no such group, private) a user may make per minute, burst the same; past it JOIN_GROUP is rate_limited (0: no limit)", (*intValue)(&c.RateJoinFailuresPerMin)},
		{"rate-membership-per-sec", "PARLEY_RATE_MEMBERSHIP_PER_SEC", "JOIN_GROUP, ADD_GROUP_MEMBER, REMOVE_GROUP_MEMBER and LEAVE_GROUP per user per second, burst 4x (0: no limit)", (*floatValue)(&c.RateMembershipPerSec)},
		{"rate-edits-per-sec", "PARLEY_RATE_EDITS_PER_SEC", "EDIT_MESSAGE a user may send per second, burst 4x (0: no limit)", (*floatValue)(&c.RateEditsPerSec)},
		{"rate-deletes-per-sec", "PARLEY_RATE_DELETES_PER_SEC", "DELETE_MESSAGE a user may send per second, burst 4x (0: no limit)", (*floatValue)(&c.RateDeletesPerSec)},
		{"rate-reactions-per-sec", "PARLEY_RATE_REACTIONS_PER_SEC", "REACT a user may send per second, burst 4x (0: no limit)", (*floatValue)(&c.RateReactionsPerSec)},
		{"rate-reads-per-sec", "PARLEY_RATE_READS_PER_SEC", "READ per user per second on each node, burst 4x (0: no limit)", (*floatValue)(&c.RateReadsPerSec)},
		{"rate-user-search-per-sec", "PARLEY_RATE_USER_SEARCH_PER_SEC", "GET /users searches a user may make per second, burst 4x (0: no limit)", (*floatValue)(&c.RateUserSearchPerSec)},
		{"max-groups-per-user", "PARLEY_MAX_GROUPS_PER_USER", "groups a user can be in; creating, joining or adding past it is ERROR forbidden (0: no limit)", (*intValue)(&c.MaxGroupsPerUser)},
		{"init-list-max", "PARLEY_INIT_LIST_MAX", "chats, and groups, listed in INIT_DATA; GET_CHATS and GET_GROUPS page the rest", (*intValue)(&c.InitListMax)},
		{"login-max-failures", "PARLEY_LOGIN_MAX_FAILURES", "failed logins per username and per address in 15 minutes before a lock-out that doubles with each further failure (0: off)", (*intValue)(&c.LoginMaxFailures)},
	}
}

func defaultConfig() Config {
	return Config{
		HTTPAddr:     ":3000",
		ChatAddr:     ":4000",
		PresenceAddr: ":4001",
		MetricsAddr:  "127.0.0.1:9464",
		DataDir:      "./data",
		PingInterval: 30 * time.Second,
		BcryptCost:   10,
		AccessTTL:    15 * time.Minute,
		RefreshTTL:   30 * 24 * time.Hour,
		RefreshGrace: 10 * time.Second,
		LogLevel:     "info",
		LogFormat:    "auto",
		SQLiteSync:   "FULL",
		MaxQueue:     1 << 20,
		NodeID:       -1,
		RedisPrefix:  "parley:",

		CassandraKeyspace:    "parley",
		CassandraConsistency: "LOCAL_QUORUM",
		CassandraReplication: "{'class': 'SimpleStrategy', 'replication_factor': 1}",
		ShutdownWait:         10 * time.Second,

		RateMessagesPerSec:     50,
		RateHistoryPerSec:      10,
		RateAcksPerSec:         200,
		RateGroupsPerMin:       20,
		RateRegisterPerMin:     30,
		RateConnectionsPerMin:  300,
		LoginMaxFailures:       10,
		MaxGroupsPerUser:       1000,
		RateTypingPerSec:       4,
		MaxAuthInFlight:        16,
		RateJoinFailuresPerMin: 10,
		RateMembershipPerSec:   5,
		RateEditsPerSec:        5,
		RateDeletesPerSec:      5,
		RateReactionsPerSec:    10,
		RateReadsPerSec:        50,
		RateUserSearchPerSec:   5,
		HTTPBodyTimeout:        10 * time.Second,
		InitListMax:            500,
	}
}

// parseCommandConfig parses a command's flags (the server's settings, and
// its own) and returns the remaining arguments. Its -h shows the command's
// usage and own flags first, then the settings it shares with the server.
func parseCommandConfig(cmd *command, args []string, lookup func(string) (string, bool), stderr io.Writer) (Config, []string, error) {
	var rest []string
	cfg, err := parseFlags("parleyd "+cmd.name, args, lookup, stderr, cmd, &rest)
	return cfg, rest, err
}

// parseConfig reads the environment (through lookup, os.LookupEnv in
// main), then the flags. An empty variable keeps the default, except for
// the listener addresses, where empty turns the listener off.
func parseConfig(name string, args []string, lookup func(string) (string, bool), stderr io.Writer) (Config, error) {
	return parseFlags(name, args, lookup, stderr, nil, nil)
}

// commandSettings are the server settings a command may need (the store,
// the admin and HTTP listeners, the hash cost of seeded accounts); its -h
// lists these, though it accepts every setting.
var commandSettings = map[string]bool{
	"data-dir": true, "postgres-url": true, "cassandra-hosts": true, "cassandra-keyspace": true,
	"cassandra-consistency": true, "cassandra-replication": true, "sqlite-sync": true, "admin-addr": true,
	"http-addr": true, "tls-cert": true, "tls-key": true, "bcrypt-cost": true,
}

// parseFlags parses the settings plus a command's own flags; with rest
// non-nil, arguments after the flags are returned there, and may be
// interleaved with flags.
func parseFlags(name string, args []string, lookup func(string) (string, bool), stderr io.Writer, cmd *command, rest *[]string) (Config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings := flag.NewFlagSet(name, flag.ContinueOnError) // for -h only
	settings.SetOutput(stderr)
	opts := cfg.options()
	for _, o := range opts {
		if v, ok := lookup(o.env); ok && (v != "" || strings.HasSuffix(o.env, "_ADDR")) {
			if err := o.value.Set(v); err != nil {
				return cfg, fmt.Errorf("%s: %w", o.env, err)
			}
		}
		fs.Var(o.value, o.flag, o.usage+" ($"+o.env+")")
		if cmd == nil || commandSettings[o.flag] {
			settings.Var(o.value, o.flag, o.usage+" ($"+o.env+")")
		}
	}
	own := flag.NewFlagSet(name, flag.ContinueOnError)
	own.SetOutput(stderr)
	if cmd != nil && cmd.flags != nil {
		cmd.flags(own)
		own.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	}
	fs.Usage = func() {
		if cmd == nil {
			serverUsage(stderr, name)
			fmt.Fprintf(stderr, "\nFlags (each also read from the environment variable shown; flags win):\n")
			settings.PrintDefaults()
			return
		}
		fmt.Fprintf(stderr, "Usage: %s [flags]%s\n\n%s.\n", name, strings.TrimRight(" "+cmd.args, " "), upperFirst(cmd.help))
		if cmd.flags != nil {
			fmt.Fprintf(stderr, "\nFlags:\n")
			own.PrintDefaults()
		}
		fmt.Fprintf(stderr, "\nSettings shared with the server (each also read from the environment variable shown; flags win;\nevery other server setting is accepted too, see %s -h):\n", strings.Fields(name)[0])
		settings.PrintDefaults()
	}
	for {
		if err := fs.Parse(args); err != nil {
			return cfg, err
		}
		if fs.NArg() == 0 {
			break
		}
		if rest == nil {
			return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		*rest = append(*rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return cfg, cfg.validate()
}

// serverUsage is the head of parleyd -h: how to serve, and every command.
func serverUsage(w io.Writer, name string) {
	fmt.Fprintf(w, "Usage: %s [flags]            serve\n       %s COMMAND [flags]    run a command (%s COMMAND -h: its usage)\n\nCommands:\n", name, name, name)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
	}
	tw.Flush()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (c *Config) validate() error {
	if c.PingInterval < 10*time.Millisecond {
		return fmt.Errorf("ping interval %v is too short", c.PingInterval)
	}
	if c.RefreshGrace < 0 || c.RefreshGrace > time.Minute {
		return fmt.Errorf("refresh grace %v must be 0 to 1m", c.RefreshGrace)
	}
	if c.NodeID < -1 || c.NodeID > 1023 {
		return fmt.Errorf("node id must be 0 to 1023, or -1 to choose one")
	}
	if c.RedisURL != "" && c.PostgresURL == "" {
		return fmt.Errorf("PARLEY_REDIS_URL joins nodes that share one database: set PARLEY_POSTGRES_URL too")
	}
	if c.CassandraHosts != "" && c.PostgresURL == "" {
		return fmt.Errorf("PARLEY_CASSANDRA_HOSTS keeps the messages; accounts and groups live in PostgreSQL: set PARLEY_POSTGRES_URL too")
	}
	if c.CassandraHosts != "" && len(c.cassandraHosts()) == 0 {
		return fmt.Errorf("PARLEY_CASSANDRA_HOSTS names no host")
	}
	if c.RedisURL != "" && c.JWTSecret == "" {
		return fmt.Errorf("PARLEY_REDIS_URL joins nodes that must accept each other's tokens: set the same PARLEY_JWT_SECRET on every node")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < auth.MinSecretBytes {
		return fmt.Errorf("the JWT secret must be at least %d bytes; refusing to start", auth.MinSecretBytes)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "json" && c.LogFormat != "text" && c.LogFormat != "auto" {
		return fmt.Errorf("log format must be json, text or auto")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("TLS needs both a certificate and a key")
	}
	if c.RateMessagesPerSec < 0 || c.RateHistoryPerSec < 0 || c.RateAcksPerSec < 0 || c.RateGroupsPerMin < 0 || c.RateRegisterPerMin < 0 ||
		c.RateConnectionsPerMin < 0 || c.LoginMaxFailures < 0 || c.MaxGroupsPerUser < 0 || c.InitListMax < 0 ||
		c.RateTypingPerSec < 0 || c.MaxAuthInFlight < 0 || c.HTTPBodyTimeout < 0 ||
		c.RateJoinFailuresPerMin < 0 || c.RateMembershipPerSec < 0 || c.RateUserSearchPerSec < 0 ||
		c.RateEditsPerSec < 0 || c.RateDeletesPerSec < 0 || c.RateReactionsPerSec < 0 || c.RateReadsPerSec < 0 {
		return fmt.Errorf("limits must be 0 (off) or positive")
	}
	if c.HTTPAddr == "" && c.ChatAddr == "" && c.PresenceAddr == "" {
		return fmt.Errorf("every listener is off")
	}
	return nil
}

// cassandraHosts splits CassandraHosts at commas, dropping empty names.
func (c *Config) cassandraHosts() []string {
	var hosts []string
	for _, h := range strings.Split(c.CassandraHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("log level must be debug, info, warn or error")
	}
	return l, nil
}

// secret returns the configured JWT secret, or the one kept in the data
// directory, generating it on first start.
func (c *Config) secret() ([]byte, error) {
	if c.JWTSecret != "" {
		return []byte(c.JWTSecret), nil
	}
	path := filepath.Join(c.DataDir, "jwt-secret")
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < auth.MinSecretBytes {
			return nil, fmt.Errorf("%s holds a secret shorter than %d bytes", path, auth.MinSecretBytes)
		}
		return []byte(s), nil
	}
	if !os.IsNotExist(err) {
		return nil, err
	}
	s := fmt.Sprintf("%x", auth.NewSecret())
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("keeping the JWT secret: %w", err)
	}
	return []byte(s), nil
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	*v = intValue(n)
	return err
}

type int64Value int64

func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	*v = int64Value(n)
	return err
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	*v = durationValue(d)
	return err
}

type boolValue bool

func (v *boolValue) String() string { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	*v = boolValue(b)
	return err
}
func (v *boolValue) IsBoolFlag() bool { return true }

type floatValue float64

func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	*v = floatValue(f)
	return err
}
