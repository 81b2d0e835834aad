package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

func testDirectory(t *testing.T, s parley.AccountStore) {
	mustUsers(t, s, "alice", "bob", "carol")
	for _, tc := range []struct {
		name string
		want bool
	}{{"alice", true}, {"zed", false}} {
		if ok, err := s.UserExists(ctx, tc.name); err != nil || ok != tc.want {
			t.Fatalf("user %s exists: got %v, %v; want %v", tc.name, ok, err, tc.want)
		}
	}
	if err := s.SetDisabled(ctx, "carol", true); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.UserExists(ctx, "carol"); !ok {
		t.Fatal("a disabled user must still exist")
	}

	if m, err := s.GroupMembers(ctx, "nope"); err != nil || m != nil {
		t.Fatalf("members of a missing group: got %v, %v; want nil", m, err)
	}
	mustGroup(t, s, "g2", "bob", false, "alice")
	mustGroup(t, s, "g1", "alice", false)
	if m, err := s.GroupMembers(ctx, "g2"); err != nil || !slices.Equal(m, []string{"bob", "alice"}) {
		t.Fatalf("members: got %v, %v; want [bob alice]", m, err)
	}
	// Changes show at once: an account store that keeps members in memory
	// must keep them current.
	if _, err := s.JoinGroup(ctx, "g2", "carol", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveMember(ctx, "g2", "bob", "bob", t0); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.GroupMembers(ctx, "g2"); !slices.Equal(m, []string{"alice", "carol"}) {
		t.Fatalf("members after a join and a leave: got %v", m)
	}
	if _, err := s.AddMember(ctx, "g1", "alice", "bob", t0); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.GroupMembers(ctx, "g1"); !slices.Equal(m, []string{"alice", "bob"}) {
		t.Fatalf("members after an add: got %v", m)
	}
	mustGroup(t, s, "g3", "carol", false)
	if _, err := s.RemoveMember(ctx, "g3", "carol", "carol", t0); err != nil {
		t.Fatal(err)
	}
	if m, err := s.GroupMembers(ctx, "g3"); err != nil || m == nil || len(m) != 0 {
		t.Fatalf("members of an emptied group: got %#v, %v; want empty, not nil", m, err)
	}

	gs, err := s.UserGroups(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].GroupID != "g1" || gs[1].GroupID != "g2" || gs[0].Name != "group g1" {
		t.Fatalf("alice's groups: got %+v, want g1 and g2 in id order", gs)
	}
	if gs, _ := s.UserGroups(ctx, "bob"); len(gs) != 1 || gs[0].GroupID != "g1" {
		t.Fatalf("bob's groups after leaving g2: got %+v", gs)
	}

	seen := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	if err := s.SetLastSeen(ctx, map[string]time.Time{"bob": seen}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LastSeen(ctx, []string{"bob", "alice", "zed"})
	if err != nil || len(got) != 3 || !got[0].Equal(seen) || !got[1].IsZero() || !got[2].IsZero() {
		t.Fatalf("last seen: got %v, %v", got, err)
	}
}
