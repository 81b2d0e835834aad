package redis

import (
	"context"
	"strconv"
	"time"
)

// sweepChunk bounds the users one sweep script takes offline, so that a
// big node's sweep never blocks Redis for long.
const sweepChunk = 1000

// sweepInterval is how often each node looks for dead nodes: a sixteenth of
// the ping interval, so that a dead node's lease (1.5 intervals after its
// last heartbeat) is found well within two.
func sweepInterval(ping time.Duration) time.Duration {
	return max(ping/16, 10*time.Millisecond)
}

// tombstone is how long a swept node's id stays out of reach of nodes
// deriving theirs, in case the swept node was only stalled and comes
// back for it.
func (c *Client) tombstone() time.Duration { return 20 * c.cfg.PingInterval }

// sweepGrace is how long a node waits after Redis came back before it
// sweeps: after an outage longer than a lease every lease has expired,
// and the other nodes need up to a heartbeat interval to take theirs
// again; sweeping them meanwhile would take their users offline and
// back.
func (c *Client) sweepGrace() time.Duration {
	return c.cfg.PingInterval/2 + probeInterval(c.cfg.PingInterval) + c.cfg.Timeout
}

// sweepLoop looks for dead nodes every sweepInterval, on every node; a
// short lock lets one node at a time do it.
func (c *Client) sweepLoop() {
	defer c.maintWG.Done()
	t := time.NewTicker(sweepInterval(c.cfg.PingInterval))
	defer t.Stop()
	for {
		select {
		case <-c.maintCtx.Done():
			return
		case <-t.C:
		}
		if c.Down() || time.Since(time.Unix(0, c.upSince.Load())) < c.sweepGrace() {
			continue
		}
		if err := c.sweep(c.maintCtx); err != nil && c.maintCtx.Err() == nil {
			c.noteErr("sweep", err)
		}
	}
}

// sweep takes the lock (for a quarter ping interval: a node that dies
// holding it delays the next sweep by no more) and removes the presence
// of every node whose lease has expired. The users who thereby went
// offline everywhere are announced through OnOffline, with the time their
// node was last seen.
func (c *Client) sweep(ctx context.Context) error {
	lock := c.keys.sweepLock()
	tctx, cancel := c.timeout(ctx)
	ok, err := c.rdb.SetNX(tctx, lock, c.token, max(c.cfg.PingInterval/4, 50*time.Millisecond)).Result()
	cancel()
	if err != nil || !ok {
		return err
	}
	defer func() {
		tctx, cancel := c.timeout(context.WithoutCancel(ctx))
		unlockScript.Run(tctx, c.rdb, []string{lock}, c.token)
		cancel()
	}()
	tctx, cancel = c.timeout(ctx)
	dead, err := deadScript.Run(tctx, c.rdb, []string{c.keys.nodes()}, c.keys.p).StringSlice()
	cancel()
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(dead); i += 2 {
		node := dead[i]
		if node == c.node {
			// Alive, as this shows: the heartbeat takes the lease back.
			continue
		}
		ms, _ := strconv.ParseFloat(dead[i+1], 64)
		seen := time.UnixMilli(int64(ms))
		gone, err := c.sweepNode(ctx, node, false, c.tombstone())
		for _, u := range gone {
			c.notes.add(note{user: u, at: seen, check: true})
		}
		c.st.swept.Add(uint64(len(gone)))
		if err != nil {
			return err
		}
		c.log.Info("swept a dead node", "dead", node, "lastSeen", seen, "offline", len(gone))
	}
	return nil
}

// sweepNode removes a node's users from presence, a chunk at a time, and
// returns those who went offline everywhere. own is set when the node is
// this one (Close) or an earlier run of it; otherwise it stops as soon as
// the node's lease exists again.
func (c *Client) sweepNode(ctx context.Context, node string, own bool, tomb time.Duration) ([]string, error) {
	keys := []string{c.keys.lease(node), c.keys.nodeUsers(node), c.keys.nodes()}
	ownArg := "0"
	if own {
		ownArg = "1"
	}
	var gone []string
	for {
		tctx, cancel := c.timeout(ctx)
		res, err := sweepScript.Run(tctx, c.rdb, keys, node, c.keys.p, sweepChunk, tomb.Milliseconds(), ownArg).Slice()
		cancel()
		if err != nil {
			return gone, err
		}
		state, _ := res[0].(int64)
		for _, u := range res[1:] {
			if s, ok := u.(string); ok {
				gone = append(gone, s)
			}
		}
		if state != 0 {
			return gone, nil
		}
	}
}
