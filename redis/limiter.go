package redis

import (
	"context"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// Limiter is a per-user rate limit shared by every node (GCRA, as
// redis_rate implements it), so that a user cannot multiply their
// allowance by spreading connections over nodes. It satisfies the hub's
// Limiter interface.
type Limiter struct {
	c     *Client
	name  string
	rl    *redis_rate.Limiter
	limit redis_rate.Limit
}

// Limiter returns the cross-node limit of sends: perSecond on average,
// bursts of burst.
func (c *Client) Limiter(perSecond float64, burst int) *Limiter {
	return c.NamedLimiter("send", perSecond, burst)
}

// NamedLimiter returns a cross-node limit; limiters of different names
// count separately.
func (c *Client) NamedLimiter(name string, perSecond float64, burst int) *Limiter {
	if perSecond <= 0 || math.IsInf(perSecond, 0) || math.IsNaN(perSecond) {
		perSecond = 1
	}
	// One request per period: redis_rate's emission interval is
	// Period/Rate, which this keeps exact for fractional rates.
	return &Limiter{
		c:     c,
		name:  name,
		rl:    redis_rate.NewLimiter(c.rdb),
		limit: redis_rate.Limit{Rate: 1, Burst: max(burst, 1), Period: time.Duration(float64(time.Second) / perSecond)},
	}
}

// Allow reports whether username may make one more request now. When
// Redis is unreachable it allows (and counts the error): a Redis outage
// never blocks sends.
func (l *Limiter) Allow(username string) bool {
	ok, _ := l.take(username)
	return ok
}

// take spends one request of key's budget, reporting whether there was
// one and, if not, how long until there will be.
func (l *Limiter) take(key string) (bool, time.Duration) {
	c := l.c
	if c.skipLimits() {
		return true, 0
	}
	ctx, cancel := c.timeout(context.Background())
	defer cancel()
	res, err := l.rl.Allow(ctx, c.keys.rate(l.name, key), l.limit)
	if err != nil {
		c.noteErr("limit", err)
		return true, 0
	}
	return res.Allowed > 0, max(res.RetryAfter, 0)
}

// KeyLimiter is a cross-node limit keyed by anything, such as a client
// address, that also says how long to wait when it refuses (for HTTP's
// Retry-After). It satisfies the HTTP layer's KeyedLimit.
type KeyLimiter struct{ l *Limiter }

// KeyLimiter returns a cross-node limit of perSecond requests per key on
// average, in bursts of burst.
func (c *Client) KeyLimiter(name string, perSecond float64, burst int) KeyLimiter {
	return KeyLimiter{c.NamedLimiter(name, perSecond, burst)}
}

// Allow spends one request of key's budget; when there is none it returns
// false and the time until there will be. A Redis outage allows.
func (k KeyLimiter) Allow(key string) (bool, time.Duration) { return k.l.take(key) }
