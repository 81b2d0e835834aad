package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LadderPhase is one step of the ladder, Parley's reference load profile:
// virtual users arrive at a rate ramping from From to To per second over
// Secs seconds.
type LadderPhase struct {
	Name     string
	From, To float64
	Secs     float64
}

// LadderPhases are the ladder's nine phases (arrival rate from, to, and
// duration; benchmark/artillery/ladder.yml holds the same for Artillery).
var LadderPhases = []LadderPhase{
	{"01_baseline", 2, 5, 20},
	{"02_light", 5, 10, 30},
	{"03_medium", 10, 25, 60},
	{"04_heavy", 20, 50, 90},
	{"05_stress", 40, 100, 120},
	{"06_peak", 80, 200, 150},
	{"07_extreme", 120, 400, 180},
	{"08_overload", 180, 600, 210},
	{"09_breaking", 250, 800, 240},
}

// SelectPhases picks ladder phases by number ("3"), name ("03_medium"),
// range ("2-4") or open range ("5-"); empty selects all.
func SelectPhases(sel []string) ([]LadderPhase, error) {
	if len(sel) == 0 {
		return LadderPhases, nil
	}
	pick := make([]bool, len(LadderPhases))
	index := func(s string) (int, error) {
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(LadderPhases) {
			return n - 1, nil
		}
		for i, p := range LadderPhases {
			if p.Name == s || strings.HasPrefix(p.Name, s+"_") || p.Name[3:] == s {
				return i, nil
			}
		}
		return 0, fmt.Errorf("no ladder phase %q (1-%d or a name like 05_stress)", s, len(LadderPhases))
	}
	for _, item := range sel {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			a, b, isRange := strings.Cut(s, "-")
			if !isRange {
				i, err := index(s)
				if err != nil {
					return nil, err
				}
				pick[i] = true
				continue
			}
			lo, err := index(a)
			if err != nil {
				return nil, err
			}
			hi := len(LadderPhases) - 1
			if b != "" {
				if hi, err = index(b); err != nil {
					return nil, err
				}
			}
			for i := lo; i <= hi; i++ {
				pick[i] = true
			}
		}
	}
	var out []LadderPhase
	for i, ok := range pick {
		if ok {
			out = append(out, LadderPhases[i])
		}
	}
	return out, nil
}

// RunLadder runs the ladder: each virtual user takes an account of the
// pool, connects, sends Messages one-to-one messages to a friend (one of
// Friends receivers kept connected, who ACK), waits until all are
// delivered, and disconnects.
func RunLadder(ctx context.Context, r *Run) error {
	cfg := r.Cfg
	phases, err := SelectPhases(cfg.Phases)
	if err != nil {
		return err
	}
	var planned time.Duration
	for _, p := range phases {
		planned += time.Duration(p.Secs*cfg.Scale*float64(time.Second)) + cfg.Pause
	}
	pool, err := r.ensureAccounts(ctx, Names(cfg.Prefix, "u", cfg.Pool), planned)
	if err != nil {
		return err
	}
	friendAccts, err := r.ensureAccounts(ctx, Names(cfg.Prefix, "f", cfg.Friends), planned)
	if err != nil {
		return err
	}
	if err := r.Open(SourcesFor(cfg.Friends + cfg.Pool)); err != nil {
		return err
	}
	friends, failed := r.connectAll(ctx, friendAccts)
	if failed > 0 {
		return fmt.Errorf("%d of %d friend connections failed", failed, len(friends))
	}
	defer closeAll(friends)

	var active, vuSeq atomic.Int64
	r.SetProgress(func() string {
		c := &r.C
		return fmt.Sprintf("users active %d ok %d fail %d", active.Load(), c.UsersOK.Load(), c.UsersFailed.Load())
	})
	for i, ph := range phases {
		if ctx.Err() != nil {
			break
		}
		if i > 0 && cfg.Pause > 0 {
			sleepCtx(ctx, cfg.Pause)
		}
		from, to := ph.From*cfg.RateScale, ph.To*cfg.RateScale
		dur := time.Duration(ph.Secs * cfg.Scale * float64(time.Second))
		r.BeginPhase(ph.Name, dur.Seconds(), map[string]any{"arrivalRate": from, "rampTo": to, "durationSec": dur.Seconds(), "messagesPerUser": cfg.Messages})
		var wg sync.WaitGroup
		arrive(ctx, from, to, dur, func() {
			n := vuSeq.Add(1) - 1
			acct := pool[n%int64(len(pool))]
			friend := friendAccts[n%int64(len(friendAccts))].Username
			wg.Add(1)
			active.Add(1)
			go func() {
				defer wg.Done()
				defer active.Add(-1)
				r.virtualUser(ctx, acct, friend)
			}()
		})
		wg.Wait()
		pr := r.EndPhase()
		r.say("\n%s: %d/%d users ok, %d lost, %d duplicated, delivery p99 %.2f ms", ph.Name, pr.Counts.UsersOK, pr.Counts.UsersStarted, pr.Counts.Lost, pr.Counts.Duplicated, pr.Latency[MDelivery].P99Ms)
	}
	return ctx.Err()
}

// arrive calls start at a rate ramping linearly from `from` to `to` per
// second over d: by time t, from*t + (to-from)*t²/(2d) arrivals.
func arrive(ctx context.Context, from, to float64, d time.Duration, start func()) {
	secs := d.Seconds()
	t0 := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var n int64
	for {
		t := time.Since(t0).Seconds()
		if t > secs {
			t = secs
		}
		due := int64(from*t + (to-from)*t*t/(2*secs))
		for ; n < due; n++ {
			start()
		}
		if t >= secs {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// virtualUser is one arrival of the ladder.
func (r *Run) virtualUser(ctx context.Context, acct *Account, friend string) {
	r.C.UsersStarted.Add(1)
	s, err := r.Connect(ctx, acct)
	if err != nil {
		r.C.UsersFailed.Add(1)
		return
	}
	defer s.Disconnect(2 * time.Second)
	n := r.Cfg.Messages
	w := newWaiter(2 * n) // n SUCCESS + n deliveries
	for i := 0; i < n; i++ {
		if err := s.Send(friend, false, 1, w); err != nil {
			w.event(2*(n-i-1), true) // message i was settled by the tracker
			break
		}
	}
	limit := time.NewTimer(r.Cfg.ReplyTimeout + r.Cfg.DeliveryTimeout + 2*time.Second)
	defer limit.Stop()
	select {
	case <-w.done:
	case <-limit.C:
		r.C.Error("user:timeout")
		r.C.UsersFailed.Add(1)
		return
	case <-ctx.Done():
		r.C.UsersFailed.Add(1)
		return
	}
	if w.failed.Load() > 0 {
		r.C.Error("user:messages")
		r.C.UsersFailed.Add(1)
		return
	}
	r.C.UsersOK.Add(1)
}
