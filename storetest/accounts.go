package storetest

import (
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

func testDeleteUser(t *testing.T, s Accounts) {
	mustUsers(t, s, "alice", "bob", "carol", "dave")
	t1 := t0.Add(time.Hour)
	for _, id := range []string{"s1", "s2"} {
		sess := &parley.Session{ID: id, Username: "alice", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
		if err := s.CreateSession(ctx, sess, "hash-"+id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(ctx, &parley.Session{ID: "s3", Username: "bob", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}, "hash-s3"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserSessions(ctx, "alice"); err != nil || len(got) != 2 || got[0].Username != "alice" {
		t.Fatalf("UserSessions before: %v, %v", got, err)
	}
	// alice owns g1 (with bob, carol), is a member of g2 (owned by bob),
	// and alone in g3.
	mustGroup(t, s, "g1", "alice", false, "bob", "carol")
	mustGroup(t, s, "g2", "bob", false, "alice")
	mustGroup(t, s, "g3", "alice", true)

	t.Run("unknown", func(t *testing.T) {
		if _, err := s.DeleteUser(ctx, "nobody", t1); code(err) != parley.ENOTFOUND {
			t.Fatalf("got %v, want not_found", err)
		}
	})

	left, err := s.DeleteUser(ctx, "alice", t1)
	if err != nil {
		t.Fatal(err)
	}
	want := []parley.GroupLeft{
		{GroupID: "g1", Owner: "bob", Members: []string{"bob", "carol"}},
		{GroupID: "g2", Owner: "bob", Members: []string{"bob"}},
		{GroupID: "g3", Owner: "", Members: []string{}},
	}
	if len(left) != len(want) {
		t.Fatalf("left %+v, want %+v", left, want)
	}
	for i := range want {
		if left[i].GroupID != want[i].GroupID || left[i].Owner != want[i].Owner || !equal(left[i].Members, want[i].Members...) {
			t.Errorf("left[%d] = %+v, want %+v", i, left[i], want[i])
		}
	}

	t.Run("account", func(t *testing.T) {
		u, err := s.User(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !u.Deleted() || !u.DeletedAt.Equal(t1) || len(u.PasswordHash) != 0 {
			t.Errorf("deleted user: %+v, want DeletedAt %v and no password hash", u, t1)
		}
		err = s.CreateUser(ctx, &parley.User{Username: "alice", PasswordHash: []byte("new"), CreatedAt: t1})
		if code(err) != parley.ECONFLICT {
			t.Errorf("registering a deleted name: %v, want conflict", err)
		}
		if err := s.SetDisabled(ctx, "alice", false); code(err) != parley.ENOTFOUND {
			t.Errorf("enabling a deleted account: %v, want not_found", err)
		}
		if _, err := s.DeleteUser(ctx, "alice", t1); code(err) != parley.ENOTFOUND {
			t.Errorf("deleting twice: %v, want not_found", err)
		}
		if u2, _ := s.User(ctx, "alice"); u2 == nil || !u2.DeletedAt.Equal(t1) {
			t.Errorf("deleting twice changed the account: %+v", u2)
		}
		users, err := s.Users(ctx, "", 10)
		if err != nil || len(users) != 4 {
			t.Errorf("Users lists %d accounts (%v), want 4, the deleted one included", len(users), err)
		}
	})

	t.Run("sessions", func(t *testing.T) {
		if got, err := s.UserSessions(ctx, "alice"); err != nil || len(got) != 0 {
			t.Errorf("UserSessions after: %v, %v; want none", got, err)
		}
		if _, err := s.Session(ctx, "s1"); code(err) != parley.ENOTFOUND {
			t.Errorf("session of a deleted account: %v, want not_found", err)
		}
		ended, err := s.EndedSessions(ctx, []string{"s1", "s2", "s3"})
		if err != nil || !equal(ended, "s1", "s2") {
			t.Errorf("EndedSessions = %v, %v; want [s1 s2]", ended, err)
		}
		if _, err := s.RotateRefresh(ctx, "hash-s1", "hash-new", t1, t1.Add(time.Hour), 0); code(err) != parley.EUNAUTHORIZED {
			t.Errorf("refreshing a deleted account's token: %v, want unauthorized", err)
		}
		if sess, err := s.Session(ctx, "s3"); err != nil || !sess.Active(t1) {
			t.Errorf("bob's session: %+v, %v; want it untouched", sess, err)
		}
	})

	t.Run("groups", func(t *testing.T) {
		if g, _ := s.Group(ctx, "g1"); g == nil || g.Owner != "bob" {
			t.Errorf("g1 after: %+v, want owner bob", g)
		}
		if got := memberNames(t, s, "g1"); !equal(got, "bob", "carol") {
			t.Errorf("g1 members %v", got)
		}
		if g, _ := s.Group(ctx, "g3"); g == nil || g.Owner != "" {
			t.Errorf("g3 after: %+v, want kept, without an owner", g)
		}
		if ok, err := s.IsMember(ctx, "g2", "alice"); err != nil || ok {
			t.Errorf("alice still a member of g2: %v, %v", ok, err)
		}
		if _, err := s.AddMember(ctx, "g1", "bob", "alice", t1); code(err) != parley.ENOTFOUND {
			t.Errorf("adding a deleted account: %v, want not_found", err)
		}
		// The first to join an emptied group owns it, as always.
		if _, err := s.AddMember(ctx, "g2", "bob", "dave", t1); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("stats", func(t *testing.T) {
		st, err := s.Stats(ctx, t1)
		if err != nil {
			t.Fatal(err)
		}
		if st.Users != 3 {
			t.Errorf("Stats.Users = %d, want 3: a deleted account is not counted", st.Users)
		}
	})
}

func testDirectoryDeleted(t *testing.T, s parley.AccountStore) {
	mustUsers(t, s, "alice", "bob")
	mustGroup(t, s, "g1", "alice", false, "bob")
	// Read both first, so that any cache has them.
	if ok, _ := s.UserExists(ctx, "alice"); !ok {
		t.Fatal("alice does not exist")
	}
	if m, _ := s.GroupMembers(ctx, "g1"); !equal(m, "alice", "bob") {
		t.Fatalf("g1 members %v", m)
	}
	if _, err := s.DeleteUser(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.UserExists(ctx, "alice"); err != nil || ok {
		t.Errorf("UserExists(deleted) = %v, %v; want false", ok, err)
	}
	if m, _ := s.GroupMembers(ctx, "g1"); !equal(m, "bob") {
		t.Errorf("g1 members after deletion %v, want [bob]", m)
	}
	if gs, err := s.UserGroups(ctx, "alice"); err != nil || len(gs) != 0 {
		t.Errorf("UserGroups(deleted) = %v, %v; want none", gs, err)
	}
}

// testEraseSender checks that erasing a sender's messages empties their
// content where it must, keeps every seq, id, sender and time, and touches
// no one else's messages.
func testEraseSender(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol")
	mustGroup(t, s, "g1", "alice", false, "bob", "carol")
	mustGroup(t, s, "g2", "bob", false, "alice")
	appendOK(t, s,
		direct("alice", "bob", "a1", "c1"),
		direct("bob", "alice", "b1", "c2"),
		direct("alice", "bob", "a2", ""), // sent without an id
		direct("carol", "bob", "c1", "c3"),
		direct("alice", "carol", "a3", "c4"),
		group("alice", "g1", "ga1", "c5"),
		group("bob", "g1", "gb1", "c6"),
		group("alice", "g1", "ga2", ""),
		group("alice", "g2", "ga3", "c7"),
	)
	// alice leaves g2 after acknowledging it: a group she holds a cursor
	// in but is no longer a member of.
	if err := s.Ack(ctx, []parley.Cursor{{Username: "alice", Conv: "g2", Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveMember(ctx, "g2", "alice", "alice", t0); err != nil {
		t.Fatal(err)
	}
	before := map[string][]parley.Message{}
	convs := []string{"alice-bob", "bob-carol", "alice-carol", "g1", "g2"}
	for _, c := range convs {
		msgs, _, err := s.History(ctx, c, parley.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		before[c] = msgs
	}

	n, err := s.EraseSender(ctx, "alice", []string{"g1"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("erased %d messages, want 6", n)
	}
	for _, c := range convs {
		msgs, more, err := s.History(ctx, c, parley.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if more || len(msgs) != len(before[c]) {
			t.Fatalf("%s: %d messages (more %v) after erasing, want %d", c, len(msgs), more, len(before[c]))
		}
		for i, m := range msgs {
			b := before[c][i]
			if m.Seq != int64(i+1) || m.ID != b.ID || m.From != b.From || !m.Time.Equal(b.Time) || m.To != b.To {
				t.Errorf("%s seq %d: %+v, was %+v: only the content may change", c, m.Seq, m, b)
			}
			wantErased := m.From == "alice"
			if m.Erased() != wantErased || !wantErased && m.Content != b.Content {
				t.Errorf("%s seq %d from %s: content %q, was %q", c, m.Seq, m.From, m.Content, b.Content)
			}
		}
	}
	// Offline delivery sees the erased entries too, in their place.
	und, err := s.Undelivered(ctx, "bob", "alice-bob", 0, 10)
	if err != nil || len(und) != 2 || !und[0].Erased() || !und[1].Erased() {
		t.Errorf("Undelivered to bob: %+v, %v; want alice's two messages, erased", und, err)
	}
	// A repeat of an erased message's (From, ClientID) gets it, erased.
	a := direct("alice", "bob", "a1 again", "c1")
	appendOK(t, s, a)
	if !a.Duplicate || a.Message.Seq != 1 || !a.Message.Erased() {
		t.Errorf("repeat of an erased message: %+v", a)
	}
	if last, _ := s.LastSeq(ctx, "alice-bob"); last != 3 {
		t.Errorf("alice-bob last seq %d, want 3", last)
	}
	// Erasing again erases nothing more.
	if n, err := s.EraseSender(ctx, "alice", []string{"g1"}); err != nil || n != 0 {
		t.Errorf("erasing again: %d, %v; want 0", n, err)
	}
	// The next message takes the next seq.
	b := direct("bob", "alice", "after", "c8")
	appendOK(t, s, b)
	if b.Message.Seq != 4 {
		t.Errorf("next seq %d, want 4", b.Message.Seq)
	}
}
