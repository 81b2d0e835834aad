package redis

import (
	"context"
	"fmt"
	"time"
)

// maxNodes is the number of node ids (snowflake's 10 bits).
const maxNodes = 1024

// ErrNodeIDTaken is returned by Open when the configured node id is held
// by a live node.
var ErrNodeIDTaken = fmt.Errorf("redis: node id is held by a live node")

// claim takes the configured node id, or the first free one. It reports
// whether an earlier holder of that id left users behind, and when it was
// last seen.
func (c *Client) claim(ctx context.Context) (leftover bool, lastSeen time.Time, err error) {
	res, err := claimScript.Run(ctx, c.rdb, []string{c.keys.nodes()},
		c.keys.p, c.token, c.ttl.Milliseconds(), c.cfg.NodeID, maxNodes).Int64Slice()
	if err != nil {
		return false, time.Time{}, fmt.Errorf("redis: claiming a node id: %w", err)
	}
	switch res[0] {
	case -1:
		return false, time.Time{}, fmt.Errorf("%w: node %d (it expires %v after that node stops)", ErrNodeIDTaken, c.cfg.NodeID, c.ttl)
	case -2:
		return false, time.Time{}, fmt.Errorf("redis: no free node id among %d", maxNodes)
	}
	c.id = res[0]
	c.node = itoa(c.id)
	return res[1] > 0, time.UnixMilli(res[2]), nil
}

// heartbeatLoop renews the lease every half ping interval, and brings
// Redis up to date with this node's presence when it has fallen behind.
// While Redis is down it probes it often (through a client of its own, so
// that the failed dials do not trip the main pool's dial breaker, which
// would hold it shut for up to a second after Redis is back), and beats
// as soon as Redis answers.
func (c *Client) heartbeatLoop() {
	defer c.maintWG.Done()
	beat := time.NewTicker(c.cfg.PingInterval / 2)
	defer beat.Stop()
	probe := time.NewTicker(probeInterval(c.cfg.PingInterval))
	defer probe.Stop()
	for {
		select {
		case <-c.maintCtx.Done():
			return
		case <-beat.C:
			if c.Down() {
				continue
			}
		case <-probe.C:
			if c.Down() {
				ctx, cancel := c.timeout(c.maintCtx)
				err := c.probe.Ping(ctx).Err()
				cancel()
				if err != nil {
					continue
				}
				c.noteOK()
			} else if !c.presence.hasDirty() {
				continue
			}
		}
		c.heartbeat()
	}
}

// probeInterval is how often Redis is probed while down.
func probeInterval(ping time.Duration) time.Duration {
	return min(max(ping/8, 20*time.Millisecond), 500*time.Millisecond)
}

// heartbeat renews the lease once and reconciles presence if needed.
func (c *Client) heartbeat() {
	ctx, cancel := c.timeout(c.maintCtx)
	res, err := heartbeatScript.Run(ctx, c.rdb, []string{c.keys.lease(c.node), c.keys.nodes()},
		c.token, c.ttl.Milliseconds(), c.node).Int()
	cancel()
	if err != nil {
		if c.maintCtx.Err() == nil {
			c.noteErr("heartbeat", err)
		}
		return
	}
	c.noteOK()
	switch res {
	case 0:
		if !c.leaseLost.Swap(true) {
			c.st.errors.Add(1)
			if c.cfg.BusError != nil {
				c.cfg.BusError("lease")
			}
			c.log.Error("another node holds this node's id; message ids may collide: restart this node", "id", c.id)
		}
		return
	case 2:
		// The lease had expired: this node may have been swept, or Redis
		// may have lost its data. Write all of its presence again.
		c.log.Warn("node lease had expired; restoring this node's presence")
		c.leaseLost.Store(false)
		c.presence.markAllDirty(c.maintCtx, c)
	default:
		c.leaseLost.Store(false)
	}
	if c.presence.hasDirty() {
		c.reconcile(c.maintCtx)
	}
	ctx, cancel = c.timeout(c.maintCtx)
	c.bus.maybeResync(ctx)
	cancel()
}

// release removes this node's presence and gives its id up.
func (c *Client) release(ctx context.Context) error {
	gone, err := c.sweepNode(ctx, c.node, true, 0)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, u := range gone {
		c.notes.add(note{user: u, at: now})
	}
	return releaseScript.Run(ctx, c.rdb, []string{c.keys.lease(c.node), c.keys.nodes()}, c.token, c.node).Err()
}
