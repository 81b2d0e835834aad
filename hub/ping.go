package hub

import (
	"time"

	"github.com/parley-chat/parley/protocol"
)

// pingLoop pings every connection each PingInterval and drops those that
// did not answer the previous ping. Connections are visited a shard at a
// time, spread over the interval, so that a large node pings smoothly.
func (h *Hub) pingLoop() {
	defer h.wg.Done()
	step := h.cfg.PingInterval / time.Duration(len(h.shards))
	if step <= 0 {
		step = time.Millisecond
	}
	t := time.NewTicker(step)
	defer t.Stop()
	i := 0
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		for _, c := range h.shardConns(i) {
			if !c.alive.Swap(false) {
				h.log.Info("connection missed a pong", "conn", c.id, "user", c.user)
				c.Close(1001, "no pong")
				continue
			}
			if err := c.sock.Ping(); err == ErrSlow {
				c.TooSlow()
			} else if err != nil {
				c.Close(protocol.CloseInternal, "ping failed")
			}
		}
		i = (i + 1) % len(h.shards)
	}
}

func (h *Hub) shardConns(i int) []*Conn {
	s := &h.shards[i]
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Conn
	for _, list := range s.users {
		out = append(out, list...)
	}
	return out
}
