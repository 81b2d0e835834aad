package hub

import (
	"context"
	"sync"

	"github.com/parley-chat/parley"
)

// lastSeqs remembers the newest seq this node has seen of recently active
// conversations (committed here, or delivered from another node), so that
// an ACK at or below it needs no store read. The map is bounded: past
// maxLastSeqs it starts over, and a miss is one store read.
type lastSeqs struct {
	mu sync.Mutex
	m  map[string]int64
}

const maxLastSeqs = 1 << 18

// saw notes that conv has a message with seq.
func (l *lastSeqs) saw(conv string, seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil || len(l.m) >= maxLastSeqs {
		l.m = make(map[string]int64)
	}
	if seq > l.m[conv] {
		l.m[conv] = seq
	}
}

func (l *lastSeqs) get(conv string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[conv]
}

// clampAck returns the cursor an ACK of seq in conv sets: seq, or the
// conversation's last seq if seq is beyond it. A conversation without
// messages has nothing to acknowledge (ENOTFOUND), and stores nothing.
func (h *Hub) clampAck(ctx context.Context, conv string, seq int64) (int64, error) {
	if seq > 0 && seq <= h.lastSeqs.get(conv) {
		return seq, nil
	}
	last, err := h.store.LastSeq(ctx, conv)
	if err != nil {
		return 0, parley.Errorf(parley.EUNAVAILABLE, "the ACK could not be checked; send it again")
	}
	if last == 0 {
		return 0, parley.Errorf(parley.ENOTFOUND, "conversation %q has no messages to acknowledge", conv)
	}
	h.lastSeqs.saw(conv, last)
	return min(seq, last), nil
}
