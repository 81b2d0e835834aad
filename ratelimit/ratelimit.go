// Package ratelimit holds Parley's local limits: token buckets per key
// (golang.org/x/time/rate) that are forgotten when idle, and a login
// lockout that counts failures per username and per address.
package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a set of token buckets, one per key (a user, an address).
// Buckets idle for longer than it takes to refill are dropped, so memory
// follows the active keys. A zero rate means no limit.
type Keyed struct {
	limit  rate.Limit
	burst  int
	shards [32]keyedShard
	seed   maphash.Seed
	now    func() time.Time
}

type keyedShard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewKeyed returns buckets refilling at perSecond with the given burst.
func NewKeyed(perSecond float64, burst int) *Keyed {
	k := &Keyed{limit: rate.Limit(perSecond), burst: burst, seed: maphash.MakeSeed(), now: time.Now}
	for i := range k.shards {
		k.shards[i].buckets = make(map[string]*bucket)
	}
	return k
}

// PerMinute returns buckets allowing n per minute with a burst of n.
func PerMinute(n int) *Keyed { return NewKeyed(float64(n)/60, n) }

// Off reports whether the limit is disabled.
func (k *Keyed) Off() bool { return k == nil || k.limit <= 0 }

// Allow takes one token for key, reporting whether there was one and, if
// not, how long until there will be.
func (k *Keyed) Allow(key string) (bool, time.Duration) {
	if k.Off() {
		return true, 0
	}
	now := k.now()
	s := &k.shards[maphash.String(k.seed, key)%uint64(len(k.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	k.sweepLocked(s, now)
	b := s.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(k.limit, k.burst)}
		s.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweepLocked drops buckets that have refilled completely: they are
// indistinguishable from new ones.
func (k *Keyed) sweepLocked(s *keyedShard, now time.Time) {
	full := time.Duration(float64(k.burst) / float64(k.limit) * float64(time.Second))
	if now.Sub(s.sweep) < full || len(s.buckets) < 64 {
		return
	}
	s.sweep = now
	for key, b := range s.buckets {
		if now.Sub(b.seen) > full {
			delete(s.buckets, key)
		}
	}
}

// Limiter adapts Keyed to the hub's Limiter: Allow(key) bool.
type Limiter struct{ *Keyed }

// Allow reports whether key may make one more request now.
func (l Limiter) Allow(key string) bool {
	ok, _ := l.Keyed.Allow(key)
	return ok
}

// Blocked reports whether key has no token left, without spending one.
func (k *Keyed) Blocked(key string) bool {
	if k.Off() {
		return false
	}
	now := k.now()
	s := &k.shards[maphash.String(k.seed, key)%uint64(len(k.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[key]
	return b != nil && b.lim.TokensAt(now) < 1
}

// Failures adapts Keyed to counting failures: each Fail spends a token,
// and a key is Blocked while it has none.
type Failures struct{ *Keyed }

// Fail spends a token of key.
func (f Failures) Fail(key string) { f.Keyed.Allow(key) }
