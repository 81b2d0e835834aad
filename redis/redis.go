package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Config configures a Client. URL is required; every other field has a
// usable zero value, except NodeID, whose zero value is node 0 (use -1 to
// derive one).
type Config struct {
	// URL is the Redis URL, as redis://[user:password@]host:port/db.
	URL string
	// Prefix starts every key and channel name. Default "parley:".
	Prefix string
	// NodeID is this node's id, 0-1023: the snowflake node of message ids
	// and the node's name in presence. -1 claims the first free one.
	NodeID int64
	// PingInterval is the hub's ping interval. The node's lease lives 1.5
	// of them and is renewed every half; a dead node's users go offline
	// within two. Default 30s.
	PingInterval time.Duration
	// Timeout bounds every Redis call. Default 1s.
	Timeout time.Duration
	// QueueSize bounds the events waiting to be published; past it
	// Publish drops. Default 65536.
	QueueSize int
	Logger    *slog.Logger

	// OnEvent receives the events other nodes published for users
	// subscribed here, one user per event, in the order they were
	// published. It runs on the receiving goroutine: it must hand the event
	// off, not block.
	OnEvent func(ev *parley.Event)
	// OnOffline is called when users went offline everywhere without a
	// Disconnect telling anyone: their node died (at is when it was last
	// seen alive), or this node's own disconnects reached Redis late
	// after an outage (at is when the last connection closed).
	OnOffline func(username string, at time.Time)
	// OnOnline is called when users turn out online everywhere only once
	// Redis has caught up: connections opened here while Redis was
	// unreachable (Connect failed), or after Redis lost this node's
	// entries (restarted empty, or swept this node while it was stalled).
	OnOnline func(username string)
	// OnReconnect is called when this node may have missed events: its
	// subscription connection was lost and is back, or another node
	// dropped events it could not publish. It runs on its own goroutine;
	// calls do not overlap.
	OnReconnect func()
	// BusLag receives, for each event received, how long it took from
	// Publish on the other node (their clocks are compared).
	BusLag func(time.Duration)
	// BusError counts failures by operation: "publish", "drop",
	// "subscribe", "receive", "decode", "presence", "heartbeat", "sweep",
	// "limit", "lease".
	BusError func(op string)
}

// Client is one node's connection to Redis: the bus, the presence and the
// node lease. It is safe for concurrent use.
type Client struct {
	cfg   Config
	log   *slog.Logger
	rdb   *redis.Client // commands and publishing
	psc   *redis.Client // the subscription connection only
	probe *redis.Client // pings Redis while it is down
	keys  keyspace
	node  string // this node's id, as a hash field and in envelopes
	id    int64
	token string // this incarnation, the value of the lease
	ttl   time.Duration

	// Lifecycle: maint runs the heartbeat and the sweeper, which stop
	// first on Close; bus runs everything else.
	maintCtx    context.Context
	maintCancel context.CancelFunc
	maintWG     sync.WaitGroup
	busCtx      context.Context
	busCancel   context.CancelFunc
	busWG       sync.WaitGroup
	closing     atomic.Bool
	closeOnce   sync.Once

	reconnect chan struct{} // asks reconnectLoop for an OnReconnect call
	started   chan struct{} // closed by Start: callbacks may run
	isStarted atomic.Bool   // the same, for the receiving goroutine
	startOnce sync.Once

	downSince atomic.Int64 // unix nanos of the first failure of an outage; 0 while up
	upSince   atomic.Int64 // unix nanos of the end of the last outage
	leaseLost atomic.Bool

	bus      bus
	subs     subscriber
	presence presence
	notes    notifier

	st counters
}

var (
	_ parley.Bus      = (*Client)(nil)
	_ parley.Presence = (*Client)(nil)
)

// ErrUnavailable is returned when Redis could not be reached, or is known
// to be unreachable and was not tried. The state it concerns is kept and
// written once Redis is back.
var ErrUnavailable = parley.Errorf(parley.EUNAVAILABLE, "redis is unavailable")

// ErrClosed is returned by calls on a closed Client.
var ErrClosed = errors.New("redis: client closed")

