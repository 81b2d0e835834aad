package hub

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// Kind is the endpoint a connection came in on.
type Kind = parley.ConnKind

// Connection kinds.
const (
	Chat     = parley.ConnChat
	Presence = parley.ConnPresence
)

// Identity is who a connection belongs to, taken from its access token.
type Identity struct {
	Username  string
	SessionID string
}

// Conn is one authenticated WebSocket.
type Conn struct {
	hub     *Hub
	sock    Socket
	id      string
	user    string
	session string
	kind    Kind
	opened  time.Time

	// alive is set by a pong and cleared by each ping round.
	alive atomic.Bool

	mu         sync.Mutex // guards the fields below
	inbox      [][]byte   // frames waiting to be processed
	inboxBytes int
	running    bool       // a goroutine is processing inbox
	syncing    bool       // deliveries are held in held
	held       []delivery // deliveries that arrived while syncing
	// covered[conv] is the highest seq the offline pass accounted for;
	// deliveries at or below it are duplicates, until coveredUntil.
	covered      map[string]int64
	coveredUntil time.Time
	// unacked[conv] tracks messages written live and not yet
	// acknowledged, for the ACK lag metric.
	unacked map[string]*sent
	// members[group] is when an ACK's membership check last passed.
	members  map[string]time.Time
	closed   bool
	closeWhy string

	registered bool // set once by Attach, before the transport can Detach
}

// ID identifies the connection within its node.
func (c *Conn) ID() string { return c.id }

// Username is the authenticated user.
func (c *Conn) Username() string { return c.user }

// Attach registers a new authenticated socket and starts its session: a
// chat connection gets INIT_DATA and its offline messages, a presence
// connection its contacts' statuses. The transport must call Detach when
// the socket closes, whatever happens.
func (h *Hub) Attach(sock Socket, who Identity, kind Kind) *Conn {
	c := &Conn{
		hub:     h,
		sock:    sock,
		id:      h.nodeName + "/" + strconv.FormatUint(h.nextID.Add(1), 10),
		user:    who.Username,
		session: who.SessionID,
		kind:    kind,
		opened:  h.now(),
		syncing: true,
		running: true, // the start job below runs first
	}
	c.alive.Store(true)
	h.conns.Add(1)
	if h.closing.Load() {
		// Never registered: Detach only has to count it out.
		c.closed = true
		sock.Close(protocol.CloseGoingAway, "server shutting down")
		return c
	}
	registered := h.register(c, func(first bool) {
		ctx := h.ctx
		if first && h.bus != nil {
			if err := h.bus.Subscribe(ctx, c.user); err != nil {
				h.log.Error("bus subscribe failed", "user", c.user, "err", err)
			}
		}
		h.connected(ctx, c.user)
		h.run(func() {
			c.start()
			c.process()
		})
	})
	if !registered {
		c.closed = true
		sock.Close(protocol.ClosePolicy, "session ended")
		return c
	}
	c.registered = true
	h.metrics.ConnOpened(kind)
	h.log.Info("connection opened", "conn", c.id, "user", c.user, "kind", kind, "remote", sock.RemoteAddr())
	return c
}

// start sends the opening frames, once the user is subscribed and counted
// online.
func (c *Conn) start() {
	h := c.hub
	ctx := h.ctx
	var err error
	if c.kind == Chat {
		err = c.sendInitData(ctx)
	} else {
		var in *parley.Inbox
		if in, err = h.store.Inbox(ctx, c.user); err == nil {
			c.sendContactsPresence(ctx, in)
			c.endSync(nil)
		}
	}
	if err != nil && err != errClosed {
		h.log.Error("connection start failed", "conn", c.id, "user", c.user, "err", err)
		c.Close(protocol.CloseInternal, "internal error")
	}
}

// maxInboundBytes bounds the bytes of the frames a connection may have
// waiting to be processed.
const maxInboundBytes = 1 << 20

// Receive queues a text frame from the client. It never blocks. A frame
// that finds MaxInbound frames (or a mebibyte) already waiting is refused
// with ERROR rate_limited, echoing its id, so that the client can send it
// again later; nothing of it is stored.
func (c *Conn) Receive(frame []byte) {
	data := append([]byte(nil), frame...)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if len(c.inbox) >= c.hub.cfg.MaxInbound || c.inboxBytes+len(data) > maxInboundBytes {
		c.mu.Unlock()
		c.write(protocol.Error(protocol.PeekID(data), errBusy))
		return
	}
	c.inbox = append(c.inbox, data)
	c.inboxBytes += len(data)
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		c.hub.run(c.process)
	}
}

// Pong records that the client answered a ping.
func (c *Conn) Pong() { c.alive.Store(true) }

