package hub

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// handle processes a run of frames in order. Consecutive sends (and the
// ACKs among them, which need no reply) are committed together; any other
// frame first waits for them, so that replies leave in frame order.
func (c *Conn) handle(frames [][]byte) {
	ctx := c.hub.ctx
	cm := &commit{origin: c}
	flush := func() {
		if len(cm.appends) == 0 {
			return
		}
		// The fan-out reads cm after the store has answered, so each run
		// gets a commit of its own. Once stored, the fan-out writes the
		// replies (successFrame); a failed batch is answered here.
		if c.hub.submit(cm) {
			replies := make([][]byte, 0, len(cm.ids))
			for _, id := range cm.ids {
				replies = append(replies, c.errorFrame(id, cm.err))
			}
			c.writeAll(replies)
		}
		cm = &commit{origin: c}
	}
	for _, raw := range frames {
		f, err := protocol.Decode(raw)
		if err != nil {
			flush()
			id := ""
			if f != nil {
				id = f.ID
			}
			c.replyError(id, err)
			continue
		}
		if c.kind == Presence && f.Type != protocol.TypePing && f.Type != protocol.TypeDisconnect {
			flush()
			c.replyError(f.ID, parley.Errorf(parley.EINVALID, "a presence connection accepts only PING and DISCONNECT"))
			continue
		}
		switch f.Type {
		case protocol.TypeOneToOne, protocol.TypeGroup, protocol.TypeEdit, protocol.TypeDelete, protocol.TypeReact:
			var a *parley.Append
			if protocol.IsSend(f.Type) {
				a, err = c.prepareSend(f)
			} else {
				a, err = c.prepareEntry(ctx, f)
			}
			if err != nil {
				flush()
				c.replyError(f.ID, err)
				continue
			}
			cm.appends = append(cm.appends, a)
			cm.ids = append(cm.ids, f.ID)
		case protocol.TypeAck:
			cur, err := c.prepareAck(ctx, f)
			if err != nil {
				flush()
				c.replyError(f.ID, err)
				continue
			}
			c.hub.ack(cur) // a valid ACK gets no reply
		case protocol.TypeRead:
			cur, err := c.prepareRead(ctx, f)
			if err != nil {
				flush()
				c.replyError(f.ID, err)
				continue
			}
			// A READ is also an ACK of the same seq; it gets no reply.
			c.hub.ack(cur)
			c.hub.markRead(cur, c.id)
		default:
			flush()
			if stop := c.handleRequest(ctx, f); stop {
				return
			}
		}
	}
	flush()
}

// successFrame answers a stored entry. A reaction that changed nothing
// (Seq 0) is answered with its target and conversation alone.
func successFrame(id string, m *parley.Message) []byte {
	s := protocol.Success{Type: protocol.TypeSuccess, ID: id, Target: m.Target}
	if m.Seq > 0 {
		s.MessageID, s.Seq, s.Timestamp = m.ID, m.Seq, parley.FormatTime(m.Time)
	}
	if m.IsGroup() {
		s.GroupID = m.Conv
	} else {
		s.ChatID = m.Conv
	}
	return protocol.Encode(s)
}

// prepareSend validates a send as far as can be done without the store.
// With an id, a validation failure travels with the Append, because a
// repeated id is answered with the original SUCCESS before any validation;
// without one it is returned at once.
func (c *Conn) prepareSend(f *protocol.Frame) (*parley.Append, error) {
	if !allow(c.hub.cfg.Limits.Messages, c.user) {
		return nil, parley.Errorf(parley.ERATELIMITED, "too many messages; slow down")
	}
	a := &parley.Append{
		ClientID: f.ID,
		From:     c.user,
		Content:  f.Content,
		ID:       c.hub.newMessageID(),
		Time:     c.hub.now(),
	}
	invalid := f.Invalid
	if invalid == nil {
		if f.Type == protocol.TypeOneToOne {
			a.To = f.To
			invalid = c.checkDirect(f)
			if invalid == nil {
				a.Conv = parley.ChatID(c.user, f.To)
			}
		} else {
			a.Conv = f.GroupID
			invalid = checkGroupID(f.GroupID)
		}
	}
	if invalid == nil {
		invalid = parley.ValidateContent(f.Content)
	}
	if invalid == nil && f.ReplyTo != nil {
		if *f.ReplyTo < 1 {
			invalid = parley.Errorf(parley.EINVALID, "replyTo must be the seq of a message in this conversation")
		}
		a.ReplyTo = *f.ReplyTo
	}
	if invalid != nil && f.ID == "" {
		return nil, invalid
	}
	a.Invalid = invalid
	return a, nil
}

