package redis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// presence is this node's own count of its users' connections: the truth
// that Redis mirrors. A user is dirty when Redis may disagree with it (a
// call failed or was not tried during an outage); while dirty, the user's
// changes are kept here only, and the heartbeat writes the count to Redis
// as a whole (reconcile), announcing through OnOnline/OnOffline the
// changes that nobody heard of.
type presence struct {
	mu    sync.Mutex
	conns map[string]int
	dirty map[string]time.Time // user -> when its count last changed
}

func (p *presence) init() {
	p.conns = make(map[string]int)
	p.dirty = make(map[string]time.Time)
}

// change applies delta to a user's count. It reports the new count and
// whether the user is dirty; markDirty makes it so.
func (p *presence) change(user string, delta int, at time.Time, markDirty bool) (count int, dirty bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := max(p.conns[user]+delta, 0)
	if n == 0 {
		delete(p.conns, user)
	} else {
		p.conns[user] = n
	}
	_, dirty = p.dirty[user]
	if dirty || markDirty {
		p.dirty[user] = at
		dirty = true
	}
	return n, dirty
}

func (p *presence) setDirty(user string, at time.Time) {
	p.mu.Lock()
	p.dirty[user] = at
	p.mu.Unlock()
}

func (p *presence) hasDirty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.dirty) > 0
}

// markAllDirty marks every user that this node counts, or that Redis
// lists for this node, as dirty.
func (p *presence) markAllDirty(ctx context.Context, c *Client) {
	ctx, cancel := c.timeout(ctx)
	listed, err := c.rdb.SMembers(ctx, c.keys.nodeUsers(c.node)).Result()
	cancel()
	if err != nil {
		c.noteErr("presence", err)
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for u := range p.conns {
		p.dirty[u] = now
	}
	for _, u := range listed {
		if _, ok := p.dirty[u]; !ok {
			p.dirty[u] = now
		}
	}
}

// Connect records a new connection of username on this node and reports
// whether the user was offline everywhere before it. While Redis is
// unreachable it returns ErrUnavailable at once; the connection is
// counted here, and OnOnline announces the user once Redis is back.
func (c *Client) Connect(ctx context.Context, username string) (bool, error) {
	return c.changePresence(ctx, username, 1, time.Now())
}

// Disconnect records that a connection of username on this node closed
// at the given time, and reports whether the user is now offline
// everywhere. While Redis is unreachable it returns ErrUnavailable at
// once; OnOffline announces the user once Redis is back.
func (c *Client) Disconnect(ctx context.Context, username string, at time.Time) (bool, error) {
	return c.changePresence(ctx, username, -1, at)
}

func (c *Client) changePresence(ctx context.Context, user string, delta int, at time.Time) (bool, error) {
	if c.closing.Load() {
		return false, ErrClosed // Close takes the node's users offline
	}
	count, dirty := c.presence.change(user, delta, at, c.Down())
	if dirty {
		return false, ErrUnavailable
	}
	ctx, cancel := c.timeout(ctx)
	defer cancel()
	res, err := changeScript.Run(ctx, c.rdb, []string{c.keys.presence(user), c.keys.nodeUsers(c.node)},
		c.node, user, delta).Int64Slice()
	if err != nil {
		// It may or may not have been applied: let the heartbeat set the
		// count outright.
		c.presence.setDirty(user, at)
		c.noteErr("presence", err)
		return false, fmt.Errorf("redis: presence of %s: %w", user, ErrUnavailable)
	}
	total := res[1]
	if delta > 0 {
		return total == 1, nil
	}
	return total == 0 && count == 0, nil
}

// Online reports, for each name, whether that user has a connection on
// any node, in one round trip.
func (c *Client) Online(ctx context.Context, usernames []string) ([]bool, error) {
	out := make([]bool, len(usernames))
	if len(usernames) == 0 {
		return out, nil
	}
	if c.closing.Load() {
		return nil, ErrClosed
	}
	if c.Down() {
		return nil, ErrUnavailable
	}
	ctx, cancel := c.timeout(ctx)
	defer cancel()
	cmds := make([]*redis.IntCmd, len(usernames))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, u := range usernames {
			cmds[i] = p.Exists(ctx, c.keys.presence(u))
		}
		return nil
	})
	if err != nil {
		c.noteErr("presence", err)
		return nil, fmt.Errorf("redis: presence lookup: %w", err)
	}
	for i, cmd := range cmds {
		out[i] = cmd.Val() > 0
	}
	return out, nil
}

// reconcileBatch bounds the users written in one pipeline.
const reconcileBatch = 500

// reconcile writes the counts of the dirty users to Redis, and announces
// those who turned out to go online or offline meanwhile.
func (c *Client) reconcile(ctx context.Context) {
	type item struct {
		user  string
		count int
		at    time.Time
	}
	p := &c.presence
	p.mu.Lock()
	items := make([]item, 0, len(p.dirty))
	for u, at := range p.dirty {
		items = append(items, item{u, p.conns[u], at})
	}
	p.mu.Unlock()

	fixed := 0
	for len(items) > 0 {
		batch := items[:min(len(items), reconcileBatch)]
		items = items[len(batch):]
		cmds := make([]*redis.Cmd, len(batch))
		err := c.pipelineScripts(ctx, func(pipe redis.Pipeliner) {
			for i, it := range batch {
				cmds[i] = setScript.EvalSha(ctx, pipe, []string{c.keys.presence(it.user), c.keys.nodeUsers(c.node)}, c.node, it.user, it.count)
			}
		})
		if err != nil {
			c.noteErr("presence", err)
			return
		}
		p.mu.Lock()
		for i, it := range batch {
			// A change that came meanwhile keeps the user dirty, for the
			// next round.
			if p.conns[it.user] == it.count && p.dirty[it.user].Equal(it.at) {
				delete(p.dirty, it.user)
			}
			res, _ := cmds[i].Int64Slice()
			if len(res) != 2 {
				continue
			}
			switch before, after := res[0], res[1]; {
			case before == 0 && after > 0:
				c.notes.add(note{user: it.user, online: true})
			case before > 0 && after == 0:
				c.notes.add(note{user: it.user, at: it.at})
			}
		}
		p.mu.Unlock()
		fixed += len(batch)
	}
	c.log.Info("presence written to redis again", "users", fixed)
}

// pipelineScripts runs a pipeline of EVALSHA calls, loading the scripts
// and running it again if Redis has lost them (it restarted).
func (c *Client) pipelineScripts(ctx context.Context, fill func(redis.Pipeliner)) error {
	for attempt := 0; ; attempt++ {
		tctx, cancel := c.timeout(ctx)
		_, err := c.rdb.Pipelined(tctx, func(pipe redis.Pipeliner) error { fill(pipe); return nil })
		cancel()
		if err == nil || attempt > 0 || !redis.HasErrorPrefix(err, "NOSCRIPT") {
			return err
		}
		if err := c.loadScripts(ctx); err != nil {
			return err
		}
	}
}

func (c *Client) loadScripts(ctx context.Context) error {
	ctx, cancel := c.timeout(ctx)
	defer cancel()
	for _, s := range allScripts {
		if err := s.Load(ctx, c.rdb).Err(); err != nil {
			return err
		}
	}
	return nil
}
