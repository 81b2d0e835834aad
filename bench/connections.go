package bench

import (
	"context"
	"sort"
	"time"
)

// RunConnections opens Conns idle authenticated chat connections (over
// Users accounts, or one account each), holds them for Hold, and reports
// the server's resident memory per connection above its idle baseline
// (and the generator's own).
func RunConnections(ctx context.Context, r *Run) error {
	cfg := r.Cfg
	nAccts := cfg.Conns
	if cfg.Users > 0 && cfg.Users < nAccts {
		nAccts = cfg.Users
	}
	accts, err := r.ensureAccounts(ctx, Names(cfg.Prefix, "c", nAccts), cfg.Hold+5*time.Minute)
	if err != nil {
		return err
	}
	if err := r.Open(SourcesFor(cfg.Conns)); err != nil {
		return err
	}
	if r.server == nil {
		r.Note("the server's memory cannot be measured: give --server-pid (or a server with /metrics)")
	}
	per := make([]*Account, cfg.Conns)
	for i := range per {
		per[i] = accts[i%len(accts)]
	}
	baseSrv, baseGen := r.settledRSS(ctx)

	sessions, failed := r.connectPhase(ctx, per)
	defer closeAll(sessions)
	ok := cfg.Conns - failed

	r.BeginPhase("hold", cfg.Hold.Seconds(), map[string]any{"conns": ok, "holdSec": cfg.Hold.Seconds()})
	sleepCtx(ctx, cfg.Hold)
	srv, gen := r.settledRSS(ctx)
	r.EndPhase()
	dropped := 0
	for _, s := range sessions {
		if s != nil {
			select {
			case <-s.Closed():
				dropped++
			default:
			}
		}
	}
	held := ok - dropped
	r.SetResult("held", held)
	if held > 0 {
		r.SetResult("generatorRssBaselineBytes", baseGen)
		r.SetResult("generatorRssBytes", gen)
		r.SetResult("generatorBytesPerConn", (gen-baseGen)/int64(held))
		if r.server != nil && baseSrv > 0 {
			r.SetResult("serverRssBaselineBytes", baseSrv)
			r.SetResult("serverRssBytes", srv)
			r.SetResult("serverBytesPerConn", (srv-baseSrv)/int64(held))
			r.Note("server RSS %s idle, %s with %d connections: %d bytes per connection", mib(baseSrv), mib(srv), held, (srv-baseSrv)/int64(held))
		}
	}
	return ctx.Err()
}

// settledRSS samples both processes' RSS five times over two seconds and
// returns the medians.
func (r *Run) settledRSS(ctx context.Context) (server, self int64) {
	var a, b []int64
	for i := 0; i < 5 && ctx.Err() == nil; i++ {
		if r.server != nil {
			if s, err := r.server.Sample(); err == nil {
				a = append(a, s.RSSBytes)
			}
		}
		if s, err := r.self.Sample(); err == nil {
			b = append(b, s.RSSBytes)
		}
		sleepCtx(ctx, 400*time.Millisecond)
	}
	return median(a), median(b)
}

func median(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}