// entryKinds maps the frames that act on a message to their entries.
var entryKinds = map[string]parley.EntryKind{
	protocol.TypeEdit:   parley.KindEdit,
	protocol.TypeDelete: parley.KindDelete,
	protocol.TypeReact:  parley.KindReaction,
}

// entryLimits are the rate limits of the frames that act on a message.
var entryLimits = map[string]struct {
	of   func(*Limits) Limiter
	what string
}{
	protocol.TypeEdit:   {func(l *Limits) Limiter { return l.Edits }, "edits"},
	protocol.TypeDelete: {func(l *Limits) Limiter { return l.Deletes }, "deletions"},
	protocol.TypeReact:  {func(l *Limits) Limiter { return l.Reactions }, "reactions"},
}

// prepareEntry validates an EDIT_MESSAGE, DELETE_MESSAGE or REACT as far
// as can be done without the store (the target, the sender's rights and
// membership are the store's to check, in the transaction that stores
// the entry); like prepareSend, a failure travels with the Append when
// the frame has an id. Deleting in a group asks the store whether the
// sender owns it, as the owner may delete anyone's messages.
func (c *Conn) prepareEntry(ctx context.Context, f *protocol.Frame) (*parley.Append, error) {
	if l := entryLimits[f.Type]; !allow(l.of(&c.hub.cfg.Limits), c.user) {
		return nil, parley.Errorf(parley.ERATELIMITED, "too many %s; slow down", l.what)
	}
	a := &parley.Append{
		ClientID: f.ID,
		From:     c.user,
		Kind:     entryKinds[f.Type],
		ID:       c.hub.newMessageID(),
		Time:     c.hub.now(),
	}
	invalid := f.Invalid
	if invalid == nil {
		a.Conv, a.To, invalid = c.entryConv(f)
	}
	if invalid == nil {
		if f.Seq == nil || *f.Seq < 1 {
			invalid = parley.Errorf(parley.EINVALID, "seq must be the seq of a message (at least 1)")
		} else {
			a.Target = *f.Seq
		}
	}
	if invalid == nil {
		switch a.Kind {
		case parley.KindEdit:
			a.Content, invalid = f.Content, parley.ValidateContent(f.Content)
		case parley.KindReaction:
			a.Emoji, a.Remove, invalid = f.Emoji, f.Remove, parley.ValidateEmoji(f.Emoji)
		case parley.KindDelete:
			if parley.IsGroupID(a.Conv) {
				g, err := c.hub.store.Group(ctx, a.Conv)
				switch {
				case err == nil:
					a.Moderator = g.Owner == c.user
				case parley.ErrorCode(err) != parley.ENOTFOUND:
					return nil, err
				}
			}
		}
	}
	if invalid != nil && f.ID == "" {
		return nil, invalid
	}
	a.Invalid = invalid
	return a, nil
}

// entryConv resolves the conversation of an entry acting on a message, from
// its chatId or groupId (or to), without asking the store: the store checks
// membership and the chat's other participant when it stores the entry.
func (c *Conn) entryConv(f *protocol.Frame) (conv, to string, err error) {
	switch {
	case f.GroupID != "" && (f.ChatID != "" || f.To != ""):
		return "", "", parley.Errorf(parley.EINVALID, "give a chat or a group, not both")
	case f.GroupID != "":
		return f.GroupID, "", checkGroupID(f.GroupID)
	case f.ChatID != "":
		a, b, ok := parley.ChatPeers(f.ChatID)
		if !ok {
			return "", "", parley.Errorf(parley.EINVALID, "chatId is not a valid chat id")
		}
		if a != c.user && b != c.user {
			return "", "", parley.Errorf(parley.EFORBIDDEN, "you are not a participant of this chat")
		}
		if f.To != "" && f.To != parley.ChatPeer(f.ChatID, c.user) {
			return "", "", parley.Errorf(parley.EFORBIDDEN, "chatId does not match the two participants")
		}
		return f.ChatID, parley.ChatPeer(f.ChatID, c.user), nil
	case f.To != "":
		if err := parley.ValidateUsername(f.To); err != nil {
			return "", "", parley.Errorf(parley.EINVALID, "to is not a valid username")
		}
		if f.To == c.user {
			return "", "", parley.Errorf(parley.EINVALID, "there is no conversation with yourself")
		}
		return parley.ChatID(c.user, f.To), f.To, nil
	default:
		return "", "", parley.Errorf(parley.EINVALID, "chatId or groupId is required")
	}
}

