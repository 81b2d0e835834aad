package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios by name, as the command line names them.
var Scenarios = map[string]func(context.Context, *Run) error{
	"ladder":      RunLadder,
	"login":       RunLogin,
	"one-to-one":  RunOneToOne,
	"group":       RunGroup,
	"connections": RunConnections,
	"mixed":       RunMixed,
}

// say prints a setup message on stderr unless the run is quiet.
func (r *Run) say(format string, args ...any) {
	if !r.Cfg.Quiet {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

// ensureAccounts registers, logs in or refreshes the named accounts so that
// their tokens outlive the run.
func (r *Run) ensureAccounts(ctx context.Context, names []string, runFor time.Duration) ([]*Account, error) {
	start := time.Now()
	last := time.Now()
	accts, err := r.accounts.Ensure(ctx, names, runFor+5*time.Minute, r.Cfg.SetupWorkers, func(done, total int) {
		if !r.Cfg.Quiet && time.Since(last) > 2*time.Second {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "accounts: %d/%d ready\n", done, total)
		}
	})
	if err != nil {
		return nil, err
	}
	r.say("accounts: %d ready in %v (cache %s)", len(accts), time.Since(start).Round(time.Millisecond), r.Cfg.AccountsFile)
	return accts, nil
}

// connectAll opens one session per account, DialWorkers at a time. Slots
// of failed connections are nil.
func (r *Run) connectAll(ctx context.Context, accts []*Account) ([]*Session, int) {
	sessions := make([]*Session, len(accts))
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < r.Cfg.DialWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(accts) || ctx.Err() != nil {
					return
				}
				s, err := r.Connect(ctx, accts[i])
				if err != nil {
					failed.Add(1)
					continue
				}
				sessions[i] = s
			}
		}()
	}
	wg.Wait()
	return sessions, int(failed.Load())
}

// connectPhase opens the sessions of accts as a phase named "connect",
// so that handshake latencies and failures are reported.
func (r *Run) connectPhase(ctx context.Context, accts []*Account) ([]*Session, int) {
	r.BeginPhase("connect", 0, map[string]any{"conns": len(accts)})
	start := time.Now()
	sessions, failed := r.connectAll(ctx, accts)
	took := time.Since(start)
	r.EndPhase()
	r.SetResult("connectPerSec", round3(float64(len(accts)-failed)/took.Seconds()))
	r.say("connected %d in %v (%d failed)", len(accts)-failed, took.Round(time.Millisecond), failed)
	return sessions, failed
}

// closeAll closes every session and waits (briefly) for them to end.
func closeAll(sessions []*Session) {
	for _, s := range sessions {
		if s != nil {
			s.Close()
		}
	}
	deadline := time.After(5 * time.Second)
	for _, s := range sessions {
		if s == nil {
			continue
		}
		select {
		case <-s.Closed():
		case <-deadline:
			return
		}
	}
}

// pace calls fn(k) for k = 0, 1, 2, ... at rate calls per second for d
// (or until ctx ends), from one goroutine, catching up in bursts when it
// falls behind. It returns how many calls it made.
func pace(ctx context.Context, rate float64, d time.Duration, fn func(k int64)) int64 {
	if rate <= 0 {
		return 0
	}
	start := time.Now()
	var n int64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		el := time.Since(start)
		if el >= d {
			break
		}
		due := int64(el.Seconds() * rate)
		for ; n < due && ctx.Err() == nil; n++ {
			fn(n)
		}
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
	return n
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
