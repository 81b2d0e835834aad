package hub

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"hash/maphash"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/snowflake"
	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// Config configures a Hub. Store is required; every other field has a
// usable zero value.
type Config struct {
	Store parley.Store
	// Presence aggregates online status; nil means this node alone
	// (LocalPresence).
	Presence parley.Presence
	// Bus reaches other nodes; nil means there are none.
	Bus parley.Bus
	// NodeID (0-1023) makes message and group IDs unique across nodes.
	NodeID int64
	// PingInterval is how often every connection is pinged; a connection
	// that has not answered the previous ping is dropped. Default 30s.
	PingInterval time.Duration
	// SessionCheck is how often the sessions of open connections are
	// checked against the store, to close those that ended elsewhere.
	// Default 30s.
	SessionCheck time.Duration
	// CommitDelay is how long the committer may wait for more sends to
	// join a batch when the previous batch had company (group commit, as
	// PostgreSQL's commit_delay): a little latency under load buys far
	// fewer synced commits. Default 1ms; negative turns it off.
	CommitDelay time.Duration
	// MaxBatch bounds how many sends one store transaction takes.
	// Default 8192.
	MaxBatch int
	// MaxInbound bounds the frames a connection may have waiting to be
	// processed; past it the connection is closed. Default 1024.
	MaxInbound int
	// InitListMax bounds the chats, and the groups, that INIT_DATA lists
	// (and a GET_CHATS or GET_GROUPS page), so that its size is bounded
	// whatever others do: anyone can start a chat with a user or add them
	// to an open group. Default 500.
	InitListMax int
	// MaxGroupsPerUser bounds the groups a user can be in; joining,
	// creating or being added past it is ERROR forbidden. 0: no bound.
	MaxGroupsPerUser int
	// FanoutWorkers delivers committed messages; default GOMAXPROCS.
	FanoutWorkers int
	// Limits rate-limit users' requests; a nil limiter allows everything.
	Limits  Limits
	Logger  *slog.Logger
	Now     func() time.Time
	Metrics Metrics
}

// Limiter rate-limits a user's requests of one kind.
type Limiter = parley.Limiter

// Limits are the per-user limits of WebSocket requests, answered with
// ERROR rate_limited.
type Limits struct {
	Messages Limiter // ONE_TO_ONE_CHAT and GROUP_CHAT
	History  Limiter // GET_*_HISTORY
	Groups   Limiter // CREATE_GROUP
	Acks     Limiter // ACK
	// Edits, Deletes, Reactions and Reads limit EDIT_MESSAGE,
	// DELETE_MESSAGE, REACT and READ.
	Edits, Deletes, Reactions, Reads Limiter
	// Typing limits TYPING per sender, and TypingPair per sender and
	// conversation (key "sender\x00conv"); TYPING past either is dropped
	// without a reply.
	Typing     Limiter
	TypingPair Limiter
	// Membership limits JOIN_GROUP, ADD_GROUP_MEMBER,
	// REMOVE_GROUP_MEMBER and LEAVE_GROUP, each of which sends an event
	// to every member: ERROR rate_limited past it.
	Membership Limiter
	// JoinFailures limits the JOIN_GROUP attempts that fail (no such
	// group, a private one): past it, JOIN_GROUP is ERROR rate_limited
	// until the failures age out. Nil limits nothing.
	JoinFailures FailureLimiter
}

// FailureLimiter limits a user's failed requests of one kind.
type FailureLimiter interface {
	// Blocked reports whether username has failed too often lately.
	Blocked(username string) bool
	// Fail counts one failure of username.
	Fail(username string)
}

// allow asks a limiter, which may be nil.
func allow(l Limiter, username string) bool { return l == nil || l.Allow(username) }

// Hub holds one node's connections.
type Hub struct {
	cfg      Config
	store    parley.Store
	lastSeqs lastSeqs
	presence parley.Presence
	bus      parley.Bus
	log      *slog.Logger
	now      func() time.Time
	ids      *snowflake.Node
	nodeName string
	metrics  Metrics

	shards [64]shard
	seed   maphash.Seed
	nextID atomic.Uint64

	commits chan *commit
	stored  chan storedBatch
	work    chan func() // to idle workers
	fanout  []chan []delivery

	flushMu sync.Mutex // held while ACKs are being stored
	ackMu   sync.Mutex
	acks    map[string]map[string]int64 // user -> conv -> acknowledged seq, not yet stored
	reads   map[string]map[string]int64 // user -> conv -> read position, not yet stored
	// receipts are the read receipts waiting for their turn (sendReceipts).
	receipts map[readKey]*receipt
	seen     map[string]time.Time // user -> last seen, not yet stored
	// Last-seen times stored lately, in two generations (seenStoredFor).
	seenStored, seenStoredOld map[string]time.Time
	seenGenAt                 time.Time

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closing  atomic.Bool
	conns    sync.WaitGroup
	runOnce  sync.Once
	stopOnce sync.Once
	// stopMu orders submits against Shutdown's closing of commits: stopped
	// is set, under the write lock, when commits is closed.
	stopMu  sync.RWMutex
	stopped bool
}

