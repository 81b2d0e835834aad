package bench

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// waiter lets a virtual user wait for the fate of its messages: it is
// done once every SUCCESS (or ERROR) and every expected delivery has come,
// or been given up on by the tracker's sweep.
type waiter struct {
	left   atomic.Int64
	failed atomic.Int64
	done   chan struct{}
	once   sync.Once
}

func newWaiter(events int) *waiter {
	w := &waiter{done: make(chan struct{})}
	w.left.Store(int64(events))
	if events == 0 {
		close(w.done)
	}
	return w
}

func (w *waiter) event(n int, failed bool) {
	if w == nil || n == 0 {
		return
	}
	if failed {
		w.failed.Add(int64(n))
	}
	if w.left.Add(int64(-n)) <= 0 {
		w.once.Do(func() { close(w.done) })
	}
}

// msgState is one message in flight: sent, waiting for its SUCCESS and
// for expect deliveries.
type msgState struct {
	sentNs int64
	acked  bool
	expect int32
	got    int32
	w      *waiter
}

// tracker follows every message of the run from send to delivery; a
// message leaves it once answered and fully delivered, or when the sweep
// gives up on it (no answer: unanswered; answered but not delivered:
// lost).
type tracker struct {
	c      *Counters
	seed   maphash.Seed
	shards [64]trackerShard
}

type trackerShard struct {
	mu sync.Mutex
	m  map[string]*msgState
}

func newTracker(c *Counters) *tracker {
	t := &tracker{c: c, seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = map[string]*msgState{}
	}
	return t
}

func (t *tracker) shard(id []byte) *trackerShard {
	return &t.shards[maphash.Bytes(t.seed, id)%uint64(len(t.shards))]
}

// add starts following a message that is about to be written.
func (t *tracker) add(id string, sentNs int64, expect int, w *waiter) {
	sh := t.shard([]byte(id))
	sh.mu.Lock()
	sh.m[id] = &msgState{sentNs: sentNs, expect: int32(expect), w: w}
	sh.mu.Unlock()
}

// forget drops a message that could not be written.
func (t *tracker) forget(id string) {
	sh := t.shard([]byte(id))
	sh.mu.Lock()
	st := sh.m[id]
	delete(sh.m, id)
	sh.mu.Unlock()
	if st != nil {
		st.w.event(1+int(st.expect), true)
	}
}

// ack records a SUCCESS; it returns the send time.
func (t *tracker) ack(id []byte) (sentNs int64, ok bool) {
	sh := t.shard(id)
	sh.mu.Lock()
	st := sh.m[string(id)]
	if st == nil || st.acked {
		sh.mu.Unlock()
		return 0, false
	}
	st.acked = true
	if st.got >= st.expect {
		delete(sh.m, string(id))
	}
	sh.mu.Unlock()
	st.w.event(1, false)
	return st.sentNs, true
}

// reject records an ERROR answer: nothing will be delivered.
func (t *tracker) reject(id []byte) bool {
	sh := t.shard(id)
	sh.mu.Lock()
	st := sh.m[string(id)]
	if st != nil {
		delete(sh.m, string(id))
	}
	sh.mu.Unlock()
	if st == nil {
		return false
	}
	st.w.event(1+int(st.expect-st.got), true)
	return true
}

// deliver records one delivery; false if the message is not followed
// (any more).
func (t *tracker) deliver(id []byte) bool {
	sh := t.shard(id)
	sh.mu.Lock()
	st := sh.m[string(id)]
	if st == nil {
		sh.mu.Unlock()
		return false
	}
	st.got++
	if st.acked && st.got >= st.expect {
		delete(sh.m, string(id))
	}
	sh.mu.Unlock()
	st.w.event(1, false)
	return true
}

// sweep gives up on messages sent before replyBefore that got no answer
// (unanswered), and on answered messages sent before deliverBefore that
// still miss deliveries (lost). It returns how many it gave up on.
func (t *tracker) sweep(replyBefore, deliverBefore int64) int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for id, st := range sh.m {
			switch {
			case !st.acked && st.sentNs < replyBefore:
				t.c.Unanswered.Add(1)
				st.w.event(1+int(st.expect-st.got), true)
			case st.acked && st.sentNs < deliverBefore:
				t.c.Lost.Add(int64(st.expect - st.got))
				st.w.event(int(st.expect-st.got), true)
			default:
				continue
			}
			delete(sh.m, id)
			n++
		}
		sh.mu.Unlock()
	}
	return n
}

// outstanding is the number of messages still followed.
func (t *tracker) outstanding() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
