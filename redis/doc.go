// Package redis lets several parleyd nodes act as one server through one
// Redis (7 or later; a single server or a replicated primary, not Redis
// Cluster). A Client is one node's view of it: the bus between nodes
// (parley.Bus), the presence of users across nodes (parley.Presence), the
// node's id lease, and rate limits shared by all nodes.
//
// # Vocabulary
//
//   - A node is one parleyd process. It holds a lease on a node id (0-1023,
//     the snowflake node of message ids), renewed by its heartbeat; a node
//     whose lease expired is dead.
//   - An event (parley.Event) is published once per user, on that user's
//     channel; a node subscribes to the channels of the users it has
//     connections of.
//   - Presence counts each user's live connections per node. A user is
//     online while any node counts one.
//   - The sweeper removes dead nodes' counts and announces the users who
//     thereby went offline (OnOffline).
//
// # Keys and channels
//
// P is Config.Prefix ("parley:"), n a node id, u a username.
//
//	P node:<n>        string  lease: the holder's random token; TTL 1.5 ping intervals
//	P node:<n>:gone   string  tombstone of a swept node (20 ping intervals):
//	                          derived ids skip it, in case the node was only stalled
//	P nodes           zset    node id -> when its heartbeat last ran (ms, Redis clock)
//	P nu:<n>          set     the users node n counts connections of
//	P p:<u>           hash    node id -> u's live connections there; absent = offline
//	P sweep           string  the sweeper's lock (a quarter ping interval)
//	rate:P rl:<name>:<u>      GCRA state of a Limiter (redis_rate adds "rate:")
//	P u:<u>           channel u's events: a JSON object of the event without
//	                          its users, plus "n" (publishing node) and "t" (send
//	                          time, unix ns); the frame embedded as JSON (codec.go)
//	P bus             channel control: {"resync":n} when node n dropped events
//
// Counts change only through Lua scripts (scripts.go), each atomic: a
// Connect that takes a user's total from 0 to 1 anywhere reports
// cameOnline, a Disconnect that takes it to 0 reports wentOffline.
//
// # Timing
//
// With ping interval T: the heartbeat runs every T/2 and sets the lease to
// 1.5T; every node tries to sweep every T/16 (one at a time, by the lock).
// A node killed with -9 has its users announced offline elsewhere at most
// about 1.5T + T/16 after its last heartbeat, so within 2T of its death.
// The subscription connection is pinged every min(max(T/4, 50ms), 1s) and
// replaced if silent for three of those plus the call timeout.
//
// # Failure behaviour
//
// Every Redis call is bounded by Config.Timeout (1s). The first call to
// fail on a connection error marks Redis down; while down, nothing waits
// for it, and a probe (every T/8, between 20ms and 500ms) notices its
// return; go-redis itself may take up to a second more to dial again.
//
//   - Publish never blocks: it queues (Config.QueueSize) and one goroutine
//     pipelines PUBLISH commands. When the queue is full or Redis is down,
//     the event is dropped, counted (Stats.Dropped, BusError("drop")) and
//     logged at most once a second. Messages are stored before they are
//     published, so nothing is lost: once it can publish again, the node
//     publishes a resync on the control channel (at most once per T) and
//     every other node calls OnReconnect, on which the hub sends its
//     connections what they missed. Session ends carried by dropped
//     events are caught by the hub's session check.
//   - Subscribe returns once Redis confirms the subscription, so that an
//     event published afterwards arrives. While Redis is down it returns
//     ErrUnavailable at once; the wanted subscriptions are kept and made
//     when the connection is back (go-redis resubscribes everything, in
//     one command). The first answer on the new connection fires
//     OnReconnect.
//   - Connect and Disconnect count the connection in the node's own
//     memory first. If Redis fails or is down they return ErrUnavailable
//     at once, and the user is "dirty": the heartbeat later writes the
//     count outright and announces, through OnOnline and OnOffline, the
//     changes that nobody heard of. If the node's lease is found expired
//     (Redis restarted empty, or the node was stalled and swept), the
//     heartbeat takes it again and writes all of the node's counts.
//   - Online fails with ErrUnavailable while Redis is down (the hub shows
//     such users offline).
//   - Limiters allow everything while Redis is unreachable, counting the
//     errors (BusError("limit")): an outage never blocks sends.
//   - Ping (for /health) fails while Redis, or the subscription
//     connection, is down, and when another process has taken this
//     node's id (ErrLeaseLost: restart the node).
//
// # Concurrency contract
//
// All methods are safe for concurrent use. The callbacks run on the
// package's goroutines: OnEvent on the receiving goroutine, in the order
// of each user's events (it must hand events off, not block: a receiver
// that falls behind by 32 MB is disconnected by Redis, and the node then
// resyncs); OnOnline and OnOffline on one notifier goroutine, in order;
// OnReconnect on its own goroutine, one call at a time. The hub's calls
// for one user (Subscribe, Connect, Unsubscribe, Disconnect) are expected
// one at a time, in order, as its per-shard job queue makes them; calls
// for different users run in parallel.
//
// # Lifecycle
//
// Open connects, claims the node id and starts the heartbeat, the sweeper
// and the bus; the hub is then made with NodeID(), and Start lets the
// callbacks that call into it run (OnEvent drops what comes before; the
// others wait).
// Close stops the heartbeat and the sweeper, removes the node's presence
// (announcing through OnOffline any user still counted here: call it after
// the hub has closed its connections), publishes what is queued, and
// closes the connections. It is idempotent.
package redis