// Open connects to Redis, claims a node id and starts the bus, the
// heartbeat and the sweeper. The callbacks wait for Start (OnEvent drops
// what comes before), so that they may refer to a hub made after Open:
// the hub needs NodeID.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "parley:"
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 30 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 65536
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeID < -1 || cfg.NodeID >= maxNodes {
		return nil, fmt.Errorf("redis: node id %d is not in 0..%d (or -1 to derive)", cfg.NodeID, maxNodes-1)
	}
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: parsing the URL: %w", err)
	}
	tuneOptions(opt, cfg.Timeout)
	driverLog.Do(func() { redis.SetLogger(driverLogger{cfg.Logger}) })
	var tok [12]byte
	rand.Read(tok[:])
	c := &Client{
		cfg:   cfg,
		log:   cfg.Logger,
		keys:  keyspace{cfg.Prefix},
		token: hex.EncodeToString(tok[:]),
		ttl:   cfg.PingInterval * 3 / 2,
	}
	c.rdb = redis.NewClient(opt)

	// The subscription client counts its connections: each one after the
	// first is a reconnection.
	psOpt := *opt
	psOpt.PoolSize = 2
	psOpt.MinIdleConns = 0
	psOpt.OnConnect = func(context.Context, *redis.Conn) error {
		c.subs.connected()
		return nil
	}
	c.psc = redis.NewClient(&psOpt)
	probeOpt := *opt
	probeOpt.PoolSize = 1000 // dial failures before go-redis's dial breaker opens
	probeOpt.MaxIdleConns = 1
	c.probe = redis.NewClient(&probeOpt)

	fail := func(err error) (*Client, error) {
		c.closeClients()
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, 5*cfg.Timeout)
	defer cancel()
	if err := c.rdb.Ping(octx).Err(); err != nil {
		return fail(fmt.Errorf("redis: connecting: %w", err))
	}
	leftover, lastSeen, err := c.claim(octx)
	if err != nil {
		return fail(err)
	}
	c.log = c.log.With("node", c.id)

	// Users left behind by an earlier run of a configured node id went
	// offline when it died. They must go before this run counts anyone.
	var gone []string
	if leftover {
		if gone, err = c.sweepNode(octx, c.node, true, 0); err != nil {
			releaseScript.Run(octx, c.rdb, []string{c.keys.lease(c.node), c.keys.nodes()}, c.token, c.node)
			return fail(fmt.Errorf("redis: removing the presence left by node %d's previous run: %w", c.id, err))
		}
		c.log.Info("the previous run of this node left users online; now offline", "users", len(gone))
	}

	c.maintCtx, c.maintCancel = context.WithCancel(context.Background())
	c.busCtx, c.busCancel = context.WithCancel(context.Background())
	c.reconnect = make(chan struct{}, 1)
	c.started = make(chan struct{})
	c.presence.init()
	c.notes.init(c)
	c.bus.init(c)
	c.subs.init(c)

	for _, u := range gone {
		c.notes.add(note{user: u, at: lastSeen, check: true})
	}

	c.busWG.Add(6)
	go c.notes.run()
	go c.reconnectLoop()
	go c.bus.run()
	go c.subs.runWriter()
	go c.subs.runReader()
	go c.subs.runPinger()
	c.maintWG.Add(2)
	go c.heartbeatLoop()
	go c.sweepLoop()

	// Wait (a little) for the subscription connection, so that the first
	// Subscribe calls need not.
	for deadline := time.Now().Add(cfg.Timeout); !c.subs.up.Load() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	c.log.Info("redis connected", "prefix", cfg.Prefix, "lease", c.ttl)
	return c, nil
}

// Start lets the held callbacks run. Call it once the hub that they call
// into is running.
func (c *Client) Start() {
	c.startOnce.Do(func() {
		c.isStarted.Store(true)
		close(c.started)
	})
}

// tuneOptions makes every call fail fast: the callers degrade instead of
// waiting for Redis.
func tuneOptions(opt *redis.Options, timeout time.Duration) {
	opt.DialTimeout = timeout
	opt.ReadTimeout = timeout
	opt.WriteTimeout = timeout
	opt.PoolTimeout = timeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = 1
	opt.DialerRetries = 1 // the callers retry, later
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DisableIdentity = true
}

// driverLog routes go-redis's own log lines (a line per failed dial during
// an outage, which this package already reports once) to the Logger of
// the first Client opened, at debug level. go-redis has one logger per
// process.
var driverLog sync.Once

type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// NodeID is the node id this client holds the lease of.
func (c *Client) NodeID() int64 { return c.id }

// Name is the node's name, "node-<id>", as the hub names itself in
// Event.Origin.
func (c *Client) Name() string { return "node-" + c.node }

// ErrLeaseLost is returned by Ping when another process has taken this
// node's id: ids would collide, and the node must be restarted.
var ErrLeaseLost = errors.New("redis: this node's id was claimed by another node; restart it")

