package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
)

// Entry kinds of the conversation timeline (protocol 1.1). A version 1
// server sends no kind: every entry is then a message.
const (
	kindMessage  = "message"
	kindEdit     = "edit"
	kindDelete   = "delete"
	kindReaction = "reaction"
)

// IsMessage says whether the entry is a message (and not an edit, a
// deletion or a reaction, which change the message they target).
func (m *Message) IsMessage() bool { return m.Kind == "" || m.Kind == kindMessage }

// find returns the entry with seq, or nil.
func (c *Conversation) find(seq int64) *Message {
	i, ok := slices.BinarySearchFunc(c.Msgs, seq, func(m Message, s int64) int { return int(m.Seq - s) })
	if !ok {
		return nil
	}
	return &c.Msgs[i]
}

// apply makes an edit, deletion or reaction change the message it targets.
// A message's own state (from a frame that carries it) already covers every
// entry up to its stateSeq; those are not applied twice.
func (c *Conversation) apply(e Message) {
	t := c.find(e.Target)
	if t == nil || !t.IsMessage() || e.Seq <= t.stateSeq {
		return // the target arrives later, carrying its state
	}
	t.stateSeq = e.Seq
	switch e.Kind {
	case kindEdit:
		if !t.Deleted {
			t.Content, t.Edited = e.Content, true
		}
	case kindDelete:
		t.Deleted, t.Content, t.Reactions = true, "", nil
	case kindReaction:
		// As the server keeps them (the server refused a 21st emoji).
		m := parley.Message{Reactions: t.Reactions}
		m.React(e.From, e.Emoji, e.Removed)
		t.Reactions = m.Reactions
	}
}

// reacted says whether user has reacted to msg with emoji.
func reacted(msg *Message, emoji, user string) bool {
	for _, r := range msg.Reactions {
		if r.Emoji == emoji {
			return slices.Contains(r.Users, user)
		}
	}
	return false
}

// lastMessage returns the newest message (not deleted) of c that ok
// accepts, or nil.
func (c *Conversation) lastMessage(ok func(*Message) bool) *Message {
	for i := len(c.Msgs) - 1; i >= 0; i-- {
		if m := &c.Msgs[i]; m.IsMessage() && !m.Deleted && ok(m) {
			return m
		}
	}
	return nil
}

// seenBy counts the participants other than from whose read position
// reaches seq.
func (c *Conversation) seenBy(seq int64, from string) int {
	n := 0
	for u, at := range c.reads {
		if u != from && at >= seq {
			n++
		}
	}
	return n
}

// read records that user has read up to seq.
func (c *Conversation) read(user string, seq int64) {
	if user == "" {
		return
	}
	if c.reads == nil {
		c.reads = map[string]int64{}
	}
	c.reads[user] = max(c.reads[user], seq)
}

// readReceipt applies READ_RECEIPT: someone's read position moved.
func (m *Model) readReceipt(f client.Frame) {
	key := f.GroupID
	if key == "" {
		key = f.ChatID
	}
	if c := m.byKey[key]; c != nil {
		c.read(f.Username, f.Seq)
	}
}

// target parses the optional "#N" that names a message by its seq, at the
// start of args; it returns the seq (0 when absent) and the rest.
func target(args []string) (int64, []string, error) {
	if len(args) == 0 || !strings.HasPrefix(args[0], "#") {
		return 0, args, nil
	}
	seq, err := strconv.ParseInt(args[0][1:], 10, 64)
	if err != nil || seq < 1 {
		return 0, args, fmt.Errorf("%q is not a message number (#N, as /seqs shows)", args[0])
	}
	return seq, args[1:], nil
}