// checkDirect validates the addressing of a ONE_TO_ONE_CHAT.
func (c *Conn) checkDirect(f *protocol.Frame) error {
	if f.To == "" {
		return parley.Errorf(parley.EINVALID, "to is required")
	}
	if err := parley.ValidateUsername(f.To); err != nil {
		return parley.Errorf(parley.EINVALID, "to is not a valid username")
	}
	if f.To == c.user {
		return parley.Errorf(parley.EINVALID, "you cannot send a message to yourself")
	}
	if f.From != nil && *f.From != c.user {
		return parley.Errorf(parley.EFORBIDDEN, "from must be your own username")
	}
	if f.ChatID != "" && f.ChatID != parley.ChatID(c.user, f.To) {
		return parley.Errorf(parley.EFORBIDDEN, "chatId does not match the two participants")
	}
	return nil
}

func checkGroupID(id string) error {
	if id == "" {
		return parley.Errorf(parley.EINVALID, "groupId is required")
	}
	if !parley.IsGroupID(id) || len(id) > protocol.MaxGroupIDLength {
		return parley.Errorf(parley.EINVALID, "groupId is not a valid group id")
	}
	return nil
}

// prepareAck validates an ACK and returns the cursor it sets: in a
// conversation of the user's that has entries, clamped to its last seq at
// once (a cursor past it would swallow the entries stored next).
func (c *Conn) prepareAck(ctx context.Context, f *protocol.Frame) (parley.Cursor, error) {
	return c.position(ctx, f, c.hub.cfg.Limits.Acks, "too many ACKs; an ACK covers every entry up to its seq, so send fewer")
}

// prepareRead validates a READ, which is also an ACK of its seq, and
// returns the position it sets, clamped as an ACK's.
func (c *Conn) prepareRead(ctx context.Context, f *protocol.Frame) (parley.Cursor, error) {
	return c.position(ctx, f, c.hub.cfg.Limits.Reads, "too many READs; a READ covers every entry up to its seq, so send fewer")
}

// position validates an ACK or a READ (limited by limit, answered with
// tooMany past it), resolves its conversation and clamps its seq.
func (c *Conn) position(ctx context.Context, f *protocol.Frame, limit Limiter, tooMany string) (parley.Cursor, error) {
	if f.Seq == nil || *f.Seq < 0 {
		return parley.Cursor{}, parley.Errorf(parley.EINVALID, "seq must be an integer of at least 0")
	}
	if !allow(limit, c.user) {
		return parley.Cursor{}, parley.Errorf(parley.ERATELIMITED, "%s", tooMany)
	}
	var conv string
	var err error
	if f.GroupID != "" && f.ChatID == "" && c.ackMember(f.GroupID) {
		conv = f.GroupID
	} else if conv, err = c.conversation(ctx, f, false); err != nil {
		return parley.Cursor{}, err
	} else if f.GroupID != "" {
		c.notedMember(conv)
	}
	seq, err := c.hub.clampAck(ctx, conv, *f.Seq)
	if err != nil {
		return parley.Cursor{}, err
	}
	c.acked(conv, seq)
	return parley.Cursor{Username: c.user, Conv: conv, Seq: seq}, nil
}

// ackMemberFor is how long a connection trusts a membership check for its
// ACKs. Members of busy groups ACK many times a second, and a store query
// for each ACK was what sank group fan-out under load. An ACK only moves
// the user's own cursor, so one sent just after leaving does no harm;
// posting and reading history are checked every time.
const ackMemberFor = 10 * time.Second

// ackMember reports whether the user was found a member of the group
// within ackMemberFor.
func (c *Conn) ackMember(groupID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.members[groupID]
	return ok && time.Since(at) < ackMemberFor
}

// notedMember remembers a successful membership check for ACKs.
func (c *Conn) notedMember(groupID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.members == nil {
		c.members = make(map[string]time.Time)
	}
	c.members[groupID] = time.Now()
}

