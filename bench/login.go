package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/parley-chat/parley/client"
)

// RunLogin measures POST /auth/login: Concurrency clients log in over and
// over (accounts of a small pool) for Duration. A login is deliberately
// slow password hashing, so the result is bound by the server's bcrypt
// cost (PARLEY_BCRYPT_COST) and its cores.
func RunLogin(ctx context.Context, r *Run) error {
	cfg := r.Cfg
	accts, err := r.ensureAccounts(ctx, Names(cfg.Prefix, "l", max(cfg.Concurrency*4, 16)), time.Minute)
	if err != nil {
		return err
	}
	if err := r.Open(1); err != nil {
		return err
	}
	r.Note("logins/s depends on the server's bcrypt cost (PARLEY_BCRYPT_COST, 10 by default); report it with the numbers")
	api := r.accounts.API
	r.SetProgress(func() string {
		return fmt.Sprintf("logins %d failed %d", r.C.Logins.Load(), r.C.LoginsFailed.Load())
	})
	r.BeginPhase("login", cfg.Duration.Seconds(), map[string]any{"concurrency": cfg.Concurrency})
	lctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; lctx.Err() == nil; i += cfg.Concurrency {
				a := accts[i%len(accts)]
				start := time.Now()
				_, err := api.Login(lctx, a.Username, a.Password)
				switch {
				case err == nil:
					r.Latency(MLogin).Record(time.Since(start))
					r.C.Logins.Add(1)
				case lctx.Err() != nil:
					return
				default:
					r.C.LoginsFailed.Add(1)
					var ae *client.APIError
					if errors.As(err, &ae) {
						r.C.Error("login:" + strconv.Itoa(ae.Status))
					} else {
						r.C.Error("login:transport")
					}
				}
			}
		}()
	}
	wg.Wait()
	pr := r.EndPhase()
	r.say("\nlogin: %.1f logins/s, p99 %.2f ms", pr.Throughput.LoginsPerSec, pr.Latency[MLogin].P99Ms)
	return ctx.Err()
}
