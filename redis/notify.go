package redis

import (
	"context"
	"sync"
	"time"
)

// note is a presence change to announce: OnOnline, or OnOffline(user, at).
type note struct {
	user   string
	online bool
	at     time.Time
	// check asks to look again, just before announcing it offline, that
	// the user has not come back meanwhile (on another node).
	check bool
}

// notifier calls OnOnline and OnOffline on one goroutine, in order, so
// that slow callbacks (the hub stores last-seen times and tells contacts)
// never hold up the heartbeat or the sweeper.
type notifier struct {
	c       *Client
	mu      sync.Mutex
	queue   []note
	wake    chan struct{}
	running int // batches being announced
}

func (n *notifier) init(c *Client) {
	n.c = c
	n.wake = make(chan struct{}, 1)
}

func (n *notifier) add(x note) {
	if n.c.cfg.OnOffline == nil && !x.online || n.c.cfg.OnOnline == nil && x.online {
		return
	}
	n.mu.Lock()
	n.queue = append(n.queue, x)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// notifyBatch bounds how many offline users are checked in one round
// trip.
const notifyBatch = 256

func (n *notifier) run() {
	defer n.c.busWG.Done()
	select {
	case <-n.c.started:
	case <-n.c.busCtx.Done():
		return
	}
	for {
		select {
		case <-n.wake:
		case <-n.c.busCtx.Done():
			return
		}
		n.flush()
	}
}

// flush announces everything queued.
func (n *notifier) flush() {
	for {
		n.mu.Lock()
		batch := n.queue[:min(len(n.queue), notifyBatch)]
		n.queue = n.queue[len(batch):]
		if len(batch) == 0 {
			n.queue = nil
			n.mu.Unlock()
			return
		}
		n.running++
		n.mu.Unlock()
		n.announce(batch)
		n.mu.Lock()
		n.running--
		n.mu.Unlock()
	}
}

func (n *notifier) announce(batch []note) {
	c := n.c
	var check []string
	for _, x := range batch {
		if x.check {
			check = append(check, x.user)
		}
	}
	back := map[string]bool{}
	if len(check) > 0 {
		if on, err := c.Online(context.Background(), check); err == nil {
			for i, u := range check {
				if on[i] {
					back[u] = true
				}
			}
		}
	}
	for _, x := range batch {
		switch {
		case x.online:
			c.cfg.OnOnline(x.user)
		case !back[x.user]:
			c.cfg.OnOffline(x.user, x.at)
		}
	}
}

// drain announces what is queued now, on the caller's goroutine, and
// waits for a batch in progress.
func (n *notifier) drain() {
	n.flush()
	for {
		n.mu.Lock()
		busy := n.running > 0
		n.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
