package parley

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// EntryKind says what an entry of a conversation's timeline is. The zero
// value is a message, so that entries stored before the timeline had
// kinds read as what they were.
type EntryKind uint8

const (
	KindMessage  EntryKind = iota // a message someone sent
	KindEdit                      // a new content for an earlier message
	KindDelete                    // the deletion of an earlier message
	KindReaction                  // an emoji added to (or taken from) a message
)

var kindNames = [...]string{KindMessage: "message", KindEdit: "edit", KindDelete: "delete", KindReaction: "reaction"}

// String is the kind's name on the wire.
func (k EntryKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Limits of the timeline.
const (
	// MaxEmojiBytes bounds a reaction's emoji.
	MaxEmojiBytes = 32
	// MaxReactionEmoji is how many distinct emoji one message may carry.
	MaxReactionEmoji = 20
)

// Message is one stored entry of a conversation's timeline: a message, or
// an edit, deletion or reaction acting on one (Kind).
type Message struct {
	// ID is the server-assigned messageId, unique across the cluster.
	ID string
	// Conv is the conversation: a chatId or a groupId.
	Conv string
	// Seq numbers the entries of one conversation from 1, with no gaps.
	Seq  int64
	From string // who sent the message, or made the edit, deletion or reaction
	To   string // the other participant of a one-to-one chat; "" in groups
	// Content is a message's text (its latest edit's), or an edit's. It is
	// "" once erased: by a deletion, or when the sender's account was
	// deleted with its messages (see EraseSender); the entry's seq, id,
	// sender and time stay, so that seqs keep no gaps.
	Content string
	Time    time.Time

	Kind EntryKind
	// Target is the seq of the message an edit, deletion or reaction acts
	// on; 0 on a message.
	Target int64
	// Emoji and Removed describe a reaction: Removed takes it back.
	Emoji   string
	Removed bool
	// ReplyTo is the seq of the message a message answers; 0 if none.
	ReplyTo int64

	// The current state of a message, as history lists it: Edited and
	// EditedAt after an edit, Deleted after a deletion (Content is then ""),
	// and the reactions it carries now.
	Edited    bool
	EditedAt  time.Time
	Deleted   bool
	Reactions []Reaction
}

// Reaction is one emoji on a message and who put it there, in the order
// they reacted.
type Reaction struct {
	Emoji string
	Users []string
}

// Erased reports whether the content of a message or an edit was erased
// by its sender's account being deleted with its messages, or, for an
// edit, by the deletion of the message it edited. Neither can be sent
// empty, so an empty content means only that.
func (m *Message) Erased() bool {
	return (m.Kind == KindMessage || m.Kind == KindEdit) && m.Content == "" && !m.Deleted
}

// React applies a reaction by user to the message's Reactions: it adds
// user to emoji's users (remove false) or takes them off, dropping an
// emoji nobody has any more. It reports whether anything changed, and
// returns EINVALID when adding would put more than MaxReactionEmoji
// distinct emoji on the message. Stores use it so that every store keeps
// reactions by the same rule.
func (m *Message) React(user, emoji string, remove bool) (bool, error) {
	i := slices.IndexFunc(m.Reactions, func(r Reaction) bool { return r.Emoji == emoji })
	if remove {
		if i < 0 {
			return false, nil
		}
		j := slices.Index(m.Reactions[i].Users, user)
		if j < 0 {
			return false, nil
		}
		users := slices.Delete(slices.Clone(m.Reactions[i].Users), j, j+1)
		m.Reactions = slices.Clone(m.Reactions)
		if len(users) == 0 {
			m.Reactions = slices.Delete(m.Reactions, i, i+1)
		} else {
			m.Reactions[i].Users = users
		}
		return true, nil
	}
	if i < 0 {
		if len(m.Reactions) >= MaxReactionEmoji {
			return false, Errorf(EINVALID, "a message carries at most %d distinct emoji", MaxReactionEmoji)
		}
		m.Reactions = append(slices.Clone(m.Reactions), Reaction{Emoji: emoji, Users: []string{user}})
		return true, nil
	}
	if slices.Contains(m.Reactions[i].Users, user) {
		return false, nil
	}
	m.Reactions = slices.Clone(m.Reactions)
	m.Reactions[i].Users = append(slices.Clone(m.Reactions[i].Users), user)
	return true, nil
}

// CheckTarget applies the rules every store shares for an entry acting on
// target (the message at a.Target; nil when there is none), before the
// entry is stored. It returns the error the entry fails with, or nil; for
// a deletion of a message already deleted it returns nil and sets
// a.Duplicate, and the store answers with the first deletion's entry,
// which it keeps track of.
func CheckTarget(a *Append, target *Message) error {
	if target == nil {
		if a.Kind == KindMessage {
			return Errorf(EINVALID, "replyTo must be the seq of a message in this conversation")
		}
		return Errorf(ENOTFOUND, "no message with seq %d in this conversation", a.Target)
	}
	if target.Kind != KindMessage {
		if a.Kind == KindMessage {
			return Errorf(EINVALID, "replyTo must be the seq of a message in this conversation")
		}
		return Errorf(EINVALID, "entry %d is not a message", target.Seq)
	}
	switch a.Kind {
	case KindEdit:
		if target.From != a.From {
			return Errorf(EFORBIDDEN, "only the author may edit a message")
		}
		if target.Deleted {
			return Errorf(EINVALID, "a deleted message cannot be edited")
		}
	case KindDelete:
		if target.From != a.From && !a.Moderator {
			return Errorf(EFORBIDDEN, "only the author, or the group's owner, may delete a message")
		}
		if target.Deleted {
			a.Duplicate = true
		}
	case KindReaction:
		if target.Deleted {
			return Errorf(EINVALID, "a deleted message cannot get reactions")
		}
	}
	return nil
}

// ValidateEmoji checks a reaction's emoji: 1 to MaxEmojiBytes bytes of
// UTF-8 with no whitespace or control characters.
func ValidateEmoji(emoji string) error {
	if len(emoji) == 0 || len(emoji) > MaxEmojiBytes || !utf8.ValidString(emoji) {
		return Errorf(EINVALID, "emoji must be 1 to %d bytes of UTF-8", MaxEmojiBytes)
	}
	for _, r := range emoji {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return Errorf(EINVALID, "emoji must not contain whitespace or control characters")
		}
	}
	return nil
}

