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
	Now         func() time.Time

	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	times       []time.Time // failures within the window, oldest first
	lockedUntil time.Time
}

// NewLockout returns a lockout of maxFailures per 15 minutes, locking out
// for 1 minute, doubling up to an hour.
func NewLockout(maxFailures int) *Lockout {
	return &Lockout{MaxFailures: maxFailures, Window: 15 * time.Minute, Base: time.Minute, Max: time.Hour, Now: time.Now, keys: map[string]*failures{}}
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
