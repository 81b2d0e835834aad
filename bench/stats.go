package bench

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Counters are the run's running totals. Every field is updated
// atomically from any goroutine; Snapshot reads them all.
type Counters struct {
	Sent         atomic.Int64 // chat messages written to a socket
	Acked        atomic.Int64 // ... answered SUCCESS
	Rejected     atomic.Int64 // ... answered ERROR
	Unanswered   atomic.Int64 // ... with no answer within the reply timeout
	Delivered    atomic.Int64 // live deliveries of this run's messages to a receiving connection
	Lost         atomic.Int64 // deliveries expected after SUCCESS that never came within the delivery timeout
	Late         atomic.Int64 // deliveries that came after being counted lost
	Duplicated   atomic.Int64 // a messageId (seq) delivered twice to one connection
	Offline      atomic.Int64 // messages received as offline messages
	AcksSent     atomic.Int64 // ACK frames sent
	ConnOK       atomic.Int64 // chat connections that reached offline_delivered
	ConnFailed   atomic.Int64 // dials, handshakes or syncs that failed
	ConnDropped  atomic.Int64 // connections the server closed while we wanted them
	UsersStarted atomic.Int64 // ladder virtual users
	UsersOK      atomic.Int64
	UsersFailed  atomic.Int64
	Logins       atomic.Int64
	LoginsFailed atomic.Int64
	Requests     atomic.Int64 // other requests answered (history, ...)
	OpenConns    atomic.Int64 // chat connections open now (a gauge)

	errMu  sync.Mutex
	errors map[string]int64
}

// Error counts one error of a kind, e.g. "dial", "server:rate_limited".
func (c *Counters) Error(kind string) {
	c.errMu.Lock()
	if c.errors == nil {
		c.errors = map[string]int64{}
	}
	c.errors[kind]++
	c.errMu.Unlock()
}

// Snapshot is the value of the counters at one moment.
type Snapshot struct {
	Sent         int64            `json:"sent"`
	Acked        int64            `json:"acknowledged"`
	Rejected     int64            `json:"rejected"`
	Unanswered   int64            `json:"unanswered"`
	Delivered    int64            `json:"delivered"`
	Lost         int64            `json:"lost"`
	Late         int64            `json:"late"`
	Duplicated   int64            `json:"duplicated"`
	Offline      int64            `json:"offlineReceived"`
	AcksSent     int64            `json:"acksSent"`
	ConnOK       int64            `json:"connections"`
	ConnFailed   int64            `json:"connectionFailures"`
	ConnDropped  int64            `json:"connectionsDropped"`
	UsersStarted int64            `json:"usersStarted"`
	UsersOK      int64            `json:"usersCompleted"`
	UsersFailed  int64            `json:"usersFailed"`
	Logins       int64            `json:"logins"`
	LoginsFailed int64            `json:"loginsFailed"`
	Requests     int64            `json:"requests"`
	Errors       map[string]int64 `json:"errors"`
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() Snapshot {
	s := Snapshot{
		Sent: c.Sent.Load(), Acked: c.Acked.Load(), Rejected: c.Rejected.Load(),
		Unanswered: c.Unanswered.Load(), Delivered: c.Delivered.Load(), Lost: c.Lost.Load(),
		Late: c.Late.Load(), Duplicated: c.Duplicated.Load(), Offline: c.Offline.Load(),
		AcksSent: c.AcksSent.Load(), ConnOK: c.ConnOK.Load(), ConnFailed: c.ConnFailed.Load(),
		ConnDropped: c.ConnDropped.Load(), UsersStarted: c.UsersStarted.Load(),
		UsersOK: c.UsersOK.Load(), UsersFailed: c.UsersFailed.Load(), Logins: c.Logins.Load(),
		LoginsFailed: c.LoginsFailed.Load(), Requests: c.Requests.Load(),
		Errors: map[string]int64{},
	}
	c.errMu.Lock()
	for k, v := range c.errors {
		s.Errors[k] = v
	}
	c.errMu.Unlock()
	return s
}

// Sub returns s minus an earlier snapshot: what happened in between.
func (s Snapshot) Sub(o Snapshot) Snapshot {
	d := Snapshot{
		Sent: s.Sent - o.Sent, Acked: s.Acked - o.Acked, Rejected: s.Rejected - o.Rejected,
		Unanswered: s.Unanswered - o.Unanswered, Delivered: s.Delivered - o.Delivered,
		Lost: s.Lost - o.Lost, Late: s.Late - o.Late, Duplicated: s.Duplicated - o.Duplicated,
		Offline: s.Offline - o.Offline, AcksSent: s.AcksSent - o.AcksSent, ConnOK: s.ConnOK - o.ConnOK,
		ConnFailed: s.ConnFailed - o.ConnFailed, ConnDropped: s.ConnDropped - o.ConnDropped,
		UsersStarted: s.UsersStarted - o.UsersStarted, UsersOK: s.UsersOK - o.UsersOK,
		UsersFailed: s.UsersFailed - o.UsersFailed, Logins: s.Logins - o.Logins,
		LoginsFailed: s.LoginsFailed - o.LoginsFailed, Requests: s.Requests - o.Requests,
		Errors: map[string]int64{},
	}
	for k, v := range s.Errors {
		if n := v - o.Errors[k]; n != 0 {
			d.Errors[k] = n
		}
	}
	return d
}

// Add returns the sum of two snapshots (phases of one report).
func (s Snapshot) Add(o Snapshot) Snapshot {
	neg := Snapshot{Errors: map[string]int64{}}.Sub(o)
	sum := s.Sub(neg)
	for k, v := range o.Errors {
		sum.Errors[k] = s.Errors[k] + v
	}
	return sum
}

// ErrorKinds returns the error kinds sorted by count, highest first.
func (s Snapshot) ErrorKinds() []string {
	kinds := make([]string, 0, len(s.Errors))
	for k := range s.Errors {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if s.Errors[kinds[i]] != s.Errors[kinds[j]] {
			return s.Errors[kinds[i]] > s.Errors[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	return kinds
}
