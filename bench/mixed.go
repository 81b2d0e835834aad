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

// RunMixed runs several loads at once for Duration: Users connected users
// exchanging one-to-one messages in pairs (80% of Rate) and group messages
// in groups of GroupSize of them (20%), virtual users arriving at Churn
// per second (connect, send Messages to one of the users, disconnect),
// HistoryRate history requests per second and LoginRate logins per
// second.
func RunMixed(ctx context.Context, r *Run) error {
	cfg := r.Cfg
	u := cfg.Users
	gs := min(cfg.GroupSize, u)
	if u < 2 || gs < 2 {
		return fmt.Errorf("mixed needs at least 2 users and a group size of at least 2")
	}
	ng := u / gs
	accts, err := r.ensureAccounts(ctx, Names(cfg.Prefix, "x", u), cfg.Duration)
	if err != nil {
		return err
	}
	var pool []*Account
	if cfg.Churn > 0 {
		if pool, err = r.ensureAccounts(ctx, Names(cfg.Prefix, "u", cfg.Pool), cfg.Duration); err != nil {
			return err
		}
	}
	if err := r.Open(SourcesFor(u + cfg.Pool)); err != nil {
		return err
	}
	sessions, failed := r.connectPhase(ctx, accts)
	defer closeAll(sessions)
	if failed > 0 {
		return fmt.Errorf("%d of %d connections failed", failed, u)
	}
	groups, err := r.ensureGroups(ctx, fmt.Sprintf("%s:mixed%d:%dx%d", cfg.Prefix, u, ng, gs), sessions, ng, gs)
	if err != nil {
		return err
	}
	n := int64(u)
	direct := load{pick: func(k int64) (*Session, string, bool, int) {
		i := k % n
		return sessions[i], accts[pairOf(i, n)].Username, false, 1
	}}
	group := load{pick: func(k int64) (*Session, string, bool, int) {
		g := k % int64(ng)
		i := g*int64(gs) + (k/int64(ng))%int64(gs)
		return sessions[i], groups[g], true, gs - 1
	}}
	params := map[string]any{"users": u, "rate": cfg.Rate, "groups": ng, "groupSize": gs, "churnPerSec": cfg.Churn, "historyPerSec": cfg.HistoryRate, "loginsPerSec": cfg.LoginRate}
	r.BeginPhase("mixed", cfg.Duration.Seconds(), params)
	var wg sync.WaitGroup
	bg := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	bg(func() { r.sendAt(ctx, cfg.Rate*0.8, cfg.Duration, direct) })
	bg(func() { r.sendAt(ctx, cfg.Rate*0.2, cfg.Duration, group) })
	if cfg.Churn > 0 {
		bg(func() {
			var vus sync.WaitGroup
			var k int64
			arrive(ctx, cfg.Churn, cfg.Churn, cfg.Duration, func() {
				acct, friend := pool[k%int64(len(pool))], accts[k%n].Username
				k++
				vus.Add(1)
				go func() { defer vus.Done(); r.virtualUser(ctx, acct, friend) }()
			})
			vus.Wait()
		})
	}
	if cfg.HistoryRate > 0 {
		bg(func() {
			var reqs sync.WaitGroup
			pace(ctx, cfg.HistoryRate, cfg.Duration, func(k int64) {
				reqs.Add(1)
				go func() { defer reqs.Done(); r.history(ctx, sessions[k%n], accts[pairOf(k%n, n)].Username) }()
			})
			reqs.Wait()
		})
	}
	if cfg.LoginRate > 0 {
		bg(func() {
			var reqs sync.WaitGroup
			pace(ctx, cfg.LoginRate, cfg.Duration, func(k int64) {
				reqs.Add(1)
				go func() { defer reqs.Done(); r.login(ctx, accts[k%n]) }()
			})
			reqs.Wait()
		})
	}
	wg.Wait()
	r.Drain(ctx)
	pr := r.EndPhase()
	r.say("\nmixed: %.0f sent/s, %.0f delivered/s, delivery p99 %.2f ms, lost %d", pr.Throughput.SentPerSec, pr.Throughput.DeliveredPerSec, pr.Latency[MDelivery].P99Ms, pr.Counts.Lost)
	return ctx.Err()
}

// history asks for the newest page of a one-to-one chat and times it.
func (r *Run) history(ctx context.Context, s *Session, with string) {
	id := r.nextID()
	req := []byte(`{"type":"GET_ONE_TO_ONE_HISTORY","id":"` + id + `","to":"` + with + `","limit":50}`)
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, r.Cfg.ReplyTimeout)
	defer cancel()
	reply, err := s.Request(rctx, id, req)
	if err != nil {
		r.C.Error("history:" + errKind(err))
		return
	}
	var f frame
	if parseFrame(reply, &f) != nil || string(f.typ) != "ONE_TO_ONE_CHAT_HISTORY" {
		r.C.Error("history:" + string(f.code))
		return
	}
	r.Latency(MHistory).Record(time.Since(start))
	r.C.Requests.Add(1)
}

// login logs an account in once and times it (not replacing its tokens).
func (r *Run) login(ctx context.Context, a *Account) {
	start := time.Now()
	if _, err := r.accounts.API.Login(ctx, a.Username, a.Password); err != nil {
		r.C.LoginsFailed.Add(1)
		r.C.Error("login:" + errKind(err))
		return
	}
	r.Latency(MLogin).Record(time.Since(start))
	r.C.Logins.Add(1)
}

func errKind(err error) string {
	var ae *client.APIError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ae):
		return strconv.Itoa(ae.Status)
	}
	return "error"
}
