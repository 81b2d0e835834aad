package tui

import (
	"slices"
	"sort"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
)

// Message is one message of a conversation.
type Message struct {
	ID      string // messageId; empty while a send waits for SUCCESS
	ReqID   string // the client id of one of our sends
	Seq     int64  // 0 while pending
	From    string
	Content string
	Time    time.Time
	// Pending: sent (or waiting to be sent) and not yet confirmed.
	Pending bool
	// Failed holds the server's refusal of a send.
	Failed string

	// The timeline (protocol 1.1): Kind says what the entry is ("" or
	// "message", "edit", "delete", "reaction"); Target is the seq an edit,
	// deletion or reaction acts on, Emoji and Removed a reaction's. A
	// message carries its state: ReplyTo, Edited, Deleted, Reactions.
	Kind      string
	Target    int64
	Emoji     string
	Removed   bool
	ReplyTo   int64
	Edited    bool
	Deleted   bool
	Reactions []parley.Reaction
	// stateSeq is the newest entry the message's state is known to cover.
	stateSeq int64
}

// notice is a local line (someone joined, the member list) shown after the
// message with seq AfterSeq.
type notice struct {
	AfterSeq int64
	Text     string
}

// Conversation is a one-to-one chat or a group, as the client knows it.
type Conversation struct {
	Key   string // chatId or groupId
	Group bool
	Title string // the other user, or the group's name
	Peer  string // one-to-one: the other user
	// Status is the peer's presence: "ONLINE", "OFFLINE" or "" (unknown).
	Status   string
	LastSeen string
	// LastSeq is the highest seq known to exist; Unread how many messages
	// of others up to it this user has not been shown.
	LastSeq int64
	Unread  int64
	// Acked is the highest seq acknowledged by this client.
	Acked int64
	// Msgs holds the confirmed messages, ascending by seq, no duplicates.
	Msgs []Message
	// Pending holds our own sends that have no SUCCESS yet, in order.
	Pending []Message
	notices []notice
	ids     map[string]bool // messageIds in Msgs
	// Loaded: the newest page of history has been fetched. Loading: a
	// history request is in flight.
	Loaded, Loading bool
	// Typing maps who is typing to when they last said so.
	Typing     map[string]time.Time
	typingSent time.Time
	// reads are the participants' read positions (READ_RECEIPT, INIT_DATA,
	// GET_GROUP_MEMBERS); owner is a group's owner, once known.
	reads map[string]int64
	owner string
	// membersAsked: GET_GROUP_MEMBERS was sent for reads and owner.
	membersAsked bool
}

func newConversation(key string, group bool, title string) *Conversation {
	c := &Conversation{Key: key, Group: group, Title: title, ids: map[string]bool{}, Typing: map[string]time.Time{}}
	if !group {
		c.Peer = title
	}
	return c
}

// ChatID is the chatId of a pair of users: both names sorted bytewise,
// joined by "-".
func ChatID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "-" + b
}

// add inserts a confirmed message in seq order; false if its messageId is
// already there.
func (c *Conversation) add(m Message) bool {
	if m.ID == "" || c.ids[m.ID] {
		return false
	}
	c.ids[m.ID] = true
	i := sort.Search(len(c.Msgs), func(i int) bool { return c.Msgs[i].Seq > m.Seq })
	c.Msgs = slices.Insert(c.Msgs, i, m)
	return true
}

// maxSeq is the highest seq of a message held.
func (c *Conversation) maxSeq() int64 {
	if len(c.Msgs) == 0 {
		return 0
	}
	return c.Msgs[len(c.Msgs)-1].Seq
}

// tail returns the newest run of messages with consecutive seqs: what is
// shown. Older messages beyond a gap (offline delivery sends only the
// oldest 1000 of a conversation) appear once paging back fills the gap.
func (c *Conversation) tail() []Message {
	i := len(c.Msgs) - 1
	for i > 0 && c.Msgs[i-1].Seq >= c.Msgs[i].Seq-1 {
		i--
	}
	if i < 0 {
		return nil
	}
	return c.Msgs[i:]
}

// HasOlder says whether messages older than the ones shown exist.
func (c *Conversation) HasOlder() bool {
	t := c.tail()
	return len(t) > 0 && t[0].Seq > 1
}

// oldestShown is the seq to page back from.
func (c *Conversation) oldestShown() int64 {
	if t := c.tail(); len(t) > 0 {
		return t[0].Seq
	}
	return 0
}

// Shown returns the messages shown, confirmed then pending.
func (c *Conversation) Shown() []Message {
	return append(slices.Clone(c.tail()), c.Pending...)
}

// pendingIndex finds our send with client id reqID.
func (c *Conversation) pendingIndex(reqID string) int {
	return slices.IndexFunc(c.Pending, func(m Message) bool { return m.ReqID == reqID })
}

func (c *Conversation) addNotice(text string) {
	c.notices = append(c.notices, notice{AfterSeq: max(c.LastSeq, c.maxSeq()), Text: text})
}

// entry is one item of the message pane: a message or a notice.
type entry struct {
	msg    *Message
	notice string
}

// entries merges the shown messages and the notices in display order.
func (c *Conversation) entries() []entry {
	shown := c.tail()
	var out []entry
	n := 0
	for i := range shown {
		if !shown[i].IsMessage() {
			continue // edits, deletions and reactions show in their target
		}
		for n < len(c.notices) && c.notices[n].AfterSeq < shown[i].Seq {
			if i > 0 || c.notices[n].AfterSeq == shown[i].Seq-1 {
				out = append(out, entry{notice: c.notices[n].Text})
			}
			n++
		}
		out = append(out, entry{msg: &shown[i]})
	}
	for ; n < len(c.notices); n++ {
		out = append(out, entry{notice: c.notices[n].Text})
	}
	for i := range c.Pending {
		out = append(out, entry{msg: &c.Pending[i]})
	}
	return out
}

// messageOf converts a delivered or history frame.
func messageOf(f client.Frame) Message {
	content := f.Content
	if f.Erased && f.Kind != kindEdit {
		content = "(message erased)"
	}
	return Message{ID: f.MessageID, Seq: f.Seq, From: f.From, Content: content, Time: parseTime(f.Timestamp),
		Kind: f.Kind, Target: f.Target, Emoji: f.Emoji, Removed: f.Removed,
		ReplyTo: f.ReplyTo, Edited: f.Edited, Deleted: f.Deleted, Reactions: reactionsOf(f.Reactions)}
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// reactionsOf converts the reactions of a frame.
func reactionsOf(rs []client.Reaction) []parley.Reaction {
	if len(rs) == 0 {
		return nil
	}
	out := make([]parley.Reaction, len(rs))
	for i, r := range rs {
		out[i] = parley.Reaction{Emoji: r.Emoji, Users: r.Users}
	}
	return out
}
