package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley"
	"github.com/redis/go-redis/v9"
)

// subscriber owns the subscription connection (one go-redis PubSub for
// all of the node's users):
//
//   - Subscribe and Unsubscribe record the wanted state and wake the
//     writer, which sends the changes in batches (one SUBSCRIBE of many
//     channels when thousands of users arrive at once); only the latest
//     wanted state of a user is sent, so a user's changes take effect in
//     the order they were made.
//   - The reader receives messages, subscription confirmations (which
//     release Subscribe calls) and pongs.
//   - The pinger pings every healthEvery with the connection's generation
//     as payload. go-redis reconnects and resubscribes by itself; each new
//     connection bumps the generation (OnConnect), and the first pong that
//     carries the new generation proves that the resubscription is in
//     effect: then OnReconnect fires. A connection silent for longer than
//     stall (a half-open TCP connection) is replaced.
type subscriber struct {
	c *Client

	mu      sync.Mutex
	want    map[string]bool            // users subscribed
	pending map[string]bool            // user -> subscribe (true) or not, not yet sent
	waiters map[string][]chan struct{} // channel -> Subscribe calls awaiting confirmation

	writeKick chan struct{}
	pingKick  chan struct{}
	readKick  chan struct{} // wakes the reader from its backoff: a new connection

	psMu sync.Mutex // guards ps; held while writing subscriptions
	ps   *redis.PubSub

	gen       atomic.Int64 // connections the subscription client opened
	up        atomic.Bool  // the connection answered a ping of its generation
	announced int64        // reader only: the generation last seen answering

	// reader only: the last payload decoded, since a group's event comes
	// once per member.
	lastPayload string
	lastNode    int64
	lastSent    int64
	lastEvent   parley.Event
}

func (s *subscriber) init(c *Client) {
	s.c = c
	s.want = make(map[string]bool)
	s.pending = make(map[string]bool)
	s.waiters = make(map[string][]chan struct{})
	s.writeKick = make(chan struct{}, 1)
	s.pingKick = make(chan struct{}, 1)
	s.readKick = make(chan struct{}, 1)
	ctx, cancel := c.timeout(context.Background())
	defer cancel()
	s.ps = c.psc.Subscribe(ctx)
	if err := s.ps.Subscribe(ctx, c.keys.control()); err != nil {
		c.noteErr("subscribe", err)
	}
}

// connected is the subscription client's OnConnect.
func (s *subscriber) connected() {
	s.gen.Add(1)
	kick(s.pingKick)
	kick(s.readKick)
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// healthEvery is how often the subscription connection is pinged.
func healthEvery(ping time.Duration) time.Duration {
	return min(max(ping/4, 50*time.Millisecond), time.Second)
}

// stall is how long the subscription connection may stay silent, pings
// included, before it is replaced.
func (s *subscriber) stall() time.Duration {
	return 3*healthEvery(s.c.cfg.PingInterval) + s.c.cfg.Timeout
}

// Subscribe makes this node receive username's events. It returns once
// Redis has confirmed the subscription, so that any event published
// afterwards arrives. While Redis is unreachable it returns
// ErrUnavailable at once; the subscription is made when Redis is back,
// and OnReconnect fires then.
func (c *Client) Subscribe(ctx context.Context, username string) error {
	if c.closing.Load() {
		return ErrClosed
	}
	s := &c.subs
	ch := c.keys.channel(username)
	w := make(chan struct{})
	s.mu.Lock()
	s.want[username] = true
	s.pending[username] = true
	s.waiters[ch] = append(s.waiters[ch], w)
	s.mu.Unlock()
	kick(s.writeKick)
	if !c.Down() {
		t := time.NewTimer(c.cfg.Timeout)
		defer t.Stop()
		select {
		case <-w:
			return nil
		case <-t.C:
		case <-ctx.Done():
		case <-c.busCtx.Done():
		}
	}
	s.mu.Lock()
	ws := s.waiters[ch]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(s.waiters, ch)
	} else {
		s.waiters[ch] = ws
	}
	s.mu.Unlock()
	return fmt.Errorf("redis: subscribing %s: %w", username, ErrUnavailable)
}

// Unsubscribe stops this node receiving username's events. It does not
// wait for Redis.
func (c *Client) Unsubscribe(_ context.Context, username string) error {
	s := &c.subs
	s.mu.Lock()
	delete(s.want, username)
	s.pending[username] = false
	s.mu.Unlock()
	kick(s.writeKick)
	return nil
}

// subscribeBatch bounds the channels of one SUBSCRIBE command.
const subscribeBatch = 1000

// runWriter sends the pending subscription changes.
func (s *subscriber) runWriter() {
	c := s.c
	defer c.busWG.Done()
	for {
		select {
		case <-s.writeKick:
		case <-c.busCtx.Done():
			return
		}
		for {
			s.mu.Lock()
			p := s.pending
			if len(p) == 0 {
				s.mu.Unlock()
				break
			}
			s.pending = make(map[string]bool)
			s.mu.Unlock()
			var sub, unsub []string
			for u, on := range p {
				if on {
					sub = append(sub, c.keys.channel(u))
				} else {
					unsub = append(unsub, c.keys.channel(u))
				}
			}
			// go-redis remembers the channels even when the command
			// fails, and subscribes them again when it reconnects.
			s.psMu.Lock()
			ctx, cancel := c.timeout(c.busCtx)
			err := chunked(unsub, func(chs []string) error { return s.ps.Unsubscribe(ctx, chs...) })
			if err2 := chunked(sub, func(chs []string) error { return s.ps.Subscribe(ctx, chs...) }); err == nil {
				err = err2
			}
			cancel()
			s.psMu.Unlock()
			if err != nil && c.busCtx.Err() == nil {
				c.noteErr("subscribe", err)
			}
		}
	}
}

