package ratelimit

import (
	"sync"
	"time"
)

// Lockout protects logins from guessing. Failures are counted per key (a
// username, an address) over a window; the key is locked out for Base
// once it reaches MaxFailures, doubling with each further
// failure up to Max. Successful
// logins never count, and a success does not clear the count (so that an
// attacker who knows one password cannot reset the counter of another
// account from the same address). A zero MaxFailures turns it off.
type Lockout struct {
	MaxFailures int
	Window      time.Duration
	Base, Max   time.Duration
	// TrustFor is how long a key passed to Trust stays trusted.
	TrustFor time.Duration
	Now      func() time.Time

	mu      sync.Mutex
	keys    map[string]*failures
	trusted map[string]time.Time // key -> trusted until
}

// maxTrusted bounds the trusted keys kept; past it, expired ones are
// dropped, and if that is not enough, a random half.
const maxTrusted = 200000

type failures struct {
	times       []time.Time // failures within the window, oldest first
	lockedUntil time.Time
}

// NewLockout returns a lockout of maxFailures per 15 minutes, locking out
// for 1 minute, doubling up to an hour.
func NewLockout(maxFailures int) *Lockout {
	return &Lockout{MaxFailures: maxFailures, Window: 15 * time.Minute, Base: time.Minute, Max: time.Hour, TrustFor: 30 * 24 * time.Hour,
		Now: time.Now, keys: map[string]*failures{}, trusted: map[string]time.Time{}}
}

// Locked reports whether any of the keys is locked out, and for how long.
func (l *Lockout) Locked(keys ...string) (bool, time.Duration) {
	if l == nil || l.MaxFailures <= 0 {
		return false, 0
	}
	now := l.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if f := l.keys[k]; f != nil && now.Before(f.lockedUntil) {
			if d := f.lockedUntil.Sub(now); d > wait {
				wait = d
			}
		}
	}
	return wait > 0, wait
}

// Fail records a failed login for each key.
func (l *Lockout) Fail(keys ...string) {
	if l == nil || l.MaxFailures <= 0 {
		return
	}
	now := l.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.keys) > 100000 {
		l.pruneLocked(now)
	}
	for _, k := range keys {
		f := l.keys[k]
		if f == nil {
			f = &failures{}
			l.keys[k] = f
		}
		f.trim(now, l.Window)
		f.times = append(f.times, now)
		if over := len(f.times) - l.MaxFailures; over >= 0 {
			d := l.Base << min(over, 30)
			if d > l.Max || d <= 0 {
				d = l.Max
			}
			f.lockedUntil = now.Add(d)
		}
	}
}

func (f *failures) trim(now time.Time, window time.Duration) {
	i := 0
	for i < len(f.times) && now.Sub(f.times[i]) > window {
		i++
	}
	f.times = f.times[i:]
}

func (l *Lockout) pruneLocked(now time.Time) {
	for k, f := range l.keys {
		f.trim(now, l.Window)
		if len(f.times) == 0 && now.After(f.lockedUntil) {
			delete(l.keys, k)
		}
	}
}

// Trust remembers key (an address that logged in as a user) for TrustFor.
func (l *Lockout) Trust(key string) {
	if l == nil || l.MaxFailures <= 0 {
		return
	}
	now := l.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.trusted == nil {
		l.trusted = make(map[string]time.Time)
	}
	if len(l.trusted) >= maxTrusted {
		l.pruneTrustedLocked(now)
	}
	l.trusted[key] = now.Add(l.TrustFor)
}

// Trusted reports whether key was passed to Trust within TrustFor.
func (l *Lockout) Trusted(key string) bool {
	if l == nil || l.MaxFailures <= 0 {
		return false
	}
	now := l.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.trusted[key]
	return ok && now.Before(until)
}

func (l *Lockout) pruneTrustedLocked(now time.Time) {
	for k, until := range l.trusted {
		if !now.Before(until) {
			delete(l.trusted, k)
		}
	}
	// Still full: forget a random half (map order). A forgotten address
	// is only held to the username's lock-out again.
	for k := range l.trusted {
		if len(l.trusted) < maxTrusted/2 {
			return
		}
		delete(l.trusted, k)
	}
}
