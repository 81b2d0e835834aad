package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// RunGroup connects Groups groups of GroupSize members (distinct users,
// one connection each), creates the groups once (their ids are cached with
// the accounts) and sends GROUP_CHAT at Rate messages/s in total, each
// member in turn; every message fans out to the GroupSize-1 others.
func RunGroup(ctx context.Context, r *Run) error {
	cfg := r.Cfg
	if cfg.GroupSize < 2 || cfg.Groups < 1 {
		return fmt.Errorf("group needs --groups >= 1 and --group-size >= 2")
	}
	n := cfg.Groups * cfg.GroupSize
	role := fmt.Sprintf("m%dx", cfg.GroupSize)
	accts, err := r.ensureAccounts(ctx, Names(cfg.Prefix, role, n), cfg.Duration*time.Duration(cfg.Steps+1)+cfg.Warmup)
	if err != nil {
		return err
	}
	if err := r.Open(SourcesFor(n)); err != nil {
		return err
	}
	sessions, failed := r.connectPhase(ctx, accts)
	defer closeAll(sessions)
	if failed > 0 {
		return fmt.Errorf("%d of %d member connections failed", failed, n)
	}
	groups, err := r.ensureGroups(ctx, fmt.Sprintf("%s:%dx%d", cfg.Prefix, cfg.Groups, cfg.GroupSize), sessions, cfg.Groups, cfg.GroupSize)
	if err != nil {
		return err
	}
	m := int64(cfg.GroupSize)
	total := int64(n)
	ld := load{pick: func(k int64) (*Session, string, bool, int) {
		// Message k: group k%G, member (k/G)%M of it, so consecutive
		// messages spread over groups and every member takes turns.
		g := k % int64(cfg.Groups)
		i := g*m + (k/int64(cfg.Groups))%m
		if i >= total {
			return nil, "", false, 0
		}
		return sessions[i], groups[g], true, cfg.GroupSize - 1
	}}
	return r.steady(ctx, ld, map[string]any{"groups": cfg.Groups, "groupSize": cfg.GroupSize}, cfg.GroupSize-1)
}

// ensureGroups returns the ids of count groups of size members each, the
// first member of each creating it (CREATE_GROUP with the others) unless
// the account cache already knows it.
func (r *Run) ensureGroups(ctx context.Context, key string, sessions []*Session, count, size int) ([]string, error) {
	ids := make([]string, count)
	created := 0
	for g := 0; g < count; g++ {
		k := fmt.Sprintf("%s:%d", key, g)
		if id := r.accounts.Group(k); id != "" {
			ids[g] = id
			continue
		}
		owner := sessions[g*size]
		members := make([]string, 0, size-1)
		for j := 1; j < size; j++ {
			members = append(members, sessions[g*size+j].Acct.Username)
		}
		reqID := r.nextID()
		req, _ := json.Marshal(map[string]any{"type": "CREATE_GROUP", "id": reqID, "name": fmt.Sprintf("bench %s %d", key, g), "members": members})
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		reply, err := owner.Request(rctx, reqID, req)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("creating group %d: %w", g, err)
		}
		var ans struct{ Type, GroupID, Code, Msg string }
		if err := json.Unmarshal(reply, &ans); err != nil || ans.Type != "SUCCESS" || ans.GroupID == "" {
			return nil, fmt.Errorf("creating group %d: %s", g, reply)
		}
		ids[g] = ans.GroupID
		r.accounts.SetGroup(k, ans.GroupID)
		created++
	}
	if created > 0 {
		r.say("created %d groups", created)
		if err := r.accounts.Save(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
