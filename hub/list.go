package hub

import (
	"context"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// listConversations answers GET_CHATS and GET_GROUPS: a page of the user's
// chats or groups, in the order INIT_DATA lists them (ascending id), from
// offset (default 0), at most limit (default and most InitListMax)
// entries.
func (c *Conn) listConversations(ctx context.Context, f *protocol.Frame) error {
	if !allow(c.hub.cfg.Limits.History, c.user) {
		return parley.Errorf(parley.ERATELIMITED, "too many list requests; slow down")
	}
	offset, limit := 0, c.hub.cfg.InitListMax
	if f.Offset != nil {
		if *f.Offset < 0 {
			return parley.Errorf(parley.EINVALID, "offset must be at least 0")
		}
		offset = *f.Offset
	}
	if f.Limit != nil {
		if *f.Limit < 1 {
			return parley.Errorf(parley.EINVALID, "limit must be at least 1")
		}
		limit = min(limit, *f.Limit)
	}
	in, err := c.hub.inbox(ctx, c.user)
	if err != nil {
		return err
	}
	if f.Type == protocol.TypeGetGroups {
		page, more := window(in.Groups, offset, limit)
		c.reply(protocol.Encode(protocol.GroupList{Type: protocol.TypeGroups, ID: f.ID, Offset: offset, Groups: groupInfos(page), HasMore: more}))
		return nil
	}
	page, more := window(in.Chats, offset, limit)
	peers := make([]string, len(page))
	for i, ch := range page {
		peers[i] = ch.With
	}
	chats := chatInfos(c.hub, page, c.hub.statuses(ctx, peers), c.hub.now())
	c.reply(protocol.Encode(protocol.ChatList{Type: protocol.TypeChats, ID: f.ID, Offset: offset, Chats: chats, HasMore: more}))
	return nil
}

// window returns list[offset:offset+limit] (clipped) and whether more
// follows.
func window[T any](list []T, offset, limit int) ([]T, bool) {
	if offset >= len(list) {
		return list[:0], false
	}
	end := min(len(list), offset+limit)
	return list[offset:end], end < len(list)
}
