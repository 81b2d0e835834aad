package hub

import (
	"context"
	"hash/maphash"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// commit is one connection's run of sends, stored together with other
// connections' in one transaction.
type commit struct {
	origin  *Conn
	appends []*parley.Append
	ids     []string // the client's id of each append, for its reply
	// done is closed once the replies are written (after a stored batch)
	// or once the batch has failed (err: the sender writes the errors).
	done chan struct{}
	err  error
}

// ackFlushInterval is how often acknowledged cursors (and last-seen times)
// are written. An ACK
// takes effect at once for this node's connections (offline delivery
// reads through pendingAcks); only its durability waits, and an ACK lost
// in a crash means a message is delivered again, never lost.
const ackFlushInterval = 100 * time.Millisecond

// ack records a cursor move, to be stored with the next flush.
func (h *Hub) ack(c parley.Cursor) {
	h.ackMu.Lock()
	defer h.ackMu.Unlock()
	raise(h.acks, c)
}

// raise records a position in pending (user -> conv -> seq), keeping the
// higher of two. The caller holds ackMu.
func raise(pending map[string]map[string]int64, c parley.Cursor) {
	convs := pending[c.Username]
	if convs == nil {
		convs = make(map[string]int64)
		pending[c.Username] = convs
	}
	if c.Seq > convs[c.Conv] {
		convs[c.Conv] = c.Seq
	}
}

// takeAcks removes and returns the pending cursors and read positions of
// one user, or of everyone when username is "".
func (h *Hub) takeAcks(username string) (cursors, reads []parley.Cursor) {
	h.ackMu.Lock()
	defer h.ackMu.Unlock()
	return takePending(h.acks, username), takePending(h.reads, username)
}

// takePending removes and returns the positions of one user (or all) from
// pending.
func takePending(pending map[string]map[string]int64, username string) []parley.Cursor {
	var out []parley.Cursor
	take := func(user string, convs map[string]int64) {
		for conv, seq := range convs {
			out = append(out, parley.Cursor{Username: user, Conv: conv, Seq: seq})
		}
		delete(pending, user)
	}
	if username != "" {
		take(username, pending[username])
		return out
	}
	for user, convs := range pending {
		take(user, convs)
	}
	return out
}

// flushAcks stores the pending cursors and read positions of one user (or
// all, with ""); on failure they are kept for the next flush.
func (h *Hub) flushAcks(username string) error {
	// One flush at a time, so that a connection's flush of its user's ACKs
	// also waits for a flush already storing them.
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	cursors, reads := h.takeAcks(username)
	if len(cursors) == 0 && len(reads) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if len(cursors) > 0 {
		if err = h.store.Ack(ctx, cursors); err != nil {
			h.log.Error("storing ACKs failed; will retry", "cursors", len(cursors), "err", err)
			for _, c := range cursors {
				h.ack(c)
			}
		}
	}
	if len(reads) > 0 {
		if rerr := h.store.MarkRead(ctx, reads); rerr != nil {
			h.log.Error("storing read positions failed; will retry", "positions", len(reads), "err", rerr)
			h.ackMu.Lock()
			for _, c := range reads {
				raise(h.reads, c)
			}
			h.ackMu.Unlock()
			err = rerr
		}
	}
	return err
}

// lastSeen records when a user went offline, to be stored with the next
// flush: connections come and go by the hundred per second, and one
// transaction per departure would crowd out the messages.
func (h *Hub) lastSeen(username string, at time.Time) {
	h.ackMu.Lock()
	h.seen[username] = at
	h.ackMu.Unlock()
}

// seenStoredFor is how long, at least, a stored last-seen time is also
// kept in memory (at most twice as long): a reader may hold a snapshot
// from before the write.
const seenStoredFor = time.Minute

// seenOf returns a user's last-seen time: the latest of the stored one
// and those this node holds in memory.
func (h *Hub) seenOf(username string, stored time.Time) time.Time {
	h.ackMu.Lock()
	defer h.ackMu.Unlock()
	latest := stored
	for _, m := range []map[string]time.Time{h.seen, h.seenStored, h.seenStoredOld} {
		if t, ok := m[username]; ok && t.After(latest) {
			latest = t
		}
	}
	return latest
}

// flushDeferred stores the pending ACKs and last-seen times.
func (h *Hub) flushDeferred() {
	h.flushAcks("")
	h.ackMu.Lock()
	seen := h.seen
	if len(seen) == 0 {
		h.ackMu.Unlock()
		return
	}
	h.seen = make(map[string]time.Time)
	// seenOf keeps answering from memory while the batch is stored and
	// for a while after, two generations of seenStoredFor.
	if now := h.now(); now.Sub(h.seenGenAt) > seenStoredFor {
		h.seenStoredOld, h.seenStored, h.seenGenAt = h.seenStored, make(map[string]time.Time), now
	}
	for u, t := range seen {
		if t.After(h.seenStored[u]) {
			h.seenStored[u] = t
		}
	}
	h.ackMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.store.SetLastSeen(ctx, seen); err != nil {
		h.log.Error("storing last-seen times failed; will retry", "users", len(seen), "err", err)
		h.ackMu.Lock()
		for u, t := range seen {
			if _, newer := h.seen[u]; !newer {
				h.seen[u] = t
			}
		}
		h.ackMu.Unlock()
	}
}

// delivery is one frame for one user's connections on this node.
type delivery struct {
	user string
	// reply, when set, makes this delivery the replies to a commit: for
	// its origin connection only, never held, and done is closed once
	// they are written.
	reply  *commit
	frame  []byte
	more   [][]byte // frames written after frame (an expanded event)
	except string   // connection ID that must not get it
	conv   string   // set with seq for message deliveries
	seq    int64
	kind   string // "direct" or "group" for messages, "" for events
	at     time.Time
}

// submit queues a commit and waits until its replies are written. It
// returns false when the sender must write them itself: the batch failed
// (c.err), or the hub stopped first (and there is no one to write to).
func (h *Hub) submit(c *commit) (failed bool) {
	c.done = make(chan struct{})
	// A connection whose socket closed may still be handling the frames
	// it took before: once Shutdown has closed the queue, they are dropped
	// (nothing was stored or answered, and there is no one to answer).
	h.stopMu.RLock()
	if h.stopped {
		h.stopMu.RUnlock()
		return false
	}
	h.commits <- c
	h.stopMu.RUnlock()
	select {
	case <-c.done:
		return c.err != nil
	case <-h.ctx.Done():
		return false
	}
}

// commitLoop takes the commits waiting, stores them in one batch, answers
// their senders and hands the new messages to the fan-out workers.
func (h *Hub) commitLoop() {
	defer h.wg.Done()
	defer close(h.stored)
	t := time.NewTicker(ackFlushInterval)
	defer t.Stop()
	busy := false
	for {
		var first *commit
		select {
		case c, ok := <-h.commits:
			if !ok {
				h.flushDeferred()
				return
			}
			first = c
		case <-t.C:
			h.flushDeferred()
			continue
		}
		batch := []*commit{first}
		n := len(first.appends)
		// Under load (the last batch was not alone), wait a moment for
		// company; alone, commit at once.
		var wait <-chan time.Time
		if busy && h.cfg.CommitDelay > 0 {
			wait = time.After(h.cfg.CommitDelay)
		}
	drain:
		for n < h.cfg.MaxBatch {
			select {
			case c, ok := <-h.commits:
				if !ok {
					break drain
				}
				batch = append(batch, c)
				n += len(c.appends)
			default:
				if wait == nil {
					break drain
				}
				select {
				case c, ok := <-h.commits:
					if !ok {
						break drain
					}
					batch = append(batch, c)
					n += len(c.appends)
				case <-wait:
					break drain
				}
			}
		}
		busy = len(batch) > 1
		h.storeBatch(batch, n)
	}
}

// storeBatch stores the sends of a batch in one transaction, answers their
// connections, and hands the batch to the dispatcher for fan-out, so that
// the next batch can be stored meanwhile.
func (h *Hub) storeBatch(batch []*commit, items int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	appends := make([]*parley.Append, 0, items)
	for _, c := range batch {
		appends = append(appends, c.appends...)
	}
	err := h.store.AppendMessages(ctx, appends)
	if err != nil {
		h.log.Error("storing messages failed", "messages", len(appends), "err", err)
	}
	h.metrics.Batch(items, time.Since(start))
	if err != nil {
		for _, c := range batch {
			c.err = parley.Errorf(parley.EUNAVAILABLE, "the message could not be stored; send it again")
			close(c.done)
		}
		return
	}
	// The fan-out writes each sender's replies together with whatever
	// else its connection gets from this batch (in a conversation both
	// sides send, mostly the other side's message): one write instead of
	// two, and no herd of senders' goroutines waking at once to write a
	// frame each while the committer waits for a core.
	h.stored <- storedBatch{batch, h.now()}
}

// storedBatch is a committed batch on its way to the fan-out.
type storedBatch struct {
	commits []*commit
	at      time.Time
}

// dispatchLoop fans committed batches out, in commit order.
func (h *Hub) dispatchLoop() {
	defer h.wg.Done()
	for b := range h.stored {
		h.fanOutMessages(b.commits, b.at)
	}
}

// fanOutMessages delivers the batch's new messages to the recipients and
// to the senders' other connections, here and on the other nodes.
func (h *Hub) fanOutMessages(batch []*commit, now time.Time) {
	perWorker := make([][]delivery, len(h.fanout))
	for _, c := range batch {
		replies := make([][]byte, len(c.appends))
		for i, a := range c.appends {
			if a.Err != nil {
				replies[i] = c.origin.errorFrame(c.ids[i], a.Err)
			} else {
				replies[i] = successFrame(c.ids[i], &a.Message)
			}
		}
		w := h.worker(c.origin.user)
		perWorker[w] = append(perWorker[w], delivery{user: c.origin.user, reply: c, frame: replies[0], more: replies[1:]})
		for _, a := range c.appends {
			if a.Err != nil || a.Duplicate || a.NoOp {
				continue
			}
			m := &a.Message
			h.lastSeqs.saw(m.Conv, m.Seq)
			typ, kind := protocol.EntryFrameType(m), "direct"
			if m.IsGroup() {
				kind = "group"
			}
			h.metrics.Stored(kind, 1)
			frame := protocol.Encode(protocol.Delivery{Type: typ, Message: protocol.FromMessage(m)})
			users := append(append(make([]string, 0, len(a.Recipients)+1), a.Recipients...), m.From)
			for _, u := range users {
				w := h.worker(u)
				perWorker[w] = append(perWorker[w], delivery{user: u, frame: frame, except: c.origin.id, conv: m.Conv, seq: m.Seq, kind: kind, at: now})
			}
			if h.bus != nil {
				h.publishRemote(&parley.Event{Users: users, Frame: frame, ExceptConn: c.origin.id, Conv: m.Conv, Seq: m.Seq})
			}
			if m.Seq == 1 && !m.IsGroup() {
				h.introduce(m.From, m.To)
			}
		}
	}
	for w, ds := range perWorker {
		if len(ds) > 0 {
			h.toWorker(w, ds)
		}
	}
}

// toWorker hands deliveries to a fan-out worker.
func (h *Hub) toWorker(w int, ds []delivery) {
	select {
	case h.fanout[w] <- ds:
	case <-h.ctx.Done():
	}
}

func (h *Hub) worker(user string) int {
	return int(maphash.String(h.seed, user) % uint64(len(h.fanout)))
}

// fanoutLoop writes deliveries to local connections, in the order given.
func (h *Hub) fanoutLoop(ch chan []delivery) {
	defer h.wg.Done()
	for {
		select {
		case ds := <-ch:
			h.deliverLocal(ds)
		case <-h.ctx.Done():
			return
		}
	}
}

// deliverLocal writes deliveries to the connections of their users,
// gathering each connection's frames (in order) into one write.
func (h *Hub) deliverLocal(ds []delivery) {
	var order []*Conn
	per := make(map[*Conn][]delivery)
	for _, d := range ds {
		if d.reply != nil {
			c := d.reply.origin
			if _, ok := per[c]; !ok {
				order = append(order, c)
			}
			per[c] = append(per[c], d)
			continue
		}
		for _, c := range h.connsOf(d.user) {
			if c.id == d.except || c.kind == Presence && !protocol.IsPresenceUpdate(d.frame) {
				continue // presence connections get presence only
			}
			if _, ok := per[c]; !ok {
				order = append(order, c)
			}
			per[c] = append(per[c], d)
		}
	}
	for _, c := range order {
		c.deliver(per[c])
	}
}

// publish delivers an event to its users' connections on this node and
// sends it to the other nodes.
func (h *Hub) publish(ev *parley.Event) {
	h.dispatch(ev)
	if h.bus != nil {
		h.publishRemote(ev)
	}
}

// dispatch hands an event's frame to the fan-out workers of its users.
func (h *Hub) dispatch(ev *parley.Event) {
	// An event standing for several frames is expanded once here; its
	// frames are shared by every delivery.
	frames := protocol.ExpandEvent(ev.Frame)
	if len(frames) == 0 {
		return
	}
	perWorker := make(map[int][]delivery)
	for _, u := range ev.Users {
		w := h.worker(u)
		perWorker[w] = append(perWorker[w], delivery{user: u, frame: frames[0], more: frames[1:], except: ev.ExceptConn, conv: ev.Conv, seq: ev.Seq})
	}
	for w, ds := range perWorker {
		h.toWorker(w, ds)
	}
}

func (h *Hub) publishRemote(ev *parley.Event) {
	ev.Origin = h.nodeName
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	if err := h.bus.Publish(ctx, ev); err != nil {
		h.log.Error("bus publish failed", "err", err)
	}
}

// ReceiveEvent handles an event published by another node.
func (h *Hub) ReceiveEvent(ev *parley.Event) {
	if ev.Origin == h.nodeName {
		return
	}
	if ev.EndSession != "" {
		for _, u := range ev.Users {
			h.endSessionLocal(u, ev.EndSession)
		}
		return
	}
	if ev.Seq > 0 {
		h.lastSeqs.saw(ev.Conv, ev.Seq)
	}
	h.dispatch(ev)
}
