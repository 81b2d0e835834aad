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
	c := l.c
	if c.Down() || c.closing.Load() {
		return true
	}
	ctx, cancel := c.timeout(context.Background())
	defer cancel()
	res, err := l.rl.Allow(ctx, c.keys.rate(l.name, username), l.limit)
	if err != nil {
		c.noteErr("limit", err)
		return true
	}
	return res.Allowed > 0
}
