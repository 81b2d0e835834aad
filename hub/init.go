package hub

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// sendInitData opens a chat connection: INIT_DATA, then every message above
// the user's cursors (the oldest MaxOfflinePerConv per conversation) as an
// offline message, then INFO offline_delivered. Deliveries that arrive
// meanwhile are held and sent afterwards, without those the offline pass
// covered.
func (c *Conn) sendInitData(ctx context.Context) error {
	h := c.hub
	// The user's ACKs still in memory are stored first, so that what this
	// connection is sent reflects them.
	if err := h.flushAcks(c.user); err != nil {
		return err
	}
	in, err := h.inbox(ctx, c.user)
	if err != nil {
		return err
	}
	peers := make([]string, min(len(in.Chats), h.cfg.InitListMax))
	for i, ch := range in.Chats[:len(peers)] {
		peers[i] = ch.With
	}
	statuses := h.statuses(ctx, peers)
	now := h.now()
	init := protocol.InitData{
		Type:       protocol.TypeInitData,
		Username:   c.user,
		Chats:      chatInfos(h, in.Chats[:min(len(in.Chats), h.cfg.InitListMax)], statuses, now),
		Groups:     groupInfos(in.Groups[:min(len(in.Groups), h.cfg.InitListMax)]),
		MoreChats:  len(in.Chats) > h.cfg.InitListMax,
		MoreGroups: len(in.Groups) > h.cfg.InitListMax,
	}
	if err := c.writePaced(ctx, protocol.Encode(init)); err != nil {
		return err
	}

	covered, err := c.sendOffline(ctx, in, true)
	if err != nil {
		return err
	}
	c.endSync(covered)
	return nil
}

func chatInfos(h *Hub, chats []parley.ChatSummary, statuses []string, now time.Time) []protocol.ChatInfo {
	out := make([]protocol.ChatInfo, len(chats))
	for i, ch := range chats {
		out[i] = protocol.ChatInfo{
			ChatID:   ch.ChatID,
			With:     ch.With,
			Status:   statuses[i],
			LastSeen: lastSeen(statuses[i], h.seenOf(ch.With, ch.WithLastSeen), now),
			LastSeq:  ch.LastSeq,
			Unread:   ch.Unread,

			ReadSeq:     ch.ReadSeq,
			PeerReadSeq: ch.PeerReadSeq,
		}
	}
	return out
}

func groupInfos(groups []parley.GroupSummary) []protocol.GroupInfo {
	out := make([]protocol.GroupInfo, len(groups))
	for i, g := range groups {
		out[i] = protocol.GroupInfo{GroupID: g.GroupID, Name: g.Name, LastSeq: g.LastSeq, Unread: g.Unread, ReadSeq: g.ReadSeq}
	}
	return out
}

// inbox reads the user's inbox with chats and groups in ascending id
// order, the order INIT_DATA, GET_CHATS and GET_GROUPS list them in.
func (h *Hub) inbox(ctx context.Context, user string) (*parley.Inbox, error) {
	in, err := h.store.Inbox(ctx, user)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(in.Chats, func(a, b parley.ChatSummary) int { return strings.Compare(a.ChatID, b.ChatID) })
	slices.SortFunc(in.Groups, func(a, b parley.GroupSummary) int { return strings.Compare(a.GroupID, b.GroupID) })
	return in, nil
}

// sendOffline sends every entry above the user's cursors (the oldest
// MaxOfflinePerConv per conversation) as an offline frame, then INFO
// offline_delivered. It returns, per conversation, the highest seq it
// accounts for: everything up to the conversation's last seq at the time
// of the inbox, and any later message the offline query returned.
//
// Its frames are paced by the client's reading (writePaced), and it stops
// at once when the connection closes. In the opening pass (opening set)
// the ACKs the client sends meanwhile are handled as they come.
func (c *Conn) sendOffline(ctx context.Context, in *parley.Inbox, opening bool) (map[string]int64, error) {
	h := c.hub
	covered := make(map[string]int64, len(in.Chats)+len(in.Groups))
	count := 0
	offline := func(conv string, cursor, last int64) error {
		covered[conv] = last
		// The cursor follows a user's own entries, so one below the last
		// seq has someone else's above it.
		if cursor >= last {
			return nil
		}
		msgs, err := h.store.Undelivered(ctx, c.user, conv, cursor, parley.MaxOfflinePerConv)
		if err != nil {
			return err
		}
		for i := range msgs {
			m := &msgs[i]
			if err := c.writePaced(ctx, protocol.Encode(protocol.Delivery{Type: protocol.EntryFrameType(m), Message: protocol.FromMessage(m), Offline: true})); err != nil {
				return err
			}
			if opening {
				c.drainAcks()
			}
			if m.Seq > covered[conv] {
				covered[conv] = m.Seq
			}
		}
		count += len(msgs)
		return nil
	}
	for _, ch := range in.Chats {
		if err := offline(ch.ChatID, ch.Cursor, ch.LastSeq); err != nil {
			return nil, err
		}
	}
	for _, g := range in.Groups {
		if err := offline(g.GroupID, g.Cursor, g.LastSeq); err != nil {
			return nil, err
		}
	}
	h.metrics.OfflineDelivered(count)
	if err := c.writePaced(ctx, protocol.Encode(protocol.Info{Type: protocol.TypeInfo, Msg: "offline messages delivered", Event: "offline_delivered", Count: &count})); err != nil {
		return nil, err
	}
	return covered, nil
}

// Resync sends every connection of this node what it may have missed
// while the bus was down, during which other nodes' events could not be
// delivered live: each connection gets its contacts' current presence,
// and each chat connection the messages above its user's cursors, as
// offline messages followed by INFO offline_delivered. Messages a
// connection already has come again; clients drop them by messageId.
func (h *Hub) Resync() {
	for _, c := range h.allConns() {
		c.mu.Lock()
		syncing := c.syncing // its own opening pass is under way
		c.mu.Unlock()
		if syncing {
			continue
		}
		h.run(func() {
			ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
			defer cancel()
			// The user's ACKs in memory are stored first, so that the
			// inbox reflects them.
			err := h.flushAcks(c.user)
			var in *parley.Inbox
			if err == nil {
				in, err = h.store.Inbox(ctx, c.user)
			}
			if err == nil {
				c.sendContactsPresence(ctx, in)
				if c.kind == Chat {
					_, err = c.sendOffline(ctx, in, false)
				}
			}
			if err != nil && err != errClosed {
				h.log.Error("resync failed", "conn", c.id, "user", c.user, "err", err)
			}
		})
	}
}
