package bench

import (
	"context"
	"fmt"
	"math"
	"time"
)

// load is a steady message load over connected sessions: pick returns the
// sender of the k-th message, its target and how many deliveries it
// should make.
type load struct {
	pick func(k int64) (s *Session, target string, group bool, expect int)
}

// runLoad sends at rate messages/s for d as one phase, then waits for the
// stragglers (so every message is counted in the phase that sent it).
func (r *Run) runLoad(ctx context.Context, name string, rate float64, d time.Duration, params map[string]any, ld load) PhaseReport {
	r.BeginPhase(name, d.Seconds(), params)
	r.sendAt(ctx, rate, d, ld)
	r.Drain(ctx)
	return r.EndPhase()
}

// sendAt sends the load at rate messages/s for d from two pacing
// goroutines. A sender with Window sends unanswered is skipped (counted
// as error window_full) rather than queued.
func (r *Run) sendAt(ctx context.Context, rate float64, d time.Duration, ld load) {
	const workers = 2
	done := make(chan struct{}, workers)
	for w := int64(0); w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			pace(ctx, rate/workers, d, func(k int64) {
				s, target, group, expect := ld.pick(k*workers + w)
				if s == nil {
					return
				}
				if s.Inflight() >= int64(r.Cfg.Window) {
					r.C.Error("window_full")
					return
				}
				s.Send(target, group, expect, nil)
			})
		}()
	}
	for i := 0; i < workers; i++ {
		<-done
	}
}

// steady runs the load at the configured rate (after an optional warmup at
// the same rate), or searches for the highest rate whose p99 delivery
// latency stays under the bound when RateMax is set.
func (r *Run) steady(ctx context.Context, ld load, params map[string]any, expect int) error {
	cfg := r.Cfg
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range params {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	if !cfg.RateMax {
		if cfg.Warmup > 0 {
			r.runLoad(ctx, "warmup", cfg.Rate, cfg.Warmup, with(map[string]any{"rate": cfg.Rate}), ld)
		}
		pr := r.runLoad(ctx, "steady", cfg.Rate, cfg.Duration, with(map[string]any{"rate": cfg.Rate}), ld)
		r.say("\nsteady: %.0f sent/s, %.0f delivered/s, delivery p99 %.2f ms, lost %d", pr.Throughput.SentPerSec, pr.Throughput.DeliveredPerSec, pr.Latency[MDelivery].P99Ms, pr.Counts.Lost)
		return ctx.Err()
	}
	bound := float64(cfg.P99Bound) / float64(time.Millisecond)
	rate := cfg.Rate
	if rate <= 0 {
		rate = 1000
	}
	lo, hi := 0.0, math.Inf(1)
	var steps []string
	for step := 1; step <= cfg.Steps && ctx.Err() == nil; step++ {
		name := fmt.Sprintf("step%02d_%.0f", step, rate)
		pr := r.runLoad(ctx, name, rate, cfg.Duration, with(map[string]any{"rate": rate, "p99BoundMs": bound}), ld)
		p99 := pr.Latency[MDelivery].P99Ms
		c := pr.Counts
		keptUp := pr.Throughput.SentPerSec >= 0.95*rate
		ok := keptUp && p99 > 0 && p99 <= bound && c.Lost == 0 && c.Unanswered == 0 && c.Rejected == 0 &&
			c.Delivered >= c.Acked*int64(expect)
		verdict := "pass"
		if !ok {
			verdict = "fail"
			if !keptUp {
				verdict = "fail (sent only " + fmt.Sprintf("%.0f/s", pr.Throughput.SentPerSec) + ")"
			}
		}
		steps = append(steps, fmt.Sprintf("%.0f/s: p99 %.2f ms, %.0f delivered/s, lost %d: %s", rate, p99, pr.Throughput.DeliveredPerSec, c.Lost, verdict))
		r.SetResult("verdict", verdict)
		r.say("\n%s: %s", name, steps[len(steps)-1])
		if ok {
			lo = rate
		} else {
			hi = rate
		}
		if !math.IsInf(hi, 1) && hi-lo <= math.Max(0.05*hi, 50) {
			break
		}
		if math.IsInf(hi, 1) {
			rate *= 2
		} else {
			rate = math.Round((lo + hi) / 2)
		}
		sleepCtx(ctx, 2*time.Second) // let queues settle between steps
	}
	r.SetResult("maxRate", lo)
	r.SetResult("steps", steps)
	r.Note("highest rate with delivery p99 <= %.0f ms and nothing lost: %.0f msgs/s (%.0f deliveries/s)", bound, lo, lo*float64(expect))
	return ctx.Err()
}

// RunOneToOne connects Users users in pairs (0-1, 2-3, ...) and sends
// one-to-one messages between them at Rate messages/s in total, each user
// in turn.
func RunOneToOne(ctx context.Context, r *Run) error {
	cfg := r.Cfg
	if cfg.Users < 2 {
		return fmt.Errorf("one-to-one needs at least 2 users")
	}
	accts, err := r.ensureAccounts(ctx, Names(cfg.Prefix, "p", cfg.Users), cfg.Duration*time.Duration(cfg.Steps+1)+cfg.Warmup)
	if err != nil {
		return err
	}
	if err := r.Open(SourcesFor(cfg.Users)); err != nil {
		return err
	}
	sessions, failed := r.connectPhase(ctx, accts)
	defer closeAll(sessions)
	if failed > 0 {
		r.Note("%d of %d connections failed at setup; their pairs are skipped", failed, len(sessions))
	}
	n := int64(len(sessions))
	ld := load{pick: func(k int64) (*Session, string, bool, int) {
		i := k % n
		j := pairOf(i, n)
		if sessions[i] == nil || sessions[j] == nil {
			return nil, "", false, 0
		}
		return sessions[i], accts[j].Username, false, 1
	}}
	return r.steady(ctx, ld, map[string]any{"users": cfg.Users}, 1)
}

// pairOf is i's partner among n users: 0-1, 2-3, ...; with n odd the last
// one writes to user 0.
func pairOf(i, n int64) int64 {
	if j := i ^ 1; j < n {
		return j
	}
	return 0
}