// shard is one slice of the registry of connections by username. It also
// runs, one at a time and in order, the jobs that follow a connection's
// arrival and departure (bus subscription, presence), so that for any user
// they happen in the order the connections came and went.
type shard struct {
	mu      sync.RWMutex
	users   map[string][]*Conn
	jobs    []func()
	running bool
	// ended holds recently ended sessions of this shard's users, so that a
	// connection authenticated just before its session ended, but
	// registered just after, is closed too.
	ended map[string]time.Time
}

// endedMemory is how long an ended session is remembered; longer than any
// upgrade takes.
const endedMemory = 5 * time.Minute

// New returns a Hub; call Run to start it.
func New(cfg Config) (*Hub, error) {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 30 * time.Second
	}
	if cfg.SessionCheck <= 0 {
		cfg.SessionCheck = 30 * time.Second
	}
	if cfg.CommitDelay == 0 {
		cfg.CommitDelay = time.Millisecond
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 8192
	}
	if cfg.MaxInbound <= 0 {
		cfg.MaxInbound = 1024
	}
	if cfg.InitListMax <= 0 {
		cfg.InitListMax = 500
	}
	if cfg.FanoutWorkers <= 0 {
		cfg.FanoutWorkers = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	ids, err := snowflake.NewNode(cfg.NodeID)
	if err != nil {
		return nil, err
	}
	h := &Hub{
		cfg:        cfg,
		store:      cfg.Store,
		presence:   cfg.Presence,
		bus:        cfg.Bus,
		log:        cfg.Logger,
		now:        cfg.Now,
		ids:        ids,
		nodeName:   "node-" + strconv.FormatInt(cfg.NodeID, 10),
		metrics:    cfg.Metrics,
		seed:       maphash.MakeSeed(),
		commits:    make(chan *commit, 4096),
		stored:     make(chan storedBatch, 64),
		work:       make(chan func()),
		acks:       make(map[string]map[string]int64),
		reads:      make(map[string]map[string]int64),
		receipts:   make(map[readKey]*receipt),
		seen:       make(map[string]time.Time),
		seenStored: make(map[string]time.Time),
	}
	if h.presence == nil {
		h.presence = NewLocalPresence()
	}
	for i := range h.shards {
		h.shards[i].users = make(map[string][]*Conn)
	}
	h.fanout = make([]chan []delivery, cfg.FanoutWorkers)
	for i := range h.fanout {
		h.fanout[i] = make(chan []delivery, 1024)
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Run starts the committer, the fan-out workers and the pinger. It returns
// at once; Shutdown stops them.
func (h *Hub) Run() {
	h.runOnce.Do(func() {
		h.wg.Add(5 + len(h.fanout))
		go h.sessionLoop()
		// Read receipts that are due go out every tenth of a second.
		go h.every(ackFlushInterval, h.sendReceipts)
		go h.commitLoop()
		go h.dispatchLoop()
		go h.pingLoop()
		for _, ch := range h.fanout {
			go h.fanoutLoop(ch)
		}
		for range workers {
			go h.workerLoop()
		}
	})
}

// workers is the number of long-lived goroutines that process connections'
// frames. Reusing goroutines whose stacks have already grown saves the
// stack copying that fresh ones pay on every burst; when all are busy, a
// new goroutine takes the work.
const workers = 512

// run runs f on an idle worker, or on a new goroutine.
func (h *Hub) run(f func()) {
	select {
	case h.work <- f:
	default:
		go f()
	}
}

func (h *Hub) workerLoop() {
	for {
		select {
		case f := <-h.work:
			f()
		case <-h.ctx.Done():
			return
		}
	}
}

// Shutdown closes every connection with 1001, waits for the frames in
// flight to be handled and for pending commits to be stored, then stops.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.closing.Store(true)
	for _, c := range h.allConns() {
		c.Close(1001, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		h.conns.Wait()
		h.stopOnce.Do(func() {
			h.cancel()
			h.stopMu.Lock()
			h.stopped = true
			close(h.commits)
			h.stopMu.Unlock()
		})
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Closing reports whether Shutdown has begun.
func (h *Hub) Closing() bool { return h.closing.Load() }

// NodeName identifies this node in events.
func (h *Hub) NodeName() string { return h.nodeName }

func (h *Hub) shardOf(username string) *shard {
	return &h.shards[maphash.String(h.seed, username)%uint64(len(h.shards))]
}

// register adds c to the registry and queues job(first), where first
// reports whether c is the user's first connection on this node. It
// reports false, registering nothing, if c's session has just ended.
func (h *Hub) register(c *Conn, job func(first bool)) bool {
	s := h.shardOf(c.user)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ended := s.ended[c.session]; ended {
		return false
	}
	if _, ended := s.ended[c.user+"\x00"+AllSessions]; ended {
		return false
	}
	first := len(s.users[c.user]) == 0
	s.users[c.user] = append(s.users[c.user], c)
	h.enqueue(s, func() { job(first) })
	return true
}

// endSessionLocal closes this node's connections of a session (or of all
// the user's sessions) and remembers, for a while, that it ended.
func (h *Hub) endSessionLocal(username, sessionID string) {
	s := h.shardOf(username)
	key := sessionID
	if sessionID == AllSessions {
		key = username + "\x00" + AllSessions
	}
	now := h.now()
	s.mu.Lock()
	if s.ended == nil {
		s.ended = make(map[string]time.Time)
	}
	for k, at := range s.ended {
		if now.Sub(at) > endedMemory {
			delete(s.ended, k)
		}
	}
	s.ended[key] = now
	var victims []*Conn
	for _, c := range s.users[username] {
		if sessionID == AllSessions || c.session == sessionID {
			victims = append(victims, c)
		}
	}
	s.mu.Unlock()
	for _, c := range victims {
		c.Close(protocol.ClosePolicy, "session ended")
	}
}

// unregister removes c and queues job(last), where last reports whether c
// was the user's last connection on this node.
func (h *Hub) unregister(c *Conn, job func(last bool)) {
	s := h.shardOf(c.user)
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.users[c.user]
	for i, x := range list {
		if x == c {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	last := len(list) == 0
	if last {
		delete(s.users, c.user)
	} else {
		s.users[c.user] = list
	}
	h.enqueue(s, func() { job(last) })
}

// enqueue appends a job to the shard's queue, starting its runner if
// needed. The caller holds s.mu.
func (h *Hub) enqueue(s *shard, job func()) {
	s.jobs = append(s.jobs, job)
	if !s.running {
		s.running = true
		go h.runJobs(s)
	}
}

func (h *Hub) runJobs(s *shard) {
	for {
		s.mu.Lock()
		if len(s.jobs) == 0 {
			s.running = false
			s.jobs = nil
			s.mu.Unlock()
			return
		}
		job := s.jobs[0]
		s.jobs[0] = nil
		s.jobs = s.jobs[1:]
		s.mu.Unlock()
		job()
	}
}

// connsOf returns a copy of a user's connections on this node.
func (h *Hub) connsOf(username string) []*Conn {
	s := h.shardOf(username)
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.users[username]
	if len(list) == 0 {
		return nil
	}
	return append([]*Conn(nil), list...)
}

func (h *Hub) allConns() []*Conn {
	var all []*Conn
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.RLock()
		for _, list := range s.users {
			all = append(all, list...)
		}
		s.mu.RUnlock()
	}
	return all
}

// Stats are a node's live counts.
type Stats = parley.NodeStats

// Stats counts the node's users and connections.
func (h *Hub) Stats() Stats {
	st := Stats{Connections: map[Kind]int{}}
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.RLock()
		st.Users += len(s.users)
		for _, list := range s.users {
			for _, c := range list {
				st.Connections[c.kind]++
			}
		}
		s.mu.RUnlock()
	}
	return st
}

func (h *Hub) newMessageID() string { return h.ids.Generate().String() }

// newGroupID returns "g" and 128 random bits in lowercase base32 (27
// characters, never a "-"): a group id cannot be guessed, so knowing one
// is what lets a user JOIN_GROUP an open group.
func (h *Hub) newGroupID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return "g" + strings.ToLower(groupIDEncoding.EncodeToString(b[:]))
}

var groupIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)
