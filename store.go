package parley

import (
	"context"
	"slices"
	"time"
)

// Stats are a store's totals.
type Stats struct {
	Users          int64 `json:"users"`
	DisabledUsers  int64 `json:"disabledUsers"`
	ActiveSessions int64 `json:"activeSessions"`
	Chats          int64 `json:"chats"`
	Groups         int64 `json:"groups"`
	Messages       int64 `json:"messages"`
	// Log describes the message log's engine, when messages live in one
	// apart from the accounts.
	Log *LogStats `json:"messageLog,omitempty"`
}

// Store is everything Parley keeps: one adapter that holds it all (the
// PostgreSQL store), or an account store and a message log put together by
// Split.
type Store interface {
	UserStore
	SessionStore
	MessageStore
	GroupStore
	// Stats counts what the store holds.
	Stats(ctx context.Context, now time.Time) (*Stats, error)
	// Ping checks that the store can be reached.
	Ping(ctx context.Context) error
	Close() error
}

// AccountStore keeps users, sessions, groups and memberships: the relational
// half of the data, written rarely and read by key.
type AccountStore interface {
	UserStore
	SessionStore
	GroupStore
	Directory
	// Stats counts users, sessions and groups; Chats and Messages are 0.
	Stats(ctx context.Context, now time.Time) (*Stats, error)
	Ping(ctx context.Context) error
	Close() error
}

// Directory answers what a message log needs to know about accounts and
// groups. It is read on the hot path (once per group per batch of
// messages), so an account store that owns its data serves it from memory.
type Directory interface {
	// UserExists reports whether an account named username exists, disabled
	// or not.
	UserExists(ctx context.Context, username string) (bool, error)
	// GroupMembers lists a group's current members, earliest membership
	// first; nil (and no error) when the group does not exist. The caller
	// may keep the slice but must not change it.
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
	// UserGroups lists the groups username is a member of, in groupId order,
	// with GroupID and Name set.
	UserGroups(ctx context.Context, username string) ([]GroupSummary, error)
	// LastSeen returns, for each name, when that user's last connection
	// closed; zero if never or if the user is unknown.
	LastSeen(ctx context.Context, usernames []string) ([]time.Time, error)
}

// LogStats describe a message log: what it holds and the state of its
// engine. Fields an engine does not have are zero.
type LogStats struct {
	Messages int64 `json:"messages"`
	Chats    int64 `json:"chats"`
	// DiskBytes is the size of the log's files.
	DiskBytes int64 `json:"diskBytes"`
	// CompactionDebtBytes estimates the bytes compactions still have to
	// rewrite to bring the log back into shape.
	CompactionDebtBytes int64 `json:"compactionDebtBytes"`
	// WriteStalls counts the times writes were held back because
	// compactions fell behind, since the log was opened.
	WriteStalls int64 `json:"writeStalls"`
	// WriteStallSeconds is the time writes spent held back, in total.
	WriteStallSeconds float64 `json:"writeStallSeconds"`
	// CacheHits and CacheMisses count reads of the log's blocks answered
	// from memory and from its files, since it was opened (zero for a log
	// without a block cache of its own).
	CacheHits   int64 `json:"cacheHits"`
	CacheMisses int64 `json:"cacheMisses"`
}

// MessageLog keeps messages, delivery cursors and each user's list of
// one-to-one chats, and nothing about accounts: a log-structured store for
// the one kind of data that grows without bound. Split puts it together
// with an AccountStore.
type MessageLog interface {
	// AppendMessages stores a batch in order as MessageStore.AppendMessages
	// does, except that the caller has already asked the Directory: an item
	// that would fail if new (an unknown recipient, a missing group, a
	// sender who is not a member) arrives with Invalid set, and a valid
	// group message arrives with its Recipients filled in. The log still
	// answers a repeat of (From, ClientID) with the original first.
	AppendMessages(ctx context.Context, batch []*Append) error
	History(ctx context.Context, conv string, page Page) ([]Message, bool, error)
	Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]Message, error)
	Ack(ctx context.Context, cursors []Cursor) error
	MarkRead(ctx context.Context, positions []Cursor) error
	ReadPositions(ctx context.Context, conv string, usernames []string) ([]int64, error)
	Contacts(ctx context.Context, username string) ([]string, error)
	LastSeq(ctx context.Context, conv string) (int64, error)
	// Inbox lists username's one-to-one chats (WithLastSeen left zero) and
	// fills in LastSeq, Cursor and Unread of the given groups, which the
	// caller read from the Directory.
	Inbox(ctx context.Context, username string, groups []GroupSummary) (*Inbox, error)
	// EraseSender is MessageStore.EraseSender; the caller lists the groups
	// username is a member of.
	EraseSender(ctx context.Context, username string, groups []string) (int64, error)
	// Stats counts what the log holds and reports its engine's state.
	Stats(ctx context.Context) (*LogStats, error)
	Ping(ctx context.Context) error
	Close() error
}

// Split returns the Store that keeps accounts in one store and messages in
// another. Closing it closes both, the log first.
func Split(accounts AccountStore, log MessageLog) Store {
	return &split{AccountStore: accounts, log: log}
}

type split struct {
	AccountStore
	log MessageLog
}

var _ Store = (*split)(nil)

