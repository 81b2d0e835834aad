package hub

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// receiptInterval is how often, at most, one reader's READ_RECEIPT goes
// out for one conversation: a client reading through a busy group sends
// READ after READ, and each receipt goes to every member.
const receiptInterval = time.Second

// readKey is one reader in one conversation.
type readKey struct{ user, conv string }

// receipt is the latest read position of a reader, and when their last
// receipt went out.
type receipt struct {
	seq    int64 // the position to announce; 0 once announced
	sent   int64 // the position last announced
	except string
	sentAt time.Time
}

// markRead records a read position: stored with the next flush of ACKs,
// announced to the conversation's other participants (and the reader's
// other connections, but not conn) by the receipt loop.
func (h *Hub) markRead(c parley.Cursor, conn string) {
	h.ackMu.Lock()
	defer h.ackMu.Unlock()
	raise(h.reads, c)
	k := readKey{c.Username, c.Conv}
	r := h.receipts[k]
	if r == nil {
		r = &receipt{}
		h.receipts[k] = r
	}
	if c.Seq > r.sent && c.Seq > r.seq {
		r.seq, r.except = c.Seq, conn
	}
}

// sendReceipts announces each reader's latest position whose last
// announcement is at least receiptInterval old, and forgets readers idle
// for longer than that.
func (h *Hub) sendReceipts() {
	now := h.now()
	type due struct {
		readKey
		seq    int64
		except string
	}
	var out []due
	h.ackMu.Lock()
	for k, r := range h.receipts {
		if now.Sub(r.sentAt) < receiptInterval {
			continue
		}
		if r.seq == 0 {
			delete(h.receipts, k)
			continue
		}
		out = append(out, due{k, r.seq, r.except})
		r.sent, r.seq, r.sentAt = r.seq, 0, now
	}
	h.ackMu.Unlock()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	for _, d := range out {
		rr := protocol.ReadReceipt{Type: protocol.TypeReadReceipt, Username: d.user, Seq: d.seq, Timestamp: parley.FormatTime(now)}
		var users []string
		if parley.IsGroupID(d.conv) {
			members, err := h.store.Members(ctx, d.conv)
			if err != nil {
				h.log.Error("read receipt: listing members failed", "group", d.conv, "err", err)
				continue
			}
			users = usernames(members)
			rr.GroupID = d.conv
		} else {
			users = []string{parley.ChatPeer(d.conv, d.user), d.user}
			rr.ChatID = d.conv
		}
		h.publish(&parley.Event{Users: users, Frame: protocol.Encode(rr), ExceptConn: d.except})
	}
}

// readPositions returns the read positions of users in conv: the stored
// ones, raised by those this node holds and has not stored yet.
func (h *Hub) readPositions(ctx context.Context, conv string, users []string) ([]int64, error) {
	seqs, err := h.store.ReadPositions(ctx, conv, users)
	if err != nil {
		return nil, err
	}
	h.ackMu.Lock()
	defer h.ackMu.Unlock()
	for i, u := range users {
		if s := h.reads[u][conv]; s > seqs[i] {
			seqs[i] = s
		}
	}
	return seqs, nil
}