// timelineCommand runs /edit, /delete, /react and /reply on the shown
// conversation; false if name is none of them.
func (m *Model) timelineCommand(name string, args []string) bool {
	switch name {
	case "/edit", "/delete", "/del", "/react", "/reply", "/re":
	default:
		return false
	}
	c := m.Selected()
	if c == nil {
		m.setError(name + ": open a conversation first")
		return true
	}
	seq, args, err := target(args)
	if err != nil {
		m.setError(name + ": " + err.Error())
		return true
	}
	pick := func(what string, ok func(*Message) bool) *Message {
		var msg *Message
		if seq > 0 {
			if msg = c.find(seq); msg == nil || !msg.IsMessage() || msg.Deleted || !ok(msg) {
				m.setError(fmt.Sprintf("%s: #%d is not %s here", name, seq, what))
				return nil
			}
			return msg
		}
		if msg = c.lastMessage(ok); msg == nil {
			m.setError(fmt.Sprintf("%s: there is no %s to act on", name, what))
		}
		return msg
	}
	mine := func(msg *Message) bool { return msg.From == m.me }
	anyone := func(*Message) bool { return true }
	frame := func(typ string, seq int64) map[string]any {
		f := map[string]any{"type": typ, "seq": seq}
		if c.Group {
			f["groupId"] = c.Key
		} else {
			f["chatId"] = c.Key
		}
		return f
	}
	text := strings.Join(args, " ")
	switch name {
	case "/edit":
		if text == "" {
			m.setError("usage: /edit [#N] TEXT (your last message, or #N)")
			return true
		}
		if msg := pick("a message of yours", mine); msg != nil {
			f := frame("EDIT_MESSAGE", msg.Seq)
			f["content"] = text
			m.send(request{kind: reqEdit, key: c.Key, arg: text}, f)
		}
	case "/delete", "/del":
		if msg := pick("a message of yours", func(msg *Message) bool { return mine(msg) || c.Group && c.owner == m.me }); msg != nil {
			m.send(request{kind: reqDelete, key: c.Key}, frame("DELETE_MESSAGE", msg.Seq))
		}
	case "/react":
		if len(args) != 1 {
			m.setError("usage: /react [#N] EMOJI (the last message, or #N; again to take it back)")
			return true
		}
		if msg := pick("a message", anyone); msg != nil {
			f := frame("REACT", msg.Seq)
			undo := reacted(msg, args[0], m.me)
			f["emoji"], f["remove"] = args[0], undo
			m.send(request{kind: reqReact, key: c.Key, arg: args[0], undo: undo}, f)
		}
	case "/reply", "/re":
		if text == "" {
			m.setError("usage: /reply [#N] TEXT (to the last message of someone else, or #N)")
			return true
		}
		if msg := pick("a message", func(msg *Message) bool { return seq > 0 || msg.From != m.me }); msg != nil {
			m.sendMessage(text, msg.Seq)
		}
	}
	return true
}

// timelineSuccess records what our own edit, deletion or reaction stored:
// the sending connection gets only SUCCESS, not the entry.
func (m *Model) timelineSuccess(r request, f client.Frame) {
	c := m.byKey[r.key]
	if c == nil || f.MessageID == "" {
		return // a reaction that changed nothing
	}
	e := Message{ID: f.MessageID, Seq: f.Seq, From: m.me, Target: f.Target, Time: parseTime(f.Timestamp)}
	switch r.kind {
	case reqEdit:
		e.Kind, e.Content = kindEdit, r.arg
	case reqDelete:
		e.Kind = kindDelete
	case reqReact:
		e.Kind, e.Emoji, e.Removed = kindReaction, r.arg, r.undo
	}
	m.addEntry(c, e)
	if c == m.Selected() {
		m.ackVisible()
	}
}

// addEntry adds an entry of any kind once, and applies it to its target.
func (m *Model) addEntry(c *Conversation, e Message) bool {
	if e.IsMessage() {
		e.stateSeq = max(e.Seq, c.LastSeq)
	}
	if !c.add(e) {
		return false
	}
	if !e.IsMessage() {
		c.apply(e)
	}
	c.LastSeq = max(c.LastSeq, e.Seq)
	return true
}

// foundUsers is the answer to /find.
type foundUsers struct {
	prefix string
	names  []string
	err    error
}

// find looks people up by the start of their name.
func (m *Model) find(args []string) tea.Cmd {
	if len(args) != 1 {
		m.setError("usage: /find PREFIX")
		return nil
	}
	if m.opts.FindUsers == nil {
		m.setError("/find is not available")
		return nil
	}
	prefix, lookup := args[0], m.opts.FindUsers
	m.setStatus("looking for " + prefix + "…")
	return func() tea.Msg {
		names, err := lookup(prefix)
		return foundUsers{prefix: prefix, names: names, err: err}
	}
}

func (m *Model) showFound(f foundUsers) {
	switch {
	case f.err != nil:
		m.setError("/find " + f.prefix + ": " + f.err.Error())
	case len(f.names) == 0:
		m.setStatus("nobody's name starts with " + f.prefix)
	default:
		m.setStatus("found: " + strings.Join(f.names, ", ") + " (/chat USER)")
	}
}