// IsGroup reports whether the message belongs to a group.
func (m *Message) IsGroup() bool { return IsGroupID(m.Conv) }

// ChatID names the one-to-one conversation of two users: their names sorted
// bytewise and joined by "-". Usernames cannot contain "-".
func ChatID(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "-" + b
}

// ChatPeers splits a chatId into its two usernames; ok is false when id is
// not a well-formed chatId.
func ChatPeers(id string) (a, b string, ok bool) {
	a, b, ok = strings.Cut(id, "-")
	if !ok || ValidateUsername(a) != nil || ValidateUsername(b) != nil || a >= b {
		return "", "", false
	}
	return a, b, true
}

// ChatPeer returns the participant of a chat who is not me.
func ChatPeer(chatID, me string) string {
	a, b, _ := ChatPeers(chatID)
	if a == me {
		return b
	}
	return a
}

// IsGroupID reports whether a conversation ID names a group. Group IDs never
// contain "-", and chat IDs always do.
func IsGroupID(conv string) bool { return conv != "" && !strings.Contains(conv, "-") }

// ValidateContent checks a message body: 1 to 4096 bytes of valid UTF-8,
// taken exactly as sent (nothing is trimmed or escaped).
func ValidateContent(content string) error {
	if len(content) == 0 || len(content) > MaxContentBytes {
		return Errorf(EINVALID, "content must be 1 to %d bytes", MaxContentBytes)
	}
	if !utf8.ValidString(content) {
		return Errorf(EINVALID, "content must be valid UTF-8")
	}
	return nil
}

// Append is one message handed to MessageStore.AppendMessages, and its
// outcome once the batch has been stored.
type Append struct {
	// ClientID is the sender's idempotency key; "" means none.
	ClientID string
	From     string
	// Conv is the chatId or groupId; To is the recipient of a one-to-one
	// message.
	Conv    string
	To      string
	Content string
	// ID and Time are used if the message turns out to be new.
	ID   string
	Time time.Time

	// Kind is the entry to append. An edit, deletion or reaction acts on
	// the message at seq Target of Conv; an edit carries the new Content,
	// a reaction its Emoji and whether to Remove it.
	Kind   EntryKind
	Target int64
	Emoji  string
	Remove bool
	// ReplyTo, on a message, is the seq of the message it answers (0:
	// none); it must be a message of the same conversation (EINVALID).
	ReplyTo int64
	// Moderator lets the sender delete other members' messages: they own
	// the group. The caller decides it.
	Moderator bool
	// Invalid, when set, is what validation found wrong before the store was
	// asked. A repeat of an earlier (From, ClientID) still gets the original
	// message; only a new message fails with Invalid.
	Invalid error

	// Results, filled in by the store. Duplicate is set for a repeat of
	// (From, ClientID), and for the deletion of a message already deleted:
	// Message is then the entry stored before, and nothing new is stored.
	// NoOp is set for a reaction that changed nothing (added again, or
	// removed when absent): nothing is stored, Message has only Conv,
	// From, To, Kind, Target and Emoji set, and its Seq is 0.
	Message   Message
	Duplicate bool
	NoOp      bool
	// Recipients are the users the message goes to besides the sender: the
	// recipient of a one-to-one message, the other members of a group at
	// commit time. Empty for duplicates.
	Recipients []string
	Err        error
}

// Page selects a page of history.
type Page struct {
	// Before, when > 0, asks for the newest messages with seq < Before.
	Before int64
	// Forward asks for the oldest messages with seq > After.
	Forward bool
	After   int64
	// Limit is how many messages at most, 1 to MaxPageSize.
	Limit int
}

