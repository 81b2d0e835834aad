package redis

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley"
	"github.com/redis/go-redis/v9"
)

// control is a message on the control channel.
type control struct {
	// Resync, from node N, says that N dropped events: every other node
	// calls OnReconnect.
	Resync *int64 `json:"resync,omitempty"`
}

// item is one event waiting to be published.
type item struct {
	users   []string
	payload []byte
}

// bus publishes events on one goroutine, in order, pipelining the PUBLISH
// commands of everything waiting.
type bus struct {
	c       *Client
	queue   chan item
	pending atomic.Int64 // items queued or being sent
	closed  atomic.Bool

	needResync atomic.Bool
	lastResync atomic.Int64 // unix nanos

	lastDropLog atomic.Int64
	dropsLogged atomic.Uint64
}

// maxPipeline bounds the PUBLISH commands sent in one round trip.
const maxPipeline = 1024

func (b *bus) init(c *Client) {
	b.c = c
	b.queue = make(chan item, c.cfg.QueueSize)
}

// Publish queues ev for the other nodes and returns at once: it never
// waits for Redis. When the queue is full or Redis is down the event is
// dropped, counted in Stats and logged (at most once a second), and nil is
// returned: messages are stored before they are published, and the
// receivers get what they missed from the store (on OnReconnect, which a
// dropping node triggers on the others once it can publish again, or when
// their clients reconnect). It returns an error only after Close. ctx is
// not used.
func (c *Client) Publish(_ context.Context, ev *parley.Event) error {
	b := &c.bus
	if b.closed.Load() {
		return ErrClosed
	}
	if len(ev.Users) == 0 {
		return nil
	}
	if c.Down() {
		b.drop(1, "redis down")
		return nil
	}
	payload := appendEvent(make([]byte, 0, 128+len(ev.Frame)), ev, c.id, time.Now().UnixNano())
	b.pending.Add(1)
	select {
	case b.queue <- item{users: slices.Clone(ev.Users), payload: payload}:
	default:
		b.pending.Add(-1)
		b.drop(1, "queue full")
	}
	return nil
}

// drop counts dropped events, logs now and then, and asks for a resync.
func (b *bus) drop(events int, why string) {
	c := b.c
	c.st.dropped.Add(uint64(events))
	if c.cfg.BusError != nil {
		c.cfg.BusError("drop")
	}
	b.needResync.Store(true)
	now := time.Now().UnixNano()
	last := b.lastDropLog.Load()
	if now-last >= int64(time.Second) && b.lastDropLog.CompareAndSwap(last, now) {
		total := c.st.dropped.Load()
		c.log.Warn("bus events dropped; receivers will get them from the store",
			"why", why, "dropped", total-b.dropsLogged.Swap(total), "droppedTotal", total)
	}
}

// run is the publisher goroutine.
func (b *bus) run() {
	c := b.c
	defer c.busWG.Done()
	pipe := c.rdb.Pipeline()
	batch := make([]item, 0, 64)
	for {
		select {
		case it := <-b.queue:
			batch = append(batch[:0], it)
		case <-c.busCtx.Done():
			return
		}
		n := len(batch[0].users)
	fill:
		for n < maxPipeline {
			select {
			case it := <-b.queue:
				batch = append(batch, it)
				n += len(it.users)
			default:
				break fill
			}
		}
		b.send(pipe, batch, n)
		clear(batch)
		b.pending.Add(-int64(len(batch)))
	}
}

// send publishes a batch in one round trip (a few, for a big one).
func (b *bus) send(pipe redis.Pipeliner, batch []item, n int) {
	c := b.c
	if c.Down() {
		b.drop(len(batch), "redis down")
		return
	}
	ctx, cancel := c.timeout(c.busCtx)
	defer cancel()
	queued := 0
	var err error
	for _, it := range batch {
		for _, u := range it.users {
			pipe.Publish(ctx, c.keys.channel(u), it.payload)
			if queued++; queued%maxPipeline == 0 && err == nil {
				_, err = pipe.Exec(ctx)
			}
		}
	}
	if err == nil {
		_, err = pipe.Exec(ctx)
	} else {
		pipe.Discard()
	}
	if err != nil {
		if c.busCtx.Err() == nil {
			c.noteErr("publish", err)
		}
		b.drop(len(batch), "publish failed")
		return
	}
	c.st.published.Add(uint64(n))
	c.noteOK()
	b.maybeResync(ctx)
}

// maybeResync tells the other nodes, at most once a ping interval, that
// this one dropped events since it last did.
func (b *bus) maybeResync(ctx context.Context) {
	c := b.c
	if !b.needResync.Load() {
		return
	}
	last := b.lastResync.Load()
	now := time.Now().UnixNano()
	if now-last < int64(c.cfg.PingInterval) || !b.lastResync.CompareAndSwap(last, now) {
		return
	}
	b.needResync.Store(false)
	id := c.id
	msg, _ := json.Marshal(control{Resync: &id})
	if err := c.rdb.Publish(ctx, c.keys.control(), msg).Err(); err != nil {
		b.needResync.Store(true)
		c.noteErr("publish", err)
		return
	}
	c.log.Info("told the other nodes to resync after dropped events")
}

// drain stops Publish and waits until what is queued is sent, or ctx
// ends.
func (b *bus) drain(ctx context.Context) {
	b.closed.Store(true)
	for b.pending.Load() > 0 && ctx.Err() == nil && !b.c.Down() {
		time.Sleep(time.Millisecond)
	}
}
