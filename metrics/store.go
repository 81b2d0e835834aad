package metrics

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
)

// Store wraps a store so that its operations are timed. Operations not
// listed here pass through untimed.
func (m *Metrics) Store(s parley.Store) parley.Store { return &timedStore{Store: s, m: m} }

type timedStore struct {
	parley.Store
	m *Metrics
}

func (s *timedStore) since(op string, start time.Time) { s.m.StoreOp(op, time.Since(start)) }

func (s *timedStore) AppendMessages(ctx context.Context, batch []*parley.Append) error {
	defer s.since("append_messages", time.Now())
	return s.Store.AppendMessages(ctx, batch)
}

func (s *timedStore) Ack(ctx context.Context, cursors []parley.Cursor) error {
	defer s.since("ack", time.Now())
	return s.Store.Ack(ctx, cursors)
}

func (s *timedStore) History(ctx context.Context, conv string, p parley.Page) ([]parley.Message, bool, error) {
	defer s.since("history", time.Now())
	return s.Store.History(ctx, conv, p)
}

func (s *timedStore) Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]parley.Message, error) {
	defer s.since("undelivered", time.Now())
	return s.Store.Undelivered(ctx, username, conv, after, limit)
}

func (s *timedStore) Inbox(ctx context.Context, username string) (*parley.Inbox, error) {
	defer s.since("inbox", time.Now())
	return s.Store.Inbox(ctx, username)
}

func (s *timedStore) Contacts(ctx context.Context, username string) ([]string, error) {
	defer s.since("contacts", time.Now())
	return s.Store.Contacts(ctx, username)
}

func (s *timedStore) User(ctx context.Context, username string) (*parley.User, error) {
	defer s.since("user", time.Now())
	return s.Store.User(ctx, username)
}

func (s *timedStore) CreateUser(ctx context.Context, u *parley.User) error {
	defer s.since("create_user", time.Now())
	return s.Store.CreateUser(ctx, u)
}

func (s *timedStore) Session(ctx context.Context, id string) (*parley.Session, error) {
	defer s.since("session", time.Now())
	return s.Store.Session(ctx, id)
}

func (s *timedStore) CreateSession(ctx context.Context, sess *parley.Session, refreshHash string) error {
	defer s.since("create_session", time.Now())
	return s.Store.CreateSession(ctx, sess, refreshHash)
}

func (s *timedStore) IsMember(ctx context.Context, id, username string) (bool, error) {
	defer s.since("is_member", time.Now())
	return s.Store.IsMember(ctx, id, username)
}

func (s *timedStore) Members(ctx context.Context, id string) ([]parley.Member, error) {
	defer s.since("members", time.Now())
	return s.Store.Members(ctx, id)
}

func (s *timedStore) SetLastSeen(ctx context.Context, seen map[string]time.Time) error {
	defer s.since("set_last_seen", time.Now())
	return s.Store.SetLastSeen(ctx, seen)
}
