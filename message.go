package parley

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one stored message of a conversation.
type Message struct {
	// ID is the server-assigned messageId, unique across the cluster.
	ID string
	// Conv is the conversation: a chatId or a groupId.
	Conv string
	// Seq numbers the messages of one conversation from 1, with no gaps.
	Seq  int64
	From string
	To   string // the recipient of a one-to-one message; "" in groups
	// Content is "" once the message was erased (see EraseSender): its
	// seq, id, sender and time stay, so that seqs keep no gaps.
	Content string
	Time    time.Time
}

// Erased reports whether the message's content was erased. A message
// cannot be sent empty, so an empty content means only that.
func (m *Message) Erased() bool { return m.Content == "" }

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
	// Invalid, when set, is what validation found wrong before the store was
	// asked. A repeat of an earlier (From, ClientID) still gets the original
	// message; only a new message fails with Invalid.
	Invalid error

	// Results, filled in by the store.
	Message   Message
	Duplicate bool
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
	// Unread counts the messages above the cursor that the user did not send.
	Unread int64
}

// GroupSummary describes one of a user's groups.
type GroupSummary struct {
	GroupID string
	Name    string
	LastSeq int64
	Cursor  int64
	Unread  int64
}

// Inbox is what a user sees on connecting: every chat and group with its
// unread count.
type Inbox struct {
	Chats  []ChatSummary
	Groups []GroupSummary
}

// MessageStore keeps messages, conversations and delivery cursors.
type MessageStore interface {
	// AppendMessages stores a batch in order, in one transaction, filling in
	// the results of each Append. For each item: a repeat of (From, ClientID)
	// gets the original message with Duplicate set; otherwise Invalid, an
	// unknown recipient (ENOTFOUND), a missing group (ENOTFOUND) or a sender
	// who is not a member (EFORBIDDEN) fails the item alone; otherwise the
	// message gets the next seq of its conversation, and the sender's
	// cursor follows it if it stood right behind (a user's own messages
	// count as delivered to them). A returned error means nothing of the
	// batch was stored.
	AppendMessages(ctx context.Context, batch []*Append) error
	// History returns a page of a conversation in ascending seq order and
	// whether more messages lie further in the paging direction.
	History(ctx context.Context, conv string, page Page) ([]Message, bool, error)
	// Undelivered returns up to limit messages of conv with seq > after that
	// username did not send, in seq order.
	Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]Message, error)
	// Ack moves cursors forward, each clamped to its conversation's last
	// seq; a cursor never moves back.
	Ack(ctx context.Context, cursors []Cursor) error
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
