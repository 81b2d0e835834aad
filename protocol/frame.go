package protocol

import (
	"bytes"
	"encoding/json"

	"github.com/parley-chat/parley"
)

// Client frame types.
const (
	TypeOneToOne        = "ONE_TO_ONE_CHAT"
	TypeGroup           = "GROUP_CHAT"
	TypeOneToOneHistory = "GET_ONE_TO_ONE_HISTORY"
	TypeGroupHistory    = "GET_GROUP_CHAT_HISTORY"
	TypeCreateGroup     = "CREATE_GROUP"
	TypeJoinGroup       = "JOIN_GROUP"
	TypeAddMember       = "ADD_GROUP_MEMBER"
	TypeRemoveMember    = "REMOVE_GROUP_MEMBER"
	TypeLeaveGroup      = "LEAVE_GROUP"
	TypeGroupMembers    = "GET_GROUP_MEMBERS"
	TypeAck             = "ACK"
	TypeTyping          = "TYPING"
	TypePing            = "PING"
	TypeDisconnect      = "DISCONNECT"
	TypeGetChats        = "GET_CHATS"
	TypeGetGroups       = "GET_GROUPS"
	TypeEdit            = "EDIT_MESSAGE"
	TypeDelete          = "DELETE_MESSAGE"
	TypeReact           = "REACT"
	TypeRead            = "READ"
)

// Server frame types (besides the chat types above, which are also
// delivered, and TYPING, which is forwarded).
const (
	TypeSuccess        = "SUCCESS"
	TypeError          = "ERROR"
	TypeInfo           = "INFO"
	TypePong           = "PONG"
	TypeInitData       = "INIT_DATA"
	TypeChatHistory    = "ONE_TO_ONE_CHAT_HISTORY"
	TypeGroupChatHist  = "GROUP_CHAT_HISTORY"
	TypeMembers        = "GROUP_MEMBERS"
	TypeMemberJoined   = "GROUP_MEMBER_JOINED"
	TypeMemberLeft     = "GROUP_MEMBER_LEFT"
	TypePresenceUpdate = "PRESENCE_UPDATE"
	TypeChats          = "CHATS"
	TypeGroups         = "GROUPS"
	TypeEdited         = "MESSAGE_EDITED"
	TypeDeleted        = "MESSAGE_DELETED"
	TypeReaction       = "REACTION"
	TypeReadReceipt    = "READ_RECEIPT"
)

// Presence statuses.
const (
	StatusOnline  = "ONLINE"
	StatusOffline = "OFFLINE"
)

// WebSocket close codes used by the server.
const (
	CloseNormal      = 1000 // after DISCONNECT
	CloseGoingAway   = 1001 // server shutting down
	ClosePolicy      = 1008 // session ended: logout, revocation, disabled user
	CloseTooLarge    = 1009 // frame over MaxFrameBytes
	CloseInternal    = 1011 // the server failed: could not start the session, or write
	CloseTryAgain    = 1013 // client too slow to keep up
	MaxFrameBytes    = 64 << 10
	MaxNestingDepth  = 32
	MaxGroupMembers  = 1000 // members listed in one CREATE_GROUP
	MaxGroupIDLength = 64   // a groupId longer than this is not one
)

// Frame is a decoded client frame: the union of every type's fields.
// Optional numbers are pointers so that "absent" and "0" differ.
type Frame struct {
	Type     string   `json:"type"`
	ID       string   `json:"id,omitempty"`
	To       string   `json:"to,omitempty"`
	From     *string  `json:"from,omitempty"`
	ChatID   string   `json:"chatId,omitempty"`
	GroupID  string   `json:"groupId,omitempty"`
	Content  string   `json:"content,omitempty"`
	Before   *int64   `json:"before,omitempty"`
	After    *int64   `json:"after,omitempty"`
	Limit    *int     `json:"limit,omitempty"`
	Name     string   `json:"name,omitempty"`
	Members  []string `json:"members,omitempty"`
	Private  bool     `json:"private,omitempty"`
	Username string   `json:"username,omitempty"`
	Seq      *int64   `json:"seq,omitempty"`
	Offset   *int     `json:"offset,omitempty"`
	ReplyTo  *int64   `json:"replyTo,omitempty"`
	Emoji    string   `json:"emoji,omitempty"`
	Remove   bool     `json:"remove,omitempty"`

	// Invalid is set by Decode on a send whose fields could not be read.
	Invalid error `json:"-"`
}