// process handles queued frames until none are left, then exits.
func (c *Conn) process() {
	for {
		c.mu.Lock()
		frames := c.inbox
		c.inbox, c.inboxBytes = nil, 0
		if len(frames) == 0 || c.closed {
			c.inbox = nil
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.handle(frames)
	}
}

var errBusy = parley.Errorf(parley.ERATELIMITED, "too many frames in flight; wait for replies and send it again")

// write sends a frame to the client; a client too slow to take it is
// disconnected with 1013.
func (c *Conn) write(frame []byte) { c.wrote(c.sock.WriteText(frame)) }

// writeAll sends several frames to the client in one write.
func (c *Conn) writeAll(frames [][]byte) {
	switch len(frames) {
	case 0:
	case 1:
		c.write(frames[0])
	default:
		c.wrote(c.sock.WriteTexts(frames))
	}
}

// wrote handles the outcome of a write.
func (c *Conn) wrote(err error) {
	if err != nil {
		if err == ErrSlow {
			c.TooSlow()
			return
		}
		c.Close(protocol.CloseInternal, "write failed")
	}
}

// writePaced sends a frame of the opening pass (or of a resync) once the
// outbound queue has room for it, so that these frames are paced by what
// the client reads rather than cut by the queue's bound. It returns
// errClosed once the connection is closed, and closes a client that has
// taken nothing for stallTimeout as too slow.
func (c *Conn) writePaced(ctx context.Context, frame []byte) error {
	wctx, cancel := context.WithTimeout(ctx, c.hub.stallTimeout())
	err := c.sock.WaitRoom(wctx, len(frame))
	cancel()
	switch {
	case c.isClosed():
		return errClosed
	case err != nil && ctx.Err() == nil && wctx.Err() != nil:
		c.TooSlow()
		return errClosed
	case err != nil:
		c.Close(protocol.CloseGoingAway, "connection ended")
		return errClosed
	}
	c.write(frame)
	if c.isClosed() {
		return errClosed
	}
	return nil
}

// stallTimeout is how long a paced write waits for a client that takes
// nothing: two ping intervals, by which the ping round drops it anyway.
func (h *Hub) stallTimeout() time.Duration { return 2 * h.cfg.PingInterval }

// errClosed ends an opening pass whose connection closed: nothing more is
// written, logged or counted for it.
var errClosed = errors.New("hub: connection closed")

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// TooSlow closes the connection with 1013 because its outbound queue is
// over its bound; the first call logs and counts it, later ones do
// nothing.
func (c *Conn) TooSlow() {
	if c.closeWith(protocol.CloseTryAgain, "too slow to keep up; reconnect") {
		c.hub.metrics.SlowClient()
		c.hub.log.Warn("slow client disconnected", "conn", c.id, "user", c.user)
	}
}

// reply sends the reply to a client frame.
func (c *Conn) reply(frame []byte) { c.write(frame) }

// replyError sends ERROR for err, echoing id. Internal errors are logged
// with their cause, which the client never sees.
func (c *Conn) replyError(id string, err error) { c.write(c.errorFrame(id, err)) }

// errorFrame encodes the ERROR for err, logging an internal error's cause.
func (c *Conn) errorFrame(id string, err error) []byte {
	if parley.ErrorCode(err) == parley.EINTERNAL {
		c.hub.log.Error("request failed", "conn", c.id, "user", c.user, "err", err)
	}
	return protocol.Error(id, err)
}

// deliver sends event frames, in order and in one write, holding them
// while the connection syncs.
func (c *Conn) deliver(ds []delivery) {
	frames := make([][]byte, 0, len(ds))
	sent := ds[:0:0]
	defer func() {
		// Replies are written (or their connection is gone): their
		// senders may go on with their next frames.
		for _, d := range ds {
			if d.reply != nil {
				close(d.reply.done)
			}
		}
	}()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	for _, d := range ds {
		if d.reply != nil {
			frames = append(append(frames, d.frame), d.more...)
			continue
		}
		if c.syncing {
			c.held = append(c.held, d)
			continue
		}
		if c.covered != nil && d.seq > 0 {
			if time.Now().After(c.coveredUntil) {
				c.covered = nil
			} else if d.seq <= c.covered[d.conv] {
				continue
			}
		}
		c.trackLocked(d)
		frames = append(append(frames, d.frame), d.more...)
		sent = append(sent, d)
	}
	c.mu.Unlock()
	c.writeAll(frames)
	for _, d := range sent {
		c.countDelivery(d)
	}
}

// trackLocked notes a message about to be written, for the ACK lag
// metric. The caller holds c.mu.
func (c *Conn) trackLocked(d delivery) {
	if d.seq <= 0 {
		return
	}
	if c.unacked == nil {
		c.unacked = make(map[string]*sent)
	}
	now := time.Now()
	if u := c.unacked[d.conv]; u != nil {
		u.newSeq, u.newAt = d.seq, now
	} else {
		c.unacked[d.conv] = &sent{d.seq, now, d.seq, now}
	}
}

// writeDelivery writes a delivery, counting messages in the metrics.
func (c *Conn) writeDelivery(d delivery) {
	c.write(d.frame)
	for _, f := range d.more {
		c.write(f)
	}
	c.countDelivery(d)
}

// countDelivery counts a written message in the metrics.
func (c *Conn) countDelivery(d delivery) {
	if d.kind != "" {
		c.hub.metrics.Delivered(d.kind, 1, time.Since(d.at))
	}
}

// sent records when the oldest and the newest unacknowledged messages of
// a conversation were written to a connection.
type sent struct {
	oldSeq int64
	oldAt  time.Time
	newSeq int64
	newAt  time.Time
}

// acked notes an ACK for the ACK lag metric: the time since the oldest
// message it covers was written. (Messages between the oldest and the
// newest are not tracked one by one; after a partial ACK the newest stands
// for them.)
func (c *Conn) acked(conv string, seq int64) {
	c.mu.Lock()
	u := c.unacked[conv]
	if u == nil || seq < u.oldSeq {
		c.mu.Unlock()
		return
	}
	lag := time.Since(u.oldAt)
	if seq >= u.newSeq {
		delete(c.unacked, conv)
	} else {
		u.oldSeq, u.oldAt = u.newSeq, u.newAt
	}
	c.mu.Unlock()
	c.hub.metrics.AckLag(lag)
}

// coverWindow is how long a connection drops deliveries that its offline
// pass covered. A message committed before the connection's inbox was read
// can still be on its way through the fan-out when the offline pass has
// sent it; past this window such a straggler is delivered (delivery is at
// least once, and clients drop duplicates by messageId).
const coverWindow = time.Minute

// endSync sends the deliveries held while syncing, except messages that the
// offline pass covered (seq at or below covered[conv]), and switches to
// live delivery.
func (c *Conn) endSync(covered map[string]int64) {
	for {
		c.mu.Lock()
		held := c.held
		c.held = nil
		if len(held) == 0 {
			c.syncing = false
			if len(covered) > 0 {
				c.covered, c.coveredUntil = covered, time.Now().Add(coverWindow)
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for _, d := range held {
			if d.seq > 0 && d.seq <= covered[d.conv] {
				continue
			}
			c.mu.Lock()
			c.trackLocked(d)
			c.mu.Unlock()
			c.writeDelivery(d)
		}
	}
}

// Close closes the connection with a close code; the transport then calls
// Detach. Closing twice is harmless.
func (c *Conn) Close(code int, reason string) { c.closeWith(code, reason) }

// closeWith closes the connection and reports whether this call did.
func (c *Conn) closeWith(code int, reason string) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	c.closeWhy = reason
	c.held = nil
	inbox := c.takeInboxLocked()
	c.mu.Unlock()
	c.salvageAcks(inbox)
	c.sock.Close(code, reason)
	return true
}

// takeInboxLocked empties the inbox and returns what it held. The caller
// holds c.mu.
func (c *Conn) takeInboxLocked() [][]byte {
	frames := c.inbox
	c.inbox, c.inboxBytes = nil, 0
	return frames
}

// salvageAcks applies the ACKs among frames that a closing connection
// will never process (they waited behind the opening pass, say): what
// the client acknowledged before the close counts, so that its cursors
// move and the next connection does not start over. Nothing is replied.
func (c *Conn) salvageAcks(frames [][]byte) {
	var acks []*protocol.Frame
	for _, raw := range frames {
		if !protocol.IsAck(raw) {
			continue
		}
		if f, err := protocol.Decode(raw); err == nil && f.Type == protocol.TypeAck {
			acks = append(acks, f)
		}
	}
	if len(acks) == 0 {
		return
	}
	h := c.hub
	h.run(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, f := range acks {
			if cur, err := c.prepareAck(ctx, f); err == nil {
				h.ack(cur)
			}
		}
	})
}

// drainAcks handles, during the opening pass, the ACKs at the head of the
// inbox: nothing was sent before them that is still waiting, so taking
// them early keeps frame order, and a client receiving a long backlog
// moves its cursors as it goes.
func (c *Conn) drainAcks() {
	c.mu.Lock()
	n := 0
	for n < len(c.inbox) && protocol.IsAck(c.inbox[n]) {
		c.inboxBytes -= len(c.inbox[n])
		n++
	}
	if n == 0 {
		c.mu.Unlock()
		return
	}
	frames := c.inbox[:n:n]
	c.inbox = c.inbox[n:]
	c.mu.Unlock()
	c.handle(frames)
}

// Detach unregisters a closed socket's connection. The transport calls it
// exactly once per Attach.
func (h *Hub) Detach(c *Conn, err error) {
	if !c.registered {
		h.conns.Done()
		return
	}
	c.mu.Lock()
	c.closed = true
	why := c.closeWhy
	c.held = nil
	inbox := c.takeInboxLocked()
	c.mu.Unlock()
	c.salvageAcks(inbox)
	h.metrics.ConnClosed(c.kind)
	attrs := []any{"conn", c.id, "user", c.user, "kind", c.kind, "duration", h.now().Sub(c.opened).Round(time.Millisecond)}
	if why != "" {
		attrs = append(attrs, "reason", why)
	} else if err != nil {
		attrs = append(attrs, "reason", err.Error())
	}
	h.log.Info("connection closed", attrs...)
	h.unregister(c, func(last bool) {
		defer h.conns.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if last && h.bus != nil {
			if err := h.bus.Unsubscribe(ctx, c.user); err != nil {
				h.log.Error("bus unsubscribe failed", "user", c.user, "err", err)
			}
		}
		h.disconnected(ctx, c.user)
	})
}
