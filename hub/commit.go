package hub

import (
	"context"
	"hash/maphash"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// commit is one connection's run of sends and ACKs, stored together with
// other connections' in one transaction.
type commit struct {
	origin  *Conn
	appends []*parley.Append
	acks    []parley.Cursor
	// done is closed once the commit is stored (or has failed: err).
	done chan struct{}
	err  error
}

// delivery is one frame for one user's connections on this node.
type delivery struct {
	user   string
	frame  []byte
	except string // connection ID that must not get it
	conv   string // set with seq for message deliveries
	seq    int64
	kind   string // "direct" or "group" for messages, "" for events
	at     time.Time
}

// submit queues a commit and waits until it is stored.
func (h *Hub) submit(c *commit) {
	c.done = make(chan struct{})
	h.commits <- c
	<-c.done
}

// commitLoop takes the commits waiting, stores them in one batch, answers
// their senders and hands the new messages to the fan-out workers.
func (h *Hub) commitLoop() {
	defer h.wg.Done()
	for first := range h.commits {
		batch := []*commit{first}
		n := len(first.appends) + len(first.acks)
	drain:
		for n < h.cfg.MaxBatch {
			select {
			case c, ok := <-h.commits:
				if !ok {
					break drain
				}
				batch = append(batch, c)
				n += len(c.appends) + len(c.acks)
			default:
				break drain
			}
		}
		h.storeBatch(batch, n)
	}
}

func (h *Hub) storeBatch(batch []*commit, items int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var appends []*parley.Append
	var acks []parley.Cursor
	for _, c := range batch {
		appends = append(appends, c.appends...)
		acks = append(acks, c.acks...)
	}
	var ackErr, err error
	if len(acks) > 0 {
		if ackErr = h.store.Ack(ctx, coalesce(acks)); ackErr != nil {
			h.log.Error("storing ACKs failed", "err", ackErr)
		}
	}
	if len(appends) > 0 {
		if err = h.store.AppendMessages(ctx, appends); err != nil {
			h.log.Error("storing messages failed", "messages", len(appends), "err", err)
		}
	}
	h.metrics.Batch(items, time.Since(start))
	now := h.now()
	for _, c := range batch {
		switch {
		case err != nil && len(c.appends) > 0:
			c.err = parley.Errorf(parley.EUNAVAILABLE, "the message could not be stored; send it again")
		case ackErr != nil && len(c.acks) > 0:
			c.err = parley.Errorf(parley.EUNAVAILABLE, "the ACK could not be stored; send it again")
		}
		if c.done != nil {
			close(c.done)
		}
	}
	if err == nil {
		h.fanOutMessages(batch, now)
	}
}

// coalesce keeps the highest cursor per user and conversation.
func coalesce(acks []parley.Cursor) []parley.Cursor {
	if len(acks) < 2 {
		return acks
	}
	type key struct{ user, conv string }
	idx := make(map[key]int, len(acks))
	out := acks[:0:0]
	for _, a := range acks {
		k := key{a.Username, a.Conv}
		if i, ok := idx[k]; ok {
			if a.Seq > out[i].Seq {
				out[i].Seq = a.Seq
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, a)
	}
	return out
}

// fanOutMessages delivers the batch's new messages to the recipients and
// to the senders' other connections, here and on the other nodes.
func (h *Hub) fanOutMessages(batch []*commit, now time.Time) {
	perWorker := make([][]delivery, len(h.fanout))
	for _, c := range batch {
		for _, a := range c.appends {
			if a.Err != nil || a.Duplicate {
				continue
			}
			m := &a.Message
			typ, kind := protocol.TypeOneToOne, "direct"
			if m.IsGroup() {
				typ, kind = protocol.TypeGroup, "group"
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

func (h *Hub) deliverLocal(ds []delivery) {
	for _, d := range ds {
		n := 0
		for _, c := range h.connsOf(d.user) {
			if c.id == d.except {
				continue
			}
			c.deliver(d)
			n++
		}
		if d.kind != "" && n > 0 {
			h.metrics.Delivered(d.kind, n, time.Since(d.at))
		}
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
	perWorker := make(map[int][]delivery)
	for _, u := range ev.Users {
		w := h.worker(u)
		perWorker[w] = append(perWorker[w], delivery{user: u, frame: ev.Frame, except: ev.ExceptConn, conv: ev.Conv, seq: ev.Seq})
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
	h.dispatch(ev)
}