// Ping checks, for /health, that Redis answers, that the subscription
// connection is up and that this node still holds its id.
func (c *Client) Ping(ctx context.Context) error {
	if c.closing.Load() {
		return ErrClosed
	}
	if c.leaseLost.Load() {
		return ErrLeaseLost
	}
	if c.Down() {
		return fmt.Errorf("redis: ping: %w", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		c.noteErr("ping", err)
		return fmt.Errorf("redis: ping: %w", err)
	}
	if !c.subs.up.Load() {
		return errors.New("redis: the subscription connection is down (reconnecting)")
	}
	return nil
}

// Close stops the bus and the heartbeat, removes this node's presence
// entries and releases its id. Users still counted here (normally none:
// call it after the hub's Shutdown, which disconnects everyone) go offline
// through OnOffline. It is safe to call more than once.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		c.maintCancel()
		c.maintWG.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), 5*c.cfg.Timeout)
		defer cancel()
		if err = c.release(ctx); err != nil {
			err = fmt.Errorf("redis: releasing node %d: %w", c.id, err)
			c.log.Warn("releasing the node's presence failed; other nodes will sweep it", "err", err)
		}
		c.notes.drain()
		c.bus.drain(ctx)

		c.busCancel()
		c.subs.close()
		c.busWG.Wait()
		c.closeClients()
		c.log.Info("redis closed")
	})
	return err
}

// abort stops every goroutine and closes the connections without cleaning
// anything up, as a crash would.
func (c *Client) abort() {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		c.maintCancel()
		c.busCancel()
		c.subs.close()
		c.maintWG.Wait()
		c.busWG.Wait()
		c.closeClients()
	})
}

func (c *Client) closeClients() {
	c.rdb.Close()
	c.psc.Close()
	c.probe.Close()
}

// Stats are counters since Open.
type Stats struct {
	Published  uint64 // PUBLISH commands sent (one per user of an event)
	Dropped    uint64 // events dropped: queue full or Redis down
	Received   uint64 // events received from other nodes
	Reconnects uint64 // OnReconnect calls
	Errors     uint64 // failed Redis calls
	Swept      uint64 // users taken offline by the sweeper
}

type counters struct {
	published, dropped, received, reconnects, errors, swept atomic.Uint64
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{
		Published:  c.st.published.Load(),
		Dropped:    c.st.dropped.Load(),
		Received:   c.st.received.Load(),
		Reconnects: c.st.reconnects.Load(),
		Errors:     c.st.errors.Load(),
		Swept:      c.st.swept.Load(),
	}
}

// Down reports whether Redis is currently believed unreachable.
func (c *Client) Down() bool { return c.downSince.Load() != 0 }

// skipLimits reports whether the cross-node limits should allow without
// asking Redis: it is down, or the client is closing.
func (c *Client) skipLimits() bool { return c.Down() || c.closing.Load() }

// noteErr counts a failed call and, when it is a connection failure,
// marks Redis down until a probe succeeds.
func (c *Client) noteErr(op string, err error) {
	c.st.errors.Add(1)
	if c.cfg.BusError != nil {
		c.cfg.BusError(op)
	}
	if !connFailure(err) {
		c.log.Error("redis call failed", "op", op, "err", err)
		return
	}
	if c.downSince.CompareAndSwap(0, time.Now().UnixNano()) && !c.closing.Load() {
		c.log.Error("redis unreachable; degrading: events dropped, presence kept locally", "op", op, "err", err)
	}
}

// noteOK records that Redis answered.
func (c *Client) noteOK() {
	if c.downSince.Load() == 0 {
		return // the common case, without writing to a shared cache line
	}
	if since := c.downSince.Swap(0); since != 0 {
		c.upSince.Store(time.Now().UnixNano())
		c.log.Info("redis reachable again", "after", time.Since(time.Unix(0, since)).Round(time.Millisecond))
	}
}

// connFailure reports whether err means Redis could not be reached, as
// opposed to an error reply.
func connFailure(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		// LOADING, BUSY, MASTERDOWN... mean "not now", like a timeout.
		msg := rerr.Error()
		for _, p := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"} {
			if len(msg) >= len(p) && msg[:len(p)] == p {
				return true
			}
		}
		return false
	}
	return true
}

// timeout returns a context bounded by the call timeout.
func (c *Client) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.Timeout)
}

// keyspace names the keys and channels.
type keyspace struct{ p string }

func (k keyspace) lease(node string) string     { return k.p + "node:" + node }
func (k keyspace) nodes() string                { return k.p + "nodes" }
func (k keyspace) nodeUsers(node string) string { return k.p + "nu:" + node }
func (k keyspace) presence(user string) string  { return k.p + "p:" + user }
func (k keyspace) channel(user string) string   { return k.p + "u:" + user }
func (k keyspace) control() string              { return k.p + "bus" }
func (k keyspace) sweepLock() string            { return k.p + "sweep" }
func (k keyspace) failures(key string) string   { return k.p + "lf:" + key }
func (k keyspace) lock(key string) string       { return k.p + "lk:" + key }
func (k keyspace) trusted(key string) string    { return k.p + "lt:" + key }
func (k keyspace) rate(name, user string) string {
	return k.p + "rl:" + name + ":" + user
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