func chunked(chs []string, f func([]string) error) error {
	var first error
	for len(chs) > 0 {
		n := min(len(chs), subscribeBatch)
		if err := f(chs[:n]); err != nil && first == nil {
			first = err
		}
		chs = chs[n:]
	}
	return first
}

func (s *subscriber) current() *redis.PubSub {
	s.psMu.Lock()
	defer s.psMu.Unlock()
	return s.ps
}

// runPinger pings the subscription connection.
func (s *subscriber) runPinger() {
	c := s.c
	defer c.busWG.Done()
	t := time.NewTicker(healthEvery(c.cfg.PingInterval))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.pingKick:
		case <-c.busCtx.Done():
			return
		}
		ps := s.current()
		ctx, cancel := c.timeout(c.busCtx)
		err := ps.Ping(ctx, "g"+strconv.FormatInt(s.gen.Load(), 10))
		cancel()
		if err != nil && c.busCtx.Err() == nil && !errors.Is(err, redis.ErrClosed) {
			s.up.Store(false)
			c.noteErr("receive", err)
		}
	}
}

// runReader receives from the subscription connection.
func (s *subscriber) runReader() {
	c := s.c
	defer c.busWG.Done()
	backoff := time.Duration(0)
	for {
		ps := s.current()
		msg, err := ps.ReceiveTimeout(c.busCtx, s.stall())
		if c.busCtx.Err() != nil {
			return
		}
		if err != nil {
			s.up.Store(false)
			if ps != s.current() {
				continue // replaced
			}
			c.noteErr("receive", err)
			if isTimeout(err) {
				c.log.Warn("subscription connection silent; replacing it", "for", s.stall())
				s.replace()
				continue
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-s.readKick: // the pinger reconnected
			case <-c.busCtx.Done():
				return
			}
			continue
		}
		backoff = 0
		switch m := msg.(type) {
		case *redis.Message:
			s.handle(m)
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				s.confirm(m.Channel)
			}
		case *redis.Pong:
			s.pong(m.Payload)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// replace closes the subscription connection and opens a new one with
// every wanted channel.
func (s *subscriber) replace() {
	c := s.c
	s.mu.Lock()
	chs := make([]string, 0, len(s.want)+1)
	chs = append(chs, c.keys.control())
	for u := range s.want {
		chs = append(chs, c.keys.channel(u))
	}
	s.mu.Unlock()
	s.psMu.Lock()
	defer s.psMu.Unlock()
	old := s.ps
	ctx, cancel := c.timeout(c.busCtx)
	defer cancel()
	s.ps = c.psc.Subscribe(ctx)
	old.Close()
	if err := chunked(chs, func(chs []string) error { return s.ps.Subscribe(ctx, chs...) }); err != nil {
		c.noteErr("subscribe", err)
	}
}

// confirm releases the Subscribe calls waiting for a channel.
func (s *subscriber) confirm(ch string) {
	s.mu.Lock()
	ws := s.waiters[ch]
	delete(s.waiters, ch)
	s.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// pong notes an answer to the pinger; the first of a new generation
// means the connection is back with its subscriptions.
func (s *subscriber) pong(payload string) {
	g, err := strconv.ParseInt(strings.TrimPrefix(payload, "g"), 10, 64)
	if err != nil || g != s.gen.Load() {
		return
	}
	s.up.Store(true)
	if g != s.announced {
		if s.announced != 0 {
			s.c.log.Info("subscription connection is back")
			kick(s.c.reconnect)
		}
		s.announced = g
	}
}

// handle decodes an event and hands it to OnEvent, unless this node
// published it.
func (s *subscriber) handle(m *redis.Message) {
	c := s.c
	if m.Channel == c.keys.control() {
		var ctl control
		if json.Unmarshal([]byte(m.Payload), &ctl) == nil && ctl.Resync != nil && *ctl.Resync != c.id {
			c.log.Info("another node dropped events; resyncing", "from", *ctl.Resync)
			kick(c.reconnect)
		}
		return
	}
	user, ok := strings.CutPrefix(m.Channel, c.keys.p+"u:")
	if !ok {
		return
	}
	if m.Payload != s.lastPayload || s.lastPayload == "" {
		var ev parley.Event
		node, sent, err := decodeEvent([]byte(m.Payload), &ev)
		if err != nil {
			c.noteErr("decode", err)
			return
		}
		s.lastPayload, s.lastNode, s.lastSent, s.lastEvent = m.Payload, node, sent, ev
	}
	if s.lastNode == c.id || c.cfg.OnEvent == nil || !c.isStarted.Load() {
		return
	}
	c.st.received.Add(1)
	if c.cfg.BusLag != nil {
		c.cfg.BusLag(time.Since(time.Unix(0, s.lastSent)))
	}
	ev := s.lastEvent
	ev.Users = []string{user}
	c.cfg.OnEvent(&ev)
}

// close closes the subscription connection.
func (s *subscriber) close() {
	s.psMu.Lock()
	defer s.psMu.Unlock()
	if s.ps != nil {
		s.ps.Close()
	}
}

// reconnectLoop calls OnReconnect, one call at a time; requests that come
// while a call runs make one more call.
func (c *Client) reconnectLoop() {
	defer c.busWG.Done()
	select {
	case <-c.started:
	case <-c.busCtx.Done():
		return
	}
	for {
		select {
		case <-c.reconnect:
		case <-c.busCtx.Done():
			return
		}
		c.st.reconnects.Add(1)
		if c.cfg.OnReconnect != nil {
			c.cfg.OnReconnect()
		}
	}
}
