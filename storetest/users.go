package storetest

import (
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

func testUsers(t *testing.T, s Accounts) {
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
	if err := s.SetLastSeen(ctx, map[string]time.Time{"bob": seen, "nobody": seen}); err != nil {
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

	list, err := s.Users(ctx, "", 2)
	if err != nil || len(list) != 2 || list[0].Username != "Alice" || list[1].Username != "alice" {
		t.Fatalf("users page 1: got %v, %v", list, err)
	}
	list, err = s.Users(ctx, "alice", 10)
	if err != nil || len(list) != 1 || list[0].Username != "bob" {
		t.Fatalf("users page 2: got %v, %v", list, err)
	}
}

func testBulkAndStats(t *testing.T, s Accounts) {
	mustUsers(t, s, "alice")
	var batch []*parley.User
	for _, n := range []string{"alice", "bob", "carol", "bob"} {
		batch = append(batch, &parley.User{Username: n, PasswordHash: []byte("seed"), CreatedAt: t0})
	}
	n, err := s.CreateUsers(ctx, batch)
	if err != nil || n != 2 {
		t.Fatalf("create users: got %d, %v; want 2 (alice existed, bob listed twice)", n, err)
	}
	if n, err := s.CreateUsers(ctx, batch); err != nil || n != 0 {
		t.Fatalf("again: got %d, %v; want 0", n, err)
	}
	if u, err := s.User(ctx, "carol"); err != nil || string(u.PasswordHash) != "seed" {
		t.Fatalf("bulk user: got %+v, %v", u, err)
	}
	if u, _ := s.User(ctx, "alice"); string(u.PasswordHash) != "hash-alice" {
		t.Fatal("bulk create overwrote an existing user")
	}

	for _, id := range []string{"s1", "s2", "s3"} {
		user := "alice"
		if id == "s3" {
			user = "bob"
		}
		if err := s.CreateSession(ctx, &parley.Session{ID: id, Username: user, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, "r-"+id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeSession(ctx, "s2", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	if sess, _ := s.Session(ctx, "s3"); !sess.UserDisabled || sess.Active(t0) {
		t.Fatalf("a disabled user's session: got %+v", sess)
	}
	if sess, _ := s.Session(ctx, "s1"); sess.UserDisabled || !sess.Active(t0) {
		t.Fatalf("an active session: got %+v", sess)
	}
	ended, err := s.EndedSessions(ctx, []string{"s1", "s2", "s3", "nope"})
	if err != nil {
		t.Fatal(err)
	}
	gotEnded := map[string]bool{}
	for _, id := range ended {
		gotEnded[id] = true
	}
	if len(ended) != 3 || !gotEnded["s2"] || !gotEnded["s3"] || !gotEnded["nope"] {
		t.Fatalf("ended sessions: got %v, want s2 (revoked), s3 (disabled user), nope (unknown)", ended)
	}
	if ended, err := s.EndedSessions(ctx, nil); err != nil || len(ended) != 0 {
		t.Fatalf("no ids: got %v, %v", ended, err)
	}

	mustGroup(t, s, "g1", "alice", false, "bob")
	st, err := s.Stats(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	got := parley.Stats{Users: st.Users, DisabledUsers: st.DisabledUsers, ActiveSessions: st.ActiveSessions, Groups: st.Groups}
	want := parley.Stats{Users: 3, DisabledUsers: 1, ActiveSessions: 2, Groups: 1}
	if got != want {
		t.Fatalf("stats: got %+v, want %+v", got, want)
	}
}

func testFindUsers(t *testing.T, s Accounts) {
	mustUsers(t, s, "ann", "anna", "Anne", "annie", "bob", "an_x", "an.y", "zed")
	if err := s.SetDisabled(ctx, "annie", true); err != nil {
		t.Fatal(err)
	}
	mustUsers(t, s, "ann0")
	if _, err := s.DeleteUser(ctx, "ann0", t0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix string
		limit  int
		want   []string
	}{
		{"an", 20, []string{"an.y", "an_x", "ann", "anna"}}, // bytewise; not Anne, not the disabled or deleted
		{"ann", 1, []string{"ann"}},
		{"A", 20, []string{"Anne"}},
		{"zed", 20, []string{"zed"}},
		{"zedd", 20, []string{}},
		{"bo", 20, []string{"bob"}},
	} {
		got, err := s.FindUsers(ctx, tc.prefix, tc.limit)
		if err != nil || got == nil || !equal(got, tc.want...) {
			t.Fatalf("find %q (limit %d): got %q, %v; want %q", tc.prefix, tc.limit, got, err, tc.want)
		}
	}
}
