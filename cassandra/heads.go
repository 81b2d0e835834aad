package cassandra

import "sync"

// headCache remembers, for the append path only, where each conversation's
// newest message was last seen by this node. A cached head is never ahead
// of the truth (heads only grow), so at worst the first conditional batch
// of a run loses and learns the current last seq from Cassandra's answer:
// the cache saves the two reads of db.head, never a check. Reads that must
// be current (LastSeq, History, Inbox) do not use it.
type headCache struct {
	mu  sync.Mutex
	m   map[string]head
	max int
}

func newHeadCache(max int) *headCache { return &headCache{m: make(map[string]head), max: max} }

func (c *headCache) get(conv string) (head, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[conv]
	return h, ok
}

// put records h unless a later head is known. When full, the cache starts
// over rather than tracking recency: a miss costs two reads.
func (c *headCache) put(conv string, h head) {
	if h.last == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.m[conv]; ok && cur.last >= h.last {
		return
	}
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[conv] = h
}
