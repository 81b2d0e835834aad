// Package bench is the load generator behind cmd/parley-bench: scenarios
// that drive a Parley server over its wire protocol and measure what users
// feel, and the reports they write.
//
// Vocabulary:
//   - A Run is one invocation: configuration, account pool, transport,
//     counters, latency recorders, message tracker, the phases recorded so
//     far and the timeline (one Point a second).
//   - A phase is a named stretch of a scenario (a ladder step, "steady", a
//     step of a rate search); everything counted between BeginPhase and
//     EndPhase is reported under it.
//   - A Session is one chat connection of a bench Account; a virtual user
//     (ladder) connects, sends, waits for its deliveries and disconnects.
//   - The tracker follows each message by its client id from send to
//     SUCCESS and to every expected delivery. Message content carries the
//     client id and the send time of the run's monotonic clock, so the
//     receiving session computes the delivery latency itself.
//   - Lost: answered SUCCESS but not delivered within the delivery timeout.
//     Duplicated: a seq of a conversation received twice by one
//     connection. Unanswered: no SUCCESS or ERROR within the reply timeout.
//
// Concurrency contract: a Transport calls a Session's OnFrame for one
// connection at a time, in order (nbio runs it in its poller goroutines,
// gorilla in the connection's reader); OnFrame never blocks. Counters are
// atomic; the tracker is sharded under mutexes; Latency recorders are
// mutex-guarded HDR histograms cut once a second by the Run's loop, which
// also flushes the ACKs queued by sessions and sweeps the tracker. Lock
// order: Run.mu, then a tracker shard or a Latency. Session.mu guards the
// session's own state and serializes its socket writes; no other lock is
// taken under it.
package bench
