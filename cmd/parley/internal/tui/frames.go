package tui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client"
)

// handleFrame applies one server frame.
func (m *Model) handleFrame(f client.Frame) tea.Cmd {
	switch f.Type {
	case "INIT_DATA":
		m.initData(f)
	case "ONE_TO_ONE_CHAT", "GROUP_CHAT", "MESSAGE_EDITED", "MESSAGE_DELETED", "REACTION":
		m.receive(f)
	case "READ_RECEIPT":
		m.readReceipt(f)
	case "INFO":
		if f.Event == "offline_delivered" {
			m.syncing = false
			if f.Count != nil && *f.Count > 0 {
				m.setStatus(fmt.Sprintf("%d offline message(s) delivered", *f.Count))
			}
			m.ackVisible()
		} else if f.Msg != "" {
			m.setStatus(f.Msg)
		}
	case "SUCCESS":
		m.success(f)
	case "ERROR":
		m.failure(f)
	case "ONE_TO_ONE_CHAT_HISTORY", "GROUP_CHAT_HISTORY":
		m.history(f)
	case "GROUP_MEMBERS":
		m.members(f)
	case "GROUP_MEMBER_JOINED":
		m.memberJoined(f)
	case "GROUP_MEMBER_LEFT":
		m.memberLeft(f)
	case "PRESENCE_UPDATE":
		for _, c := range m.convs {
			if !c.Group && c.Peer == f.Username {
				c.Status = f.Status
				if f.LastSeen != nil {
					c.LastSeen = *f.LastSeen
				}
			}
		}
	case "TYPING":
		return m.typing(f)
	}
	return nil
}

// initData starts (or restarts, after a reconnect) the conversation list
// from INIT_DATA, then sends again the messages that never got SUCCESS:
// their ids make the server store each once.
func (m *Model) initData(f client.Frame) {
	if f.Username != "" {
		m.me = f.Username
	}
	m.state, m.syncing, m.detail = online, true, ""
	groups := map[string]bool{}
	for _, ch := range f.Chats {
		c := m.ensure(ch.ChatID, false, ch.With)
		c.Status = ch.Status
		if ch.LastSeen != nil {
			c.LastSeen = *ch.LastSeen
		}
		c.LastSeq = max(c.LastSeq, ch.LastSeq)
		c.Unread = ch.Unread
		c.read(ch.With, ch.PeerReadSeq)
	}
	for _, g := range f.Groups {
		groups[g.GroupID] = true
		c := m.ensure(g.GroupID, true, g.Name)
		c.Title = g.Name
		c.LastSeq = max(c.LastSeq, g.LastSeq)
		c.Unread = g.Unread
	}
	// Groups left from another device while this one was away.
	for _, c := range slices.Clone(m.convs) {
		if c.Group && !groups[c.Key] {
			m.remove(c.Key)
		}
	}
	resent := 0
	for _, c := range m.convs {
		for _, p := range c.Pending {
			if r, ok := m.reqs[p.ReqID]; ok && p.Failed == "" && m.opts.Sender.Send(r.frame) == nil {
				resent++
			}
		}
	}
	if resent > 0 {
		m.setStatus(fmt.Sprintf("sent %d queued message(s)", resent))
	}
	if m.sel < 0 && len(m.convs) > 0 {
		m.sel = 0
	}
	m.selectIndex(m.sel)
}

// receive adds a delivered message (live, offline or from another device
// of ours), once.
func (m *Model) receive(f client.Frame) {
	var c *Conversation
	if f.GroupID != "" {
		c = m.ensure(f.GroupID, true, f.GroupID)
	} else {
		peer := f.From
		if f.From == m.me {
			peer = f.To
		}
		key := f.ChatID
		if key == "" {
			key = ChatID(f.From, f.To)
		}
		c = m.ensure(key, false, peer)
	}
	msg := messageOf(f)
	newest := msg.Seq > c.LastSeq
	if !m.addEntry(c, msg) {
		return // a duplicate: at-least-once delivery
	}
	if msg.IsMessage() {
		delete(c.Typing, msg.From)
		if newest && msg.From != m.me && !f.Offline {
			c.Unread++
		}
	}
	if c == m.Selected() {
		if m.scroll > 0 && msg.IsMessage() && msg.Seq == c.maxSeq() {
			// Keep the lines being read in place.
			m.scroll += len(m.messageLines(c, msg, m.paneWidth()))
		}
		m.ackVisible()
	}
}

