package redis

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Lockout refuses logins after too many failures per key (a username, an
// address) counted across every node, with the rules of ratelimit.Lockout:
// MaxFailures within Window lock the key out for Base, doubling with each
// further failure up to Max; successes never count. While Redis is
// unreachable it locks no one out, as the other cross-node limits allow.
type Lockout struct {
	c           *Client
	MaxFailures int
	Window      time.Duration
	Base, Max   time.Duration
	// TrustFor is how long a key passed to Trust stays trusted.
	TrustFor time.Duration
	seq      atomic.Int64
}

// Lockout returns a cross-node lockout of maxFailures per 15 minutes,
// locking out for 1 minute, doubling up to an hour.
func (c *Client) Lockout(maxFailures int) *Lockout {
	return &Lockout{c: c, MaxFailures: maxFailures, Window: 15 * time.Minute, Base: time.Minute, Max: time.Hour, TrustFor: 30 * 24 * time.Hour}
}

// failScript records one failure of a key in a sorted set of failure times
// (dropping those older than the window) and, past the limit, sets the
// key's lock with its lifetime.
// KEYS: failures, lock. ARGV: now ms, window ms, max failures, base ms,
// max ms, a unique member.
var failScript = goredis.NewScript(`
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('PEXPIRE', KEYS[1], window)
local n = redis.call('ZCARD', KEYS[1])
local over = n - tonumber(ARGV[3])
if over >= 0 then
  local d = tonumber(ARGV[4]) * 2 ^ math.min(over, 30)
  if d > tonumber(ARGV[5]) then d = tonumber(ARGV[5]) end
  redis.call('SET', KEYS[2], '1', 'PX', math.floor(d))
end
return n
`)

// Locked reports whether any of the keys is locked out, and for how long.
func (l *Lockout) Locked(keys ...string) (bool, time.Duration) {
	c := l.c
	if l.MaxFailures <= 0 || c.skipLimits() {
		return false, 0
	}
	ctx, cancel := c.timeout(context.Background())
	defer cancel()
	ttls := make([]*goredis.DurationCmd, len(keys))
	_, err := c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			ttls[i] = p.PTTL(ctx, c.keys.lock(k))
		}
		return nil
	})
	if err != nil {
		c.noteErr("lockout", err)
		return false, 0
	}
	var wait time.Duration
	for _, t := range ttls {
		wait = max(wait, t.Val())
	}
	return wait > 0, wait
}

// Fail records a failed login for each key.
func (l *Lockout) Fail(keys ...string) {
	c := l.c
	if l.MaxFailures <= 0 || c.skipLimits() {
		return
	}
	ctx, cancel := c.timeout(context.Background())
	defer cancel()
	now := time.Now().UnixMilli()
	for _, k := range keys {
		member := c.node + "-" + strconv.FormatInt(now, 10) + "-" + strconv.FormatInt(l.seq.Add(1), 10)
		err := failScript.Run(ctx, c.rdb, []string{c.keys.failures(k), c.keys.lock(k)},
			now, l.Window.Milliseconds(), l.MaxFailures, l.Base.Milliseconds(), l.Max.Milliseconds(), member).Err()
		if err != nil {
			c.noteErr("lockout", err)
			return
		}
	}
}

// Trust remembers key (an address that logged in as a user) for TrustFor,
// across every node.
func (l *Lockout) Trust(key string) {
	c := l.c
	if l.MaxFailures <= 0 || c.skipLimits() {
		return
	}
	ctx, cancel := c.timeout(context.Background())
	defer cancel()
	if err := c.rdb.Set(ctx, c.keys.trusted(key), "1", l.TrustFor).Err(); err != nil {
		c.noteErr("lockout", err)
	}
}

// Trusted reports whether key was passed to Trust within TrustFor. While
// Redis is unreachable nothing is locked out anyway.
func (l *Lockout) Trusted(key string) bool {
	c := l.c
	if l.MaxFailures <= 0 || c.skipLimits() {
		return false
	}
	ctx, cancel := c.timeout(context.Background())
	defer cancel()
	n, err := c.rdb.Exists(ctx, c.keys.trusted(key)).Result()
	if err != nil {
		c.noteErr("lockout", err)
		return false
	}
	return n > 0
}