// Message is an entry of a conversation's timeline as delivered and as
// listed in history: a message (with its current state), an edit, a
// deletion or a reaction (Kind).
type Message struct {
	MessageID string `json:"messageId"`
	Seq       int64  `json:"seq"`
	From      string `json:"from"`
	// Content is a message's or an edit's; deletions and reactions have
	// none.
	Content   *string `json:"content,omitempty"`
	Timestamp string  `json:"timestamp"`
	ChatID    string  `json:"chatId,omitempty"`
	To        string  `json:"to,omitempty"`
	GroupID   string  `json:"groupId,omitempty"`
	Kind      string  `json:"kind"`
	// Target is the message an edit, deletion or reaction acts on.
	Target    int64      `json:"target,omitempty"`
	Emoji     string     `json:"emoji,omitempty"`
	Removed   *bool      `json:"removed,omitempty"` // reactions only
	ReplyTo   int64      `json:"replyTo,omitempty"`
	Edited    bool       `json:"edited,omitempty"`
	EditedAt  string     `json:"editedAt,omitempty"`
	Deleted   bool       `json:"deleted,omitempty"`
	Reactions []Reaction `json:"reactions,omitempty"`
	// Erased marks a message or edit whose content was erased because its
	// sender's account was deleted with its messages (or, for an edit,
	// because the message was deleted): Content is "".
	Erased bool `json:"erased,omitempty"`
}

// Reaction is one emoji on a message and who reacted with it.
type Reaction struct {
	Emoji string   `json:"emoji"`
	Users []string `json:"users"`
}

// FromMessage converts a stored entry to its wire form, which points into
// m (its Content): encode it before m changes.
func FromMessage(m *parley.Message) Message {
	w := Message{
		MessageID: m.ID,
		Seq:       m.Seq,
		From:      m.From,
		Timestamp: parley.FormatTime(m.Time),
		Kind:      m.Kind.String(),
		Target:    m.Target,
		Erased:    m.Erased(),
	}
	if m.IsGroup() {
		w.GroupID = m.Conv
	} else {
		w.ChatID = m.Conv
		w.To = m.To
	}
	switch m.Kind {
	case parley.KindMessage:
		w.Content = &m.Content // encoded before m changes; no copy to allocate
		w.ReplyTo = m.ReplyTo
		w.Edited, w.Deleted = m.Edited, m.Deleted
		if m.Edited {
			w.EditedAt = parley.FormatTime(m.EditedAt)
		}
		if len(m.Reactions) > 0 {
			w.Reactions = make([]Reaction, len(m.Reactions))
			for i, r := range m.Reactions {
				w.Reactions[i] = Reaction{Emoji: r.Emoji, Users: r.Users}
			}
		}
	case parley.KindEdit:
		w.Content = &m.Content
	case parley.KindReaction:
		removed := m.Removed
		w.Emoji, w.Removed = m.Emoji, &removed
	}
	return w
}

// EntryFrameType is the type of the frame that delivers an entry:
// ONE_TO_ONE_CHAT or GROUP_CHAT for a message, MESSAGE_EDITED,
// MESSAGE_DELETED or REACTION for the others.
func EntryFrameType(m *parley.Message) string {
	switch m.Kind {
	case parley.KindEdit:
		return TypeEdited
	case parley.KindDelete:
		return TypeDeleted
	case parley.KindReaction:
		return TypeReaction
	}
	if m.IsGroup() {
		return TypeGroup
	}
	return TypeOneToOne
}