// success handles the reply to one of our requests.
func (m *Model) success(f client.Frame) {
	r, ok := m.reqs[f.ID]
	if !ok {
		return
	}
	delete(m.reqs, f.ID)
	m.clearError() // a request worked: an earlier error is stale
	c := m.byKey[r.key]
	switch r.kind {
	case reqSend:
		if c == nil {
			return
		}
		i := c.pendingIndex(f.ID)
		if i < 0 {
			return
		}
		p := c.Pending[i]
		c.Pending = append(c.Pending[:i], c.Pending[i+1:]...)
		m.addEntry(c, Message{ID: f.MessageID, Seq: f.Seq, From: m.me, Content: p.Content, ReplyTo: p.ReplyTo, Time: parseTime(f.Timestamp)})
		if c == m.Selected() {
			m.ackVisible()
		}
	case reqEdit, reqDelete, reqReact:
		m.timelineSuccess(r, f)
	case reqCreate:
		c := m.ensure(f.GroupID, true, f.Name)
		c.Title = f.Name
		c.Loaded = true // a new group has no history
		c.addNotice(fmt.Sprintf("group %q created; others join with /join %s", f.Name, f.GroupID))
		m.selectKey(c.Key)
	case reqJoin:
		c := m.ensure(f.GroupID, true, f.GroupID)
		c.membersAsked = m.send(request{kind: reqMembers, key: c.Key, quiet: true},
			map[string]any{"type": "GET_GROUP_MEMBERS", "groupId": c.Key}) == nil
		m.selectKey(c.Key)
		m.setStatus("joined " + f.GroupID)
	case reqLeave:
		name := r.key
		if c != nil {
			name = c.Title
		}
		m.remove(r.key)
		m.setStatus("you left " + name)
	case reqAdd:
		if c != nil {
			c.addNotice(r.arg + " added")
		}
	case reqRemove:
		if c != nil {
			c.addNotice(r.arg + " removed")
		}
	}
}

// failure handles ERROR: the refusal of one of our requests, or a notice.
func (m *Model) failure(f client.Frame) {
	text := f.Code
	if f.Msg != "" {
		text += ": " + f.Msg
	}
	r, ok := m.reqs[f.ID]
	if !ok {
		m.setError("error " + text)
		return
	}
	delete(m.reqs, f.ID)
	m.clearError() // a request worked: an earlier error is stale
	c := m.byKey[r.key]
	switch r.kind {
	case reqSend:
		if c != nil {
			if i := c.pendingIndex(f.ID); i >= 0 {
				c.Pending[i].Failed = text
			}
		}
		m.setError("message not sent: " + text)
	case reqHistory:
		if c == nil {
			break
		}
		c.Loading = false
		if (f.Code == "not_found" || f.Code == "invalid") && !c.Group && len(c.Msgs) == 0 && len(c.Pending) == 0 {
			m.remove(c.Key) // /chat with a user who does not exist
			m.setError("no such user: " + c.Peer)
			return
		}
		m.setError("history: " + text)
	default:
		m.setError(text)
	}
}

// history merges a page of history.
func (m *Model) history(f client.Frame) {
	r, ok := m.reqs[f.ID]
	if ok {
		delete(m.reqs, f.ID)
	}
	key := f.ChatID
	if f.GroupID != "" {
		key = f.GroupID
	}
	c := m.byKey[key]
	if c == nil {
		return
	}
	if !ok || !r.older {
		c.Loaded = true
	}
	c.Loading = false
	for _, h := range f.Messages {
		m.addEntry(c, messageOf(h))
	}
	if c == m.Selected() {
		m.ackVisible()
	}
}

// members shows a group's members, or only learns its name.
func (m *Model) members(f client.Frame) {
	r := m.reqs[f.ID]
	delete(m.reqs, f.ID)
	c := m.byKey[f.GroupID]
	if c == nil {
		return
	}
	if f.Name != "" {
		c.Title = f.Name
	}
	if f.Owner != "" {
		c.owner = f.Owner
	}
	for _, mb := range f.Members {
		c.read(mb.Username, mb.ReadSeq)
	}
	if r.quiet {
		return
	}
	names := make([]string, 0, len(f.Members))
	for _, mb := range f.Members {
		var tags []string
		if mb.Username == f.Owner {
			tags = append(tags, "owner")
		}
		tags = append(tags, strings.ToLower(mb.Status))
		names = append(names, fmt.Sprintf("%s (%s)", mb.Username, strings.Join(tags, ", ")))
	}
	c.addNotice(fmt.Sprintf("%d members: %s", len(f.Members), strings.Join(names, ", ")))
}

func (m *Model) memberJoined(f client.Frame) {
	if f.Username == m.me {
		c := m.ensure(f.GroupID, true, f.Name)
		if f.Name != "" {
			c.Title = f.Name
		}
		if f.By != "" && f.By != m.me {
			c.addNotice(f.By + " added you")
		}
		return
	}
	c := m.byKey[f.GroupID]
	if c == nil {
		return
	}
	if f.By == "" || f.By == f.Username {
		c.addNotice(f.Username + " joined")
	} else {
		c.addNotice(f.By + " added " + f.Username)
	}
}

func (m *Model) memberLeft(f client.Frame) {
	c := m.byKey[f.GroupID]
	if c == nil {
		return
	}
	if f.Username == m.me {
		m.remove(c.Key)
		if f.By != "" && f.By != m.me {
			m.setStatus(f.By + " removed you from " + c.Title)
		} else {
			m.setStatus("you left " + c.Title)
		}
		return
	}
	if f.By == "" || f.By == f.Username {
		c.addNotice(f.Username + " left")
	} else {
		c.addNotice(f.By + " removed " + f.Username)
	}
	delete(c.Typing, f.Username)
}

// typing shows that someone is typing, for TypingTTL.
func (m *Model) typing(f client.Frame) tea.Cmd {
	key := f.GroupID
	if key == "" {
		key = f.ChatID
	}
	c := m.byKey[key]
	if c == nil || f.From == "" || f.From == m.me {
		return nil
	}
	c.Typing[f.From] = m.opts.Now()
	if m.ticking {
		return nil
	}
	m.ticking = true
	return m.tick()
}
