package storetest

import (
	"testing"

	"github.com/parley-chat/parley"
)

func memberNames(t testing.TB, s Accounts, id string) []string {
	t.Helper()
	ms, err := s.Members(ctx, id)
	if err != nil {
		t.Fatalf("members of %s: %v", id, err)
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Username
	}
	return names
}

func testGroups(t *testing.T, s Accounts) {
	mustUsers(t, s, "alice", "bob", "carol", "dave")
	err := s.CreateGroup(ctx, &parley.Group{ID: "bad", Name: "x", Owner: "alice", CreatedAt: t0}, []string{"bob", "nobody"}, t0)
	if code(err) != parley.ENOTFOUND {
		t.Fatalf("unknown member: got %v, want not_found", err)
	}
	if _, err := s.Group(ctx, "bad"); code(err) != parley.ENOTFOUND {
		t.Fatalf("a failed create must create nothing: got %v", err)
	}
	mustGroup(t, s, "open", "alice", false, "bob", "alice", "bob")
	g, err := s.Group(ctx, "open")
	if err != nil || g.Name != "group open" || g.Owner != "alice" || g.Private || !g.CreatedAt.Equal(t0) {
		t.Fatalf("group: got %+v, %v", g, err)
	}
	if names := memberNames(t, s, "open"); !equal(names, "alice", "bob") {
		t.Fatalf("members: got %v, want [alice bob] (listed twice, added once)", names)
	}
	if err := s.CreateGroup(ctx, &parley.Group{ID: "open", Name: "again", Owner: "bob", CreatedAt: t0}, nil, t0); code(err) != parley.ECONFLICT {
		t.Fatalf("duplicate group id: got %v, want conflict", err)
	}

	joined, err := s.JoinGroup(ctx, "open", "carol", t0)
	if err != nil || !joined {
		t.Fatalf("join: got %v, %v", joined, err)
	}
	if joined, err := s.JoinGroup(ctx, "open", "carol", t0); err != nil || joined {
		t.Fatalf("join again: got %v, %v, want false, nil", joined, err)
	}
	if _, err := s.JoinGroup(ctx, "missing", "carol", t0); code(err) != parley.ENOTFOUND {
		t.Fatalf("join missing: got %v", err)
	}
	ok, err := s.IsMember(ctx, "open", "carol")
	if err != nil || !ok {
		t.Fatalf("is member: got %v, %v", ok, err)
	}
	if ok, _ := s.IsMember(ctx, "open", "dave"); ok {
		t.Fatalf("dave is not a member")
	}
	if _, err := s.IsMember(ctx, "missing", "dave"); code(err) != parley.ENOTFOUND {
		t.Fatalf("is member of missing group: got %v", err)
	}

	// Any member may add to an open group.
	if added, err := s.AddMember(ctx, "open", "carol", "dave", t0); err != nil || !added {
		t.Fatalf("member adds to open group: got %v, %v", added, err)
	}
	if added, err := s.AddMember(ctx, "open", "carol", "dave", t0); err != nil || added {
		t.Fatalf("adding an existing member: got %v, %v", added, err)
	}
	if _, err := s.AddMember(ctx, "open", "carol", "nobody", t0); code(err) != parley.ENOTFOUND {
		t.Fatalf("add unknown user: got %v", err)
	}

	mustGroup(t, s, "priv", "alice", true, "bob")
	if _, err := s.JoinGroup(ctx, "priv", "carol", t0); code(err) != parley.EFORBIDDEN {
		t.Fatalf("join private: got %v, want forbidden", err)
	}
	if _, err := s.AddMember(ctx, "priv", "bob", "carol", t0); code(err) != parley.EFORBIDDEN {
		t.Fatalf("non-owner adds to private: got %v, want forbidden", err)
	}
	if _, err := s.AddMember(ctx, "priv", "dave", "carol", t0); code(err) != parley.EFORBIDDEN {
		t.Fatalf("outsider adds: got %v, want forbidden", err)
	}
	if added, err := s.AddMember(ctx, "priv", "alice", "carol", t0); err != nil || !added {
		t.Fatalf("owner adds to private: got %v, %v", added, err)
	}

	if _, err := s.RemoveMember(ctx, "priv", "bob", "carol", t0); code(err) != parley.EFORBIDDEN {
		t.Fatalf("non-owner removes: got %v, want forbidden", err)
	}
	if _, err := s.RemoveMember(ctx, "priv", "alice", "dave", t0); code(err) != parley.ENOTFOUND {
		t.Fatalf("remove non-member: got %v, want not_found", err)
	}
	owner, err := s.RemoveMember(ctx, "priv", "alice", "carol", t0)
	if err != nil || owner != "alice" {
		t.Fatalf("owner removes: got %q, %v", owner, err)
	}
	if names := memberNames(t, s, "priv"); !equal(names, "alice", "bob") {
		t.Fatalf("after remove: got %v", names)
	}
}

func testGroupOwnership(t *testing.T, s Accounts) {
	mustUsers(t, s, "alice", "bob", "carol", "dave")
	mustGroup(t, s, "g", "alice", false, "bob")
	if _, err := s.JoinGroup(ctx, "g", "carol", t0); err != nil {
		t.Fatal(err)
	}
	// bob leaves and rejoins: his membership is now newer than carol's.
	if _, err := s.RemoveMember(ctx, "g", "bob", "bob", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinGroup(ctx, "g", "bob", t0); err != nil {
		t.Fatal(err)
	}
	owner, err := s.RemoveMember(ctx, "g", "alice", "alice", t0)
	if err != nil || owner != "carol" {
		t.Fatalf("owner leaves: new owner %q, %v; want carol, the earliest current membership", owner, err)
	}
	if g, _ := s.Group(ctx, "g"); g.Owner != "carol" {
		t.Fatalf("stored owner: got %q", g.Owner)
	}
	if owner, err := s.RemoveMember(ctx, "g", "carol", "bob", t0); err != nil || owner != "carol" {
		t.Fatalf("owner removes bob: got %q, %v", owner, err)
	}
	if owner, err := s.RemoveMember(ctx, "g", "carol", "carol", t0); err != nil || owner != "" {
		t.Fatalf("last member leaves: got %q, %v; want no owner", owner, err)
	}
	if names := memberNames(t, s, "g"); len(names) != 0 {
		t.Fatalf("emptied group has members %v", names)
	}
	if _, err := s.JoinGroup(ctx, "g", "dave", t0); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.Group(ctx, "g"); g.Owner != "dave" {
		t.Fatalf("first to join an emptied group: owner %q, want dave", g.Owner)
	}
}
