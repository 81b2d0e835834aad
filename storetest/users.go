package storetest

import (
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

func testUsers(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "Alice")
	if err := s.CreateUser(ctx, &parley.User{Username: "alice", PasswordHash: []byte("x"), CreatedAt: t0}); code(err) != parley.ECONFLICT {
		t.Fatalf("duplicate user: got %v, want conflict", err)
	}
	u, err := s.User(ctx, "alice")
	if err != nil {
		t.Fatalf("user: %v", err)
	}
	if u.Username != "alice" || string(u.PasswordHash) != "hash-alice" || !u.CreatedAt.Equal(t0) || u.Disabled || !u.LastSeen.IsZero() {
		t.Fatalf("user: got %+v", u)
	}
	if _, err := s.User(ctx, "ALICE"); code(err) != parley.ENOTFOUND {
		t.Fatalf("usernames are case-sensitive: got %v, want not_found", err)
	}

	seen := t0.Add(time.Minute)
	if err := s.SetLastSeen(ctx, "bob", seen); err != nil {
		t.Fatalf("set last seen: %v", err)
	}
	if err := s.SetDisabled(ctx, "bob", true); err != nil {
		t.Fatalf("set disabled: %v", err)
	}
	if u, _ := s.User(ctx, "bob"); !u.LastSeen.Equal(seen) || !u.Disabled {
		t.Fatalf("bob after updates: got %+v", u)
	}
	if err := s.SetDisabled(ctx, "nobody", true); code(err) != parley.ENOTFOUND {
		t.Fatalf("disable unknown: got %v, want not_found", err)
	}
	if err := s.SetLastSeen(ctx, "nobody", seen); code(err) != parley.ENOTFOUND {
		t.Fatalf("last seen unknown: got %v, want not_found", err)
	}

	list, err := s.Users(ctx, "", 2)
	if err != nil || len(list) != 2 || list[0].Username != "Alice" || list[1].Username != "alice" {
		t.Fatalf("users page 1: got %v, %v", list, err)
	}
	list, err = s.Users(ctx, "alice", 10)
	if err != nil || len(list) != 1 || list[0].Username != "bob" {
		t.Fatalf("users page 2: got %v, %v", list, err)
	}
}