// Cursor is how far a user has acknowledged a conversation.
type Cursor struct {
	Username string
	Conv     string
	Seq      int64
}

// ChatSummary describes one of a user's one-to-one chats.
type ChatSummary struct {
	ChatID       string
	With         string
	WithLastSeen time.Time
	LastSeq      int64
	Cursor       int64
	// ReadSeq is the user's read position, PeerReadSeq the other's.
	ReadSeq     int64
	PeerReadSeq int64
	// Unread counts the messages (entries of kind message, not deleted)
	// above ReadSeq that the user did not send.
	Unread int64
}

// GroupSummary describes one of a user's groups.
type GroupSummary struct {
	GroupID string
	Name    string
	LastSeq int64
	Cursor  int64
	ReadSeq int64
	Unread  int64 // as in ChatSummary
}

// Inbox is what a user sees on connecting: every chat and group with its
// unread count.
type Inbox struct {
	Chats  []ChatSummary
	Groups []GroupSummary
}

// MessageStore keeps messages, conversations and delivery cursors.
type MessageStore interface {
	// AppendMessages stores a batch of entries in order, in one
	// transaction, filling in the results of each Append. For each item: a
	// repeat of (From, ClientID) gets the original entry with Duplicate
	// set; otherwise Invalid, an unknown recipient (ENOTFOUND), a missing
	// group (ENOTFOUND) or a sender who is not a member (EFORBIDDEN) fails
	// the item alone; then an entry acting on a message (an edit, deletion
	// or reaction, and a message with ReplyTo) is checked against it with
	// CheckTarget, and a reaction applied with Message.React (a NoOp, or
	// EINVALID past MaxReactionEmoji); otherwise the entry gets the next
	// seq of its conversation, and the sender's cursor follows it if it
	// stood right behind (a user's own entries count as delivered to
	// them). Each entry acting on a message also changes the message's
	// stored state (Content, Edited, EditedAt, Deleted, Reactions), as
	// history lists it; a deletion erases the content of the message and
	// of its edits from storage. Items see the effects of earlier items of
	// the same batch. A returned error means nothing of the batch was
	// stored.
	AppendMessages(ctx context.Context, batch []*Append) error
	// History returns a page of a conversation's entries, of every kind, in
	// ascending seq order (messages with their current state) and whether
	// more lie further in the paging direction.
	History(ctx context.Context, conv string, page Page) ([]Message, bool, error)
	// Undelivered returns up to limit entries of conv with seq > after that
	// username did not make, in seq order, messages with their current
	// state.
	Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]Message, error)
	// Ack moves cursors forward, each clamped to its conversation's last
	// seq; a cursor never moves back.
	Ack(ctx context.Context, cursors []Cursor) error
	// MarkRead moves read positions forward as Ack moves cursors: clamped
	// to the conversation's last seq, never back. A read position is kept
	// apart from the cursor (a READ moves both; an ACK only the cursor).
	// A new group member's read position starts where their cursor does.
	MarkRead(ctx context.Context, positions []Cursor) error
	// ReadPositions returns the read position in conv of each user; 0 for
	// a user who has none.
	ReadPositions(ctx context.Context, conv string, usernames []string) ([]int64, error)
	// Inbox lists the user's chats and groups.
	Inbox(ctx context.Context, username string) (*Inbox, error)
	// Contacts lists the users who share a one-to-one chat with username.
	Contacts(ctx context.Context, username string) ([]string, error)
	// LastSeq returns the seq of a conversation's newest message; 0 if it
	// has none (or does not exist).
	LastSeq(ctx context.Context, conv string) (int64, error)
	// EraseSender erases the content of messages username sent, leaving
	// each one in place with Content "" (its seq, id, sender and time
	// stay, so seqs keep no gaps, and a repeat of its (From, ClientID)
	// gets the erased message): at least every one in username's
	// one-to-one chats, in the groups listed and in every group where
	// username holds a delivery cursor. A store that can find every
	// message of a sender erases them all. It returns how many messages
	// it erased; erasing again erases nothing more and is no error.
	EraseSender(ctx context.Context, username string, groups []string) (int64, error)
}

// PageResult finishes a page of history read by a store: rows holds, for a
// forward page, up to Limit+1 messages in ascending order, and otherwise up
// to Limit messages in descending order. It returns the page in ascending
// order and whether more messages lie further in the paging direction.
// Because seqs have no gaps, older messages exist exactly when the oldest
// one returned is above seq 1.
func PageResult(rows []Message, p Page) ([]Message, bool, error) {
	if p.Forward {
		if len(rows) > p.Limit {
			return rows[:p.Limit], true, nil
		}
		return rows, false, nil
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, len(rows) > 0 && rows[0].Seq > 1, nil
}

// StoredMessage is a message with the idempotency key it was sent with:
// what an import from one store into another carries.
type StoredMessage struct {
	Message
	ClientID string
}