// Delivery is a frame that delivers a timeline entry to a participant
// (ONE_TO_ONE_CHAT, GROUP_CHAT, MESSAGE_EDITED, MESSAGE_DELETED or
// REACTION).
type Delivery struct {
	Type string `json:"type"`
	Message
	Offline bool `json:"offline,omitempty"`
}

// Success is the SUCCESS reply.
type Success struct {
	Type      string `json:"type"`
	ID        string `json:"id,omitempty"`
	MessageID string `json:"messageId,omitempty"`
	ChatID    string `json:"chatId,omitempty"`
	GroupID   string `json:"groupId,omitempty"`
	Name      string `json:"name,omitempty"`
	Seq       int64  `json:"seq,omitempty"`
	Target    int64  `json:"target,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
}

// ErrorFrame is the ERROR reply.
type ErrorFrame struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Code string `json:"code"`
	Msg  string `json:"msg"`
}

// Info is an INFO frame.
type Info struct {
	Type  string `json:"type"`
	Msg   string `json:"msg"`
	Event string `json:"event,omitempty"`
	Count *int   `json:"count,omitempty"`
}

// Pong answers PING.
type Pong struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

// History is ONE_TO_ONE_CHAT_HISTORY or GROUP_CHAT_HISTORY.
type History struct {
	Type     string    `json:"type"`
	ID       string    `json:"id,omitempty"`
	ChatID   string    `json:"chatId,omitempty"`
	GroupID  string    `json:"groupId,omitempty"`
	Messages []Message `json:"messages"`
	HasMore  bool      `json:"hasMore"`
}

// MemberStatus is one row of GROUP_MEMBERS.
type MemberStatus struct {
	Username string `json:"username"`
	Status   string `json:"status"`
	ReadSeq  int64  `json:"readSeq"`
}

// Members is GROUP_MEMBERS.
type Members struct {
	Type    string         `json:"type"`
	ID      string         `json:"id,omitempty"`
	GroupID string         `json:"groupId"`
	Name    string         `json:"name"`
	Owner   string         `json:"owner"`
	Members []MemberStatus `json:"members"`
}

// ChatInfo is one chat of INIT_DATA.
type ChatInfo struct {
	ChatID   string  `json:"chatId"`
	With     string  `json:"with"`
	Status   string  `json:"status"`
	LastSeen *string `json:"lastSeen"`
	LastSeq  int64   `json:"lastSeq"`
	Unread   int64   `json:"unread"`
	// ReadSeq is the user's read position, PeerReadSeq the other's.
	ReadSeq     int64 `json:"readSeq"`
	PeerReadSeq int64 `json:"peerReadSeq"`
}

// GroupInfo is one group of INIT_DATA.
type GroupInfo struct {
	GroupID string `json:"groupId"`
	Name    string `json:"name"`
	LastSeq int64  `json:"lastSeq"`
	Unread  int64  `json:"unread"`
	ReadSeq int64  `json:"readSeq"`
}

// InitData is the first frame of every chat connection.
type InitData struct {
	Type     string      `json:"type"`
	Username string      `json:"username"`
	Chats    []ChatInfo  `json:"chats"`
	Groups   []GroupInfo `json:"groups"`
	// MoreChats and MoreGroups say that the lists were cut at their
	// bound; GET_CHATS and GET_GROUPS list the rest.
	MoreChats  bool `json:"moreChats,omitempty"`
	MoreGroups bool `json:"moreGroups,omitempty"`
}

// ChatList is CHATS, the reply to GET_CHATS: a page of the user's chats
// in ascending chatId order, as INIT_DATA lists them.
type ChatList struct {
	Type    string     `json:"type"`
	ID      string     `json:"id,omitempty"`
	Offset  int        `json:"offset"`
	Chats   []ChatInfo `json:"chats"`
	HasMore bool       `json:"hasMore"`
}

// GroupList is GROUPS, the reply to GET_GROUPS.
type GroupList struct {
	Type    string      `json:"type"`
	ID      string      `json:"id,omitempty"`
	Offset  int         `json:"offset"`
	Groups  []GroupInfo `json:"groups"`
	HasMore bool        `json:"hasMore"`
}

// MemberJoined is GROUP_MEMBER_JOINED.
type MemberJoined struct {
	Type     string `json:"type"`
	GroupID  string `json:"groupId"`
	Name     string `json:"name"`
	Username string `json:"username"`
	By       string `json:"by"`
}

// GroupCreated is an event between nodes, never sent to a client: the
// GROUP_MEMBER_JOINED frames of a new group, one per member, carried as
// one event (its users: the members) and expanded by each node for its own
// connections (Expand), so that a group of N members costs N deliveries
// between nodes rather than N events to N members each.
type GroupCreated struct {
	Type    string   `json:"type"` // TypeGroupCreated
	GroupID string   `json:"groupId"`
	Name    string   `json:"name"`
	By      string   `json:"by"`
	Members []string `json:"members"`
}

// TypeGroupCreated is the type of GroupCreated; its leading underscore
// keeps it apart from every frame type of the protocol.
const TypeGroupCreated = "_GROUP_CREATED"

var groupCreatedPrefix = []byte(`{"type":"` + TypeGroupCreated + `"`)

// ExpandEvent returns the frames an event frame stands for: the
// GROUP_MEMBER_JOINED frames of a GroupCreated, or the frame itself.
func ExpandEvent(frame []byte) [][]byte {
	if !bytes.HasPrefix(frame, groupCreatedPrefix) {
		return [][]byte{frame}
	}
	var g GroupCreated
	if json.Unmarshal(frame, &g) != nil {
		return nil
	}
	out := make([][]byte, len(g.Members))
	for i, m := range g.Members {
		out[i] = Encode(MemberJoined{Type: TypeMemberJoined, GroupID: g.GroupID, Name: g.Name, Username: m, By: g.By})
	}
	return out
}

// MemberLeft is GROUP_MEMBER_LEFT.
type MemberLeft struct {
	Type     string `json:"type"`
	GroupID  string `json:"groupId"`
	Username string `json:"username"`
	By       string `json:"by"`
	Owner    string `json:"owner"`
}

// ReadReceipt is READ_RECEIPT: a participant's read position moved.
type ReadReceipt struct {
	Type      string `json:"type"`
	ChatID    string `json:"chatId,omitempty"`
	GroupID   string `json:"groupId,omitempty"`
	Username  string `json:"username"`
	Seq       int64  `json:"seq"`
	Timestamp string `json:"timestamp"`
}

// PresenceUpdate is PRESENCE_UPDATE.
type PresenceUpdate struct {
	Type     string  `json:"type"`
	Username string  `json:"username"`
	Status   string  `json:"status"`
	LastSeen *string `json:"lastSeen"`
}

// Typing is a forwarded TYPING frame.
type Typing struct {
	Type    string `json:"type"`
	From    string `json:"from"`
	ChatID  string `json:"chatId,omitempty"`
	GroupID string `json:"groupId,omitempty"`
}

// Encode marshals a server frame. Server frames are built from plain
// structs, so marshaling cannot fail short of a programming error, which
// panics.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("protocol: encode: " + err.Error())
	}
	return b
}

// presencePrefix begins every encoded PresenceUpdate: Type is its first
// field.
var presencePrefix = []byte(`{"type":"` + TypePresenceUpdate + `"`)

// IsPresenceUpdate reports whether an encoded server frame is a
// PRESENCE_UPDATE, the only event a presence connection gets.
func IsPresenceUpdate(frame []byte) bool { return bytes.HasPrefix(frame, presencePrefix) }

// Error builds the ERROR reply for err, echoing the frame id.
func Error(id string, err error) []byte {
	return Encode(ErrorFrame{Type: TypeError, ID: id, Code: parley.ErrorCode(err), Msg: parley.ErrorMessage(err)})
}