// conversation resolves the chatId or groupId (or, when allowTo is set,
// the to) of a frame to a conversation the user takes part in.
func (c *Conn) conversation(ctx context.Context, f *protocol.Frame, allowTo bool) (string, error) {
	to := ""
	if allowTo {
		to = f.To
	}
	switch {
	case f.GroupID != "" && (f.ChatID != "" || to != ""):
		return "", parley.Errorf(parley.EINVALID, "give a chat or a group, not both")
	case f.GroupID != "":
		if err := checkGroupID(f.GroupID); err != nil {
			return "", err
		}
		if err := c.checkMember(ctx, f.GroupID); err != nil {
			return "", err
		}
		return f.GroupID, nil
	case to != "":
		if err := parley.ValidateUsername(to); err != nil {
			return "", parley.Errorf(parley.EINVALID, "to is not a valid username")
		}
		if to == c.user {
			return "", parley.Errorf(parley.EINVALID, "there is no conversation with yourself")
		}
		id := parley.ChatID(c.user, to)
		if f.ChatID != "" && f.ChatID != id {
			return "", parley.Errorf(parley.EFORBIDDEN, "chatId does not match the two participants")
		}
		return id, nil
	case f.ChatID != "":
		a, b, ok := parley.ChatPeers(f.ChatID)
		if !ok {
			return "", parley.Errorf(parley.EINVALID, "chatId is not a valid chat id")
		}
		if a != c.user && b != c.user {
			return "", parley.Errorf(parley.EFORBIDDEN, "you are not a participant of this chat")
		}
		return f.ChatID, nil
	case allowTo:
		return "", parley.Errorf(parley.EINVALID, "to or chatId is required")
	default:
		return "", parley.Errorf(parley.EINVALID, "chatId or groupId is required")
	}
}

// checkMember returns nil if the user is a member of the group, EFORBIDDEN
// if not, ENOTFOUND if there is no such group.
func (c *Conn) checkMember(ctx context.Context, groupID string) error {
	ok, err := c.hub.store.IsMember(ctx, groupID, c.user)
	if err != nil {
		return err
	}
	if !ok {
		return parley.Errorf(parley.EFORBIDDEN, "you are not a member of group %q", groupID)
	}
	return nil
}

// handleRequest answers a frame that is neither a send nor an ACK. It
// reports true when the connection is done.
func (c *Conn) handleRequest(ctx context.Context, f *protocol.Frame) bool {
	var err error
	switch f.Type {
	case protocol.TypePing:
		c.reply(protocol.Encode(protocol.Pong{Type: protocol.TypePong, ID: f.ID}))
	case protocol.TypeDisconnect:
		c.Close(protocol.CloseNormal, "bye")
		return true
	case protocol.TypeOneToOneHistory, protocol.TypeGroupHistory:
		err = c.history(ctx, f)
	case protocol.TypeTyping:
		err = c.typing(ctx, f)
	case protocol.TypeCreateGroup:
		err = c.createGroup(ctx, f)
	case protocol.TypeJoinGroup, protocol.TypeAddMember, protocol.TypeRemoveMember, protocol.TypeLeaveGroup:
		if !allow(c.hub.cfg.Limits.Membership, c.user) {
			err = parley.Errorf(parley.ERATELIMITED, "too many membership changes; slow down")
			break
		}
		switch f.Type {
		case protocol.TypeJoinGroup:
			err = c.joinGroup(ctx, f)
		case protocol.TypeAddMember:
			err = c.addMember(ctx, f)
		case protocol.TypeRemoveMember:
			err = c.removeMember(ctx, f, f.Username)
		default:
			err = c.removeMember(ctx, f, c.user)
		}
	case protocol.TypeGroupMembers:
		err = c.groupMembers(ctx, f)
	case protocol.TypeGetChats, protocol.TypeGetGroups:
		err = c.listConversations(ctx, f)
	default:
		err = parley.Errorf(parley.EINVALID, "unknown frame type")
	}
	if err != nil {
		c.replyError(f.ID, err)
	}
	return false
}

