// Package storetest is the conformance suite every parley.Store must pass.
// An adapter's test calls Run with a function that opens a fresh, empty
// store for each subtest.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// Opener returns a fresh, empty store; it registers its own cleanup.
type Opener func(t testing.TB) parley.Store

// AccountOpener returns a fresh, empty account store; it registers its own
// cleanup.
type AccountOpener func(t testing.TB) parley.AccountStore

// Accounts is what the account half of the suite uses: every parley.Store
// and every parley.AccountStore has it.
type Accounts interface {
	parley.UserStore
	parley.SessionStore
	parley.GroupStore
	Stats(ctx context.Context, now time.Time) (*parley.Stats, error)
}

// Run runs both halves of the suite on a store that keeps everything.
func Run(t *testing.T, open Opener) {
	runAccounts(t, func(t testing.TB) Accounts { return open(t) })
	RunMessages(t, open)
}

// RunAccounts runs the account half (users, sessions, groups) and the
// Directory's tests on an account store.
func RunAccounts(t *testing.T, open AccountOpener) {
	runAccounts(t, func(t testing.TB) Accounts { return open(t) })
	t.Run("Directory", func(t *testing.T) { testDirectory(t, open(t)) })
	t.Run("DirectoryDeleted", func(t *testing.T) { testDirectoryDeleted(t, open(t)) })
}

func runAccounts(t *testing.T, open func(t testing.TB) Accounts) {
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("FindUsers", func(t *testing.T) { testFindUsers(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("Groups", func(t *testing.T) { testGroups(t, open(t)) })
	t.Run("GroupOwnership", func(t *testing.T) { testGroupOwnership(t, open(t)) })
	t.Run("BulkAndStats", func(t *testing.T) { testBulkAndStats(t, open(t)) })
	t.Run("DeleteUser", func(t *testing.T) { testDeleteUser(t, open(t)) })
}

// RunMessages runs the message half: appends, idempotency, history,
// cursors, the inbox and the message counts. A message log runs it through
// parley.Split with an account store.
func RunMessages(t *testing.T, open Opener) {
	t.Run("AppendOneToOne", func(t *testing.T) { testAppendOneToOne(t, open(t)) })
	t.Run("AppendIdempotent", func(t *testing.T) { testAppendIdempotent(t, open(t)) })
	t.Run("AppendGroup", func(t *testing.T) { testAppendGroup(t, open(t)) })
	t.Run("AppendConcurrent", func(t *testing.T) { testAppendConcurrent(t, open(t)) })
	t.Run("History", func(t *testing.T) { testHistory(t, open(t)) })
	t.Run("CursorsAndInbox", func(t *testing.T) { testCursorsAndInbox(t, open(t)) })
	t.Run("JoinCursor", func(t *testing.T) { testJoinCursor(t, open(t)) })
	t.Run("MessageStats", func(t *testing.T) { testMessageStats(t, open(t)) })
	t.Run("EraseSender", func(t *testing.T) { testEraseSender(t, open(t)) })
	t.Run("ReadPositions", func(t *testing.T) { testReadPositions(t, open(t)) })
	t.Run("TimelineEdit", func(t *testing.T) { testTimelineEdit(t, open(t)) })
	t.Run("TimelineDelete", func(t *testing.T) { testTimelineDelete(t, open(t)) })
	t.Run("TimelineReactions", func(t *testing.T) { testTimelineReactions(t, open(t)) })
	t.Run("TimelineReplies", func(t *testing.T) { testTimelineReplies(t, open(t)) })
	t.Run("TimelineOneBatch", func(t *testing.T) { testTimelineOneBatch(t, open(t)) })
	t.Run("TimelineIdempotent", func(t *testing.T) { testTimelineIdempotent(t, open(t)) })
}

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
)

func code(err error) string { return parley.ErrorCode(err) }

func mustUsers(t testing.TB, s Accounts, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := s.CreateUser(ctx, &parley.User{Username: n, PasswordHash: []byte("hash-" + n), CreatedAt: t0}); err != nil {
			t.Fatalf("create user %s: %v", n, err)
		}
	}
}

var idSeq struct {
	sync.Mutex
	n int
}

func newID() string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("m%d", idSeq.n)
}

func direct(from, to, content, clientID string) *parley.Append {
	return &parley.Append{ClientID: clientID, From: from, To: to, Conv: parley.ChatID(from, to), Content: content, ID: newID(), Time: t0}
}

func group(from, groupID, content, clientID string) *parley.Append {
	return &parley.Append{ClientID: clientID, From: from, Conv: groupID, Content: content, ID: newID(), Time: t0}
}

// appendOK stores the batch and fails the test on any error.
func appendOK(t testing.TB, s parley.Store, batch ...*parley.Append) {
	t.Helper()
	if err := s.AppendMessages(ctx, batch); err != nil {
		t.Fatalf("append: %v", err)
	}
	for i, a := range batch {
		if a.Err != nil {
			t.Fatalf("append item %d: %v", i, a.Err)
		}
	}
}

func mustGroup(t testing.TB, s Accounts, id, owner string, private bool, members ...string) {
	t.Helper()
	g := &parley.Group{ID: id, Name: "group " + id, Owner: owner, Private: private, CreatedAt: t0}
	if err := s.CreateGroup(ctx, g, members, t0); err != nil {
		t.Fatalf("create group %s: %v", id, err)
	}
}

func seqs(msgs []parley.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// equal reports whether got holds exactly want, in order.
func equal[T comparable](got []T, want ...T) bool { return slices.Equal(got, want) }