// AppendMessages asks the directory about each conversation once per batch,
// then hands the batch to the log.
func (s *split) AppendMessages(ctx context.Context, batch []*Append) error {
	members := make(map[string][]string) // group -> members, nil if missing
	known := make(map[string]bool)       // recipient -> exists
	for _, a := range batch {
		a.Recipients = nil
		if a.Invalid != nil {
			continue
		}
		if !IsGroupID(a.Conv) {
			ok, seen := known[a.To]
			if !seen {
				var err error
				if ok, err = s.UserExists(ctx, a.To); err != nil {
					return err
				}
				known[a.To] = ok
			}
			if !ok {
				a.Invalid = Errorf(ENOTFOUND, "no user %q", a.To)
				continue
			}
			a.Recipients = []string{a.To}
			continue
		}
		m, seen := members[a.Conv]
		if !seen {
			var err error
			if m, err = s.GroupMembers(ctx, a.Conv); err != nil {
				return err
			}
			members[a.Conv] = m
		}
		switch {
		case m == nil:
			a.Invalid = Errorf(ENOTFOUND, "no group %q", a.Conv)
		case !slices.Contains(m, a.From):
			a.Invalid = Errorf(EFORBIDDEN, "you are not a member of group %q", a.Conv)
		default:
			r := make([]string, 0, len(m)-1)
			for _, u := range m {
				if u != a.From {
					r = append(r, u)
				}
			}
			a.Recipients = r
		}
	}
	return s.log.AppendMessages(ctx, batch)
}

func (s *split) History(ctx context.Context, conv string, page Page) ([]Message, bool, error) {
	return s.log.History(ctx, conv, page)
}

func (s *split) Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]Message, error) {
	return s.log.Undelivered(ctx, username, conv, after, limit)
}

func (s *split) Ack(ctx context.Context, cursors []Cursor) error { return s.log.Ack(ctx, cursors) }

func (s *split) MarkRead(ctx context.Context, positions []Cursor) error {
	return s.log.MarkRead(ctx, positions)
}

func (s *split) ReadPositions(ctx context.Context, conv string, usernames []string) ([]int64, error) {
	return s.log.ReadPositions(ctx, conv, usernames)
}

func (s *split) Contacts(ctx context.Context, username string) ([]string, error) {
	return s.log.Contacts(ctx, username)
}

func (s *split) LastSeq(ctx context.Context, conv string) (int64, error) {
	return s.log.LastSeq(ctx, conv)
}

func (s *split) EraseSender(ctx context.Context, username string, groups []string) (int64, error) {
	return s.log.EraseSender(ctx, username, groups)
}

// Inbox reads the user's groups from the directory, their state and the
// chats from the log, and the chat peers' last-seen times from the
// directory.
func (s *split) Inbox(ctx context.Context, username string) (*Inbox, error) {
	groups, err := s.UserGroups(ctx, username)
	if err != nil {
		return nil, err
	}
	in, err := s.log.Inbox(ctx, username, groups)
	if err != nil {
		return nil, err
	}
	if len(in.Chats) > 0 {
		peers := make([]string, len(in.Chats))
		for i, c := range in.Chats {
			peers[i] = c.With
		}
		seen, err := s.LastSeen(ctx, peers)
		if err != nil {
			return nil, err
		}
		for i := range in.Chats {
			in.Chats[i].WithLastSeen = seen[i]
		}
	}
	return in, nil
}

// JoinGroup and AddMember start a new member's cursor at the group's last
// seq, read before the membership exists: a message committed after the
// read reaches the new member (live if they are a recipient at commit, as
// an offline message otherwise), so nothing sent after they joined is
// missed, at the price of perhaps one message sent just before.
func (s *split) JoinGroup(ctx context.Context, id, username string, now time.Time) (bool, error) {
	last, err := s.log.LastSeq(ctx, id)
	if err != nil {
		return false, err
	}
	added, err := s.AccountStore.JoinGroup(ctx, id, username, now)
	if err != nil || !added {
		return added, err
	}
	return true, s.startCursor(ctx, id, username, last)
}

func (s *split) AddMember(ctx context.Context, id, by, username string, now time.Time) (bool, error) {
	last, err := s.log.LastSeq(ctx, id)
	if err != nil {
		return false, err
	}
	added, err := s.AccountStore.AddMember(ctx, id, by, username, now)
	if err != nil || !added {
		return added, err
	}
	return true, s.startCursor(ctx, id, username, last)
}

func (s *split) startCursor(ctx context.Context, id, username string, last int64) error {
	if last == 0 {
		return nil
	}
	start := []Cursor{{Username: username, Conv: id, Seq: last}}
	if err := s.log.Ack(ctx, start); err != nil {
		return err
	}
	return s.log.MarkRead(ctx, start)
}

// Stats adds the log's counts to the account store's.
func (s *split) Stats(ctx context.Context, now time.Time) (*Stats, error) {
	st, err := s.AccountStore.Stats(ctx, now)
	if err != nil {
		return nil, err
	}
	ls, err := s.log.Stats(ctx)
	if err != nil {
		return nil, err
	}
	st.Chats, st.Messages, st.Log = ls.Chats, ls.Messages, ls
	return st, nil
}

// Ping checks both stores.
func (s *split) Ping(ctx context.Context) error {
	if err := s.AccountStore.Ping(ctx); err != nil {
		return err
	}
	return s.log.Ping(ctx)
}

// Close closes the log, then the account store.
func (s *split) Close() error {
	err := s.log.Close()
	if err2 := s.AccountStore.Close(); err == nil {
		err = err2
	}
	return err
}