// history answers GET_ONE_TO_ONE_HISTORY and GET_GROUP_CHAT_HISTORY.
func (c *Conn) history(ctx context.Context, f *protocol.Frame) error {
	if !allow(c.hub.cfg.Limits.History, c.user) {
		return parley.Errorf(parley.ERATELIMITED, "too many history requests; slow down")
	}
	page, err := pageOf(f)
	if err != nil {
		return err
	}
	h := protocol.History{Type: protocol.TypeChatHistory, ID: f.ID}
	var conv string
	if f.Type == protocol.TypeGroupHistory {
		if err := checkGroupID(f.GroupID); err != nil {
			return err
		}
		if err := c.checkMember(ctx, f.GroupID); err != nil {
			return err
		}
		conv, h.Type, h.GroupID = f.GroupID, protocol.TypeGroupChatHist, f.GroupID
	} else {
		if f.GroupID != "" {
			return parley.Errorf(parley.EINVALID, "use GET_GROUP_CHAT_HISTORY for groups")
		}
		if conv, err = c.conversation(ctx, f, true); err != nil {
			return err
		}
		h.ChatID = conv
	}
	msgs, more, err := c.hub.store.History(ctx, conv, page)
	if err != nil {
		return err
	}
	if len(msgs) == 0 && h.ChatID != "" {
		// An empty chat is a chat with someone who exists.
		if err := c.hub.userExists(ctx, parley.ChatPeer(conv, c.user)); err != nil {
			return err
		}
	}
	h.Messages = make([]protocol.Message, len(msgs))
	for i := range msgs {
		h.Messages[i] = protocol.FromMessage(&msgs[i])
	}
	h.HasMore = more
	c.reply(protocol.Encode(h))
	return nil
}

// pageOf reads before, after and limit.
func pageOf(f *protocol.Frame) (parley.Page, error) {
	p := parley.Page{Limit: parley.DefaultPageSize}
	if f.Limit != nil {
		switch {
		case *f.Limit < 1:
			return p, parley.Errorf(parley.EINVALID, "limit must be at least 1")
		case *f.Limit > parley.MaxPageSize:
			p.Limit = parley.MaxPageSize
		default:
			p.Limit = *f.Limit
		}
	}
	switch {
	case f.Before != nil && f.After != nil:
		return p, parley.Errorf(parley.EINVALID, "give before or after, not both")
	case f.Before != nil:
		if *f.Before < 1 {
			return p, parley.Errorf(parley.EINVALID, "before must be at least 1")
		}
		p.Before = *f.Before
	case f.After != nil:
		if *f.After < 0 {
			return p, parley.Errorf(parley.EINVALID, "after must be at least 0")
		}
		p.Forward, p.After = true, *f.After
	}
	return p, nil
}

// typing forwards TYPING to the other participants; nothing is stored.
// It is forwarded only between users who share a conversation (a chat
// with at least one message, or a group), and TYPING past the sender's
// limits is dropped without a reply: it is a hint, not a request.
func (c *Conn) typing(ctx context.Context, f *protocol.Frame) error {
	if !allow(c.hub.cfg.Limits.Typing, c.user) {
		return nil
	}
	t := protocol.Typing{Type: protocol.TypeTyping, From: c.user}
	var users []string
	var conv string
	if f.GroupID != "" {
		if err := checkGroupID(f.GroupID); err != nil {
			return err
		}
		members, err := c.membersOf(ctx, f.GroupID)
		if err != nil {
			return err
		}
		conv, t.GroupID = f.GroupID, f.GroupID
		for _, m := range members {
			if m.Username != c.user {
				users = append(users, m.Username)
			}
		}
	} else {
		var err error
		if conv, err = c.conversation(ctx, f, true); err != nil {
			return err
		}
		t.ChatID = conv
		users = []string{parley.ChatPeer(conv, c.user)}
		if err := c.hub.userExists(ctx, users[0]); err != nil {
			return err
		}
		// A chat exists from its first message; before it, strangers
		// get no typing from each other.
		msgs, _, err := c.hub.store.History(ctx, conv, parley.Page{Limit: 1})
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
	}
	if len(users) == 0 || !allow(c.hub.cfg.Limits.TypingPair, c.user+"\x00"+conv) {
		return nil
	}
	c.hub.publish(&parley.Event{Users: users, Frame: protocol.Encode(t)})
	return nil
}

// userExists returns ENOTFOUND for an unknown user.
func (h *Hub) userExists(ctx context.Context, username string) error {
	_, err := h.store.User(ctx, username)
	return err
}
