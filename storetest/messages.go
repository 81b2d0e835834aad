package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

func testAppendOneToOne(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol")
	a1, a2, a3 := direct("alice", "bob", "hi", ""), direct("bob", "alice", "hello", ""), direct("alice", "carol", "hey", "")
	appendOK(t, s, a1, a2, a3)
	if a1.Message.Seq != 1 || a2.Message.Seq != 2 || a3.Message.Seq != 1 {
		t.Fatalf("seqs: got %d %d %d, want 1 2 1", a1.Message.Seq, a2.Message.Seq, a3.Message.Seq)
	}
	m := a2.Message
	if m.Time.Location() != time.UTC || m.Time.Nanosecond()%int(time.Millisecond) != 0 {
		t.Fatalf("times are UTC with millisecond precision: got %v", m.Time)
	}
	if h, _, _ := s.History(ctx, m.Conv, parley.Page{Before: 3, Limit: 1}); len(h) != 1 || !h[0].Time.Equal(m.Time) || h[0].Time.Location() != time.UTC {
		t.Fatalf("stored time: got %v, want %v", h, m.Time)
	}
	if m.ID != a2.ID || m.Conv != "alice-bob" || m.From != "bob" || m.To != "alice" || m.Content != "hello" || m.Time.IsZero() {
		t.Fatalf("stored message: got %+v", m)
	}
	if len(a2.Recipients) != 1 || a2.Recipients[0] != "alice" || a2.Duplicate {
		t.Fatalf("recipients: got %v dup=%v", a2.Recipients, a2.Duplicate)
	}

	bad := direct("alice", "nobody", "x", "")
	inv := direct("alice", "bob", "", "")
	inv.Invalid = parley.Errorf(parley.EINVALID, "empty")
	ok := direct("alice", "bob", "after the failures", "")
	if err := s.AppendMessages(ctx, []*parley.Append{bad, inv, ok}); err != nil {
		t.Fatalf("append: %v", err)
	}
	if code(bad.Err) != parley.ENOTFOUND || code(inv.Err) != parley.EINVALID || ok.Err != nil {
		t.Fatalf("per-item errors: got %v, %v, %v", bad.Err, inv.Err, ok.Err)
	}
	if ok.Message.Seq != 3 {
		t.Fatalf("failed items must not use a seq: got %d, want 3", ok.Message.Seq)
	}

	contacts, err := s.Contacts(ctx, "alice")
	if err != nil || len(contacts) != 2 || contacts[0] != "bob" || contacts[1] != "carol" {
		t.Fatalf("contacts of alice: got %v, %v", contacts, err)
	}
	if contacts, _ := s.Contacts(ctx, "bob"); len(contacts) != 1 || contacts[0] != "alice" {
		t.Fatalf("contacts of bob: got %v", contacts)
	}
}

func testAppendIdempotent(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol")
	first := direct("alice", "bob", "once", "k1")
	appendOK(t, s, first)

	// A repeat in a later batch, with other fields and even a validation
	// failure, gets the original message.
	again := direct("alice", "carol", "different", "k1")
	again.Invalid = parley.Errorf(parley.EINVALID, "would be invalid")
	appendOK(t, s, again)
	if !again.Duplicate || again.Message.ID != first.Message.ID || again.Message.Seq != 1 || again.Message.Conv != "alice-bob" ||
		again.Message.Content != "once" || again.Message.To != "bob" || len(again.Recipients) != 0 {
		t.Fatalf("repeat: got %+v dup=%v recipients=%v", again.Message, again.Duplicate, again.Recipients)
	}

	// A valid repeat in a later batch, through the stored key.
	valid := direct("alice", "bob", "once", "k1")
	appendOK(t, s, valid)
	if !valid.Duplicate || valid.Message.ID != first.Message.ID || valid.Message.Seq != 1 || !valid.Message.Time.Equal(first.Message.Time) {
		t.Fatalf("valid repeat: got %+v dup=%v", valid.Message, valid.Duplicate)
	}

	// A repeat within one batch.
	x, y := direct("alice", "bob", "twice", "k2"), direct("alice", "bob", "twice", "k2")
	appendOK(t, s, x, y)
	if x.Duplicate || !y.Duplicate || y.Message.ID != x.Message.ID || y.Message.Seq != 2 {
		t.Fatalf("repeat in one batch: got %+v / %+v", x.Message, y.Message)
	}

	// Keys are per sender; an id answered with an error reserves nothing.
	other := direct("bob", "alice", "same key, other sender", "k1")
	appendOK(t, s, other)
	if other.Duplicate || other.Message.Seq != 3 {
		t.Fatalf("other sender's key: got %+v dup=%v", other.Message, other.Duplicate)
	}
	failed := direct("alice", "nobody", "x", "k3")
	if err := s.AppendMessages(ctx, []*parley.Append{failed}); err != nil || code(failed.Err) != parley.ENOTFOUND {
		t.Fatalf("failed send: got %v / %v", err, failed.Err)
	}
	retry := direct("alice", "bob", "now valid", "k3")
	appendOK(t, s, retry)
	if retry.Duplicate || retry.Message.Seq != 4 {
		t.Fatalf("retry of a failed id: got %+v dup=%v", retry.Message, retry.Duplicate)
	}

	msgs, _, err := s.History(ctx, "alice-bob", parley.Page{Limit: 50})
	if err != nil || !equal(seqs(msgs), 1, 2, 3, 4) {
		t.Fatalf("history after repeats: got %v, %v", seqs(msgs), err)
	}
}

func testAppendGroup(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol", "dave")
	mustGroup(t, s, "g1", "alice", false, "bob", "carol")
	a := group("bob", "g1", "to the group", "")
	appendOK(t, s, a)
	if a.Message.Seq != 1 || a.Message.To != "" || a.Message.Conv != "g1" {
		t.Fatalf("group message: got %+v", a.Message)
	}
	if len(a.Recipients) != 2 || a.Recipients[0] != "alice" || a.Recipients[1] != "carol" {
		t.Fatalf("recipients: got %v, want [alice carol]", a.Recipients)
	}
	outsider, missing := group("dave", "g1", "let me in", ""), group("alice", "g404", "hello?", "")
	if err := s.AppendMessages(ctx, []*parley.Append{outsider, missing}); err != nil {
		t.Fatal(err)
	}
	if code(outsider.Err) != parley.EFORBIDDEN || code(missing.Err) != parley.ENOTFOUND {
		t.Fatalf("non-member / missing group: got %v / %v", outsider.Err, missing.Err)
	}
	if _, err := s.RemoveMember(ctx, "g1", "carol", "carol", t0); err != nil {
		t.Fatal(err)
	}
	left := group("carol", "g1", "after leaving", "")
	if err := s.AppendMessages(ctx, []*parley.Append{left}); err != nil || code(left.Err) != parley.EFORBIDDEN {
		t.Fatalf("post after leaving: got %v / %v", err, left.Err)
	}
	b := group("alice", "g1", "second", "")
	appendOK(t, s, b)
	if b.Message.Seq != 2 || len(b.Recipients) != 1 || b.Recipients[0] != "bob" {
		t.Fatalf("after leave: got seq %d recipients %v", b.Message.Seq, b.Recipients)
	}
}

// testAppendConcurrent checks that seqs stay gapless and unique when many
// writers append to one conversation at once.
func testAppendConcurrent(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob")
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				batch := []*parley.Append{
					direct("alice", "bob", "x", fmt.Sprintf("w%d-%d", w, i)),
					direct("bob", "alice", "y", ""),
				}
				if err := s.AppendMessages(ctx, batch); err != nil {
					errs <- err
					return
				}
				for _, a := range batch {
					if a.Err != nil {
						errs <- a.Err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent append: %v", err)
	}
	var all []int64
	after := int64(0)
	for {
		page, more, err := s.History(ctx, "alice-bob", parley.Page{Forward: true, After: after, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, seqs(page)...)
		if !more {
			break
		}
		after = page[len(page)-1].Seq
	}
	if len(all) != writers*each*2 {
		t.Fatalf("got %d messages, want %d", len(all), writers*each*2)
	}
	for i, seq := range all {
		if seq != int64(i+1) {
			t.Fatalf("seq %d at position %d: gap or duplicate", seq, i)
		}
	}
}

func testHistory(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob")
	var batch []*parley.Append
	for i := 1; i <= 7; i++ {
		batch = append(batch, direct("alice", "bob", fmt.Sprintf("m%d", i), ""))
	}
	appendOK(t, s, batch...)
	cases := []struct {
		name string
		page parley.Page
		want []int64
		more bool
	}{
		{"newest", parley.Page{Limit: 3}, []int64{5, 6, 7}, true},
		{"newest all", parley.Page{Limit: 50}, []int64{1, 2, 3, 4, 5, 6, 7}, false},
		{"before", parley.Page{Before: 5, Limit: 3}, []int64{2, 3, 4}, true},
		{"before to start", parley.Page{Before: 3, Limit: 3}, []int64{1, 2}, false},
		{"before 1", parley.Page{Before: 1, Limit: 3}, []int64{}, false},
		{"after 0", parley.Page{Forward: true, After: 0, Limit: 3}, []int64{1, 2, 3}, true},
		{"after", parley.Page{Forward: true, After: 4, Limit: 3}, []int64{5, 6, 7}, false},
		{"after end", parley.Page{Forward: true, After: 7, Limit: 3}, []int64{}, false},
	}
	for _, c := range cases {
		msgs, more, err := s.History(ctx, "alice-bob", c.page)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !equal(seqs(msgs), c.want...) || more != c.more {
			t.Errorf("%s: got %v more=%v, want %v more=%v", c.name, seqs(msgs), more, c.want, c.more)
		}
	}
	msgs, more, err := s.History(ctx, "carol-dave", parley.Page{Limit: 10})
	if err != nil || len(msgs) != 0 || more {
		t.Fatalf("empty conversation: got %v %v %v", msgs, more, err)
	}
	msgs, _, _ = s.History(ctx, "alice-bob", parley.Page{Before: 2, Limit: 1})
	if len(msgs) != 1 || msgs[0].Content != "m1" || msgs[0].From != "alice" || msgs[0].To != "bob" || msgs[0].ID == "" {
		t.Fatalf("message fields in history: got %+v", msgs)
	}
}

func testCursorsAndInbox(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol")
	appendOK(t, s,
		direct("alice", "bob", "1", ""), direct("bob", "alice", "2", ""),
		direct("alice", "bob", "3", ""), direct("alice", "bob", "4", ""))
	mustGroup(t, s, "g1", "carol", false, "bob")
	appendOK(t, s, group("carol", "g1", "g1", ""), group("carol", "g1", "g2", ""))

	in, err := s.Inbox(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Chats) != 1 || len(in.Groups) != 1 {
		t.Fatalf("bob's inbox: got %+v", in)
	}
	// Bob's own message (seq 2) could not move his cursor: seq 1 was not
	// acknowledged. Carol's own messages moved hers.
	if in.Chats[0].Cursor != 0 {
		t.Fatalf("bob's cursor moved past an unacknowledged message: %+v", in.Chats[0])
	}
	if cin, _ := s.Inbox(ctx, "carol"); cin.Groups[0].Cursor != 2 || cin.Groups[0].Unread != 0 {
		t.Fatalf("carol's own messages: got %+v, want cursor 2", cin.Groups[0])
	}
	c, g := in.Chats[0], in.Groups[0]
	if c.ChatID != "alice-bob" || c.With != "alice" || c.LastSeq != 4 || c.Cursor != 0 || c.Unread != 3 {
		t.Fatalf("bob's chat: got %+v, want 3 unread (his own message is not)", c)
	}
	if g.GroupID != "g1" || g.Name != "group g1" || g.LastSeq != 2 || g.Unread != 2 {
		t.Fatalf("bob's group: got %+v", g)
	}
	und, err := s.Undelivered(ctx, "bob", "alice-bob", 0, 10)
	if err != nil || !equal(seqs(und), 1, 3, 4) {
		t.Fatalf("undelivered to bob: got %v, %v", seqs(und), err)
	}
	if und, _ := s.Undelivered(ctx, "bob", "alice-bob", 0, 2); !equal(seqs(und), 1, 3) {
		t.Fatalf("undelivered with limit: got %v", seqs(und))
	}

	if err := s.Ack(ctx, []parley.Cursor{{Username: "bob", Conv: "alice-bob", Seq: 3}, {Username: "bob", Conv: "g1", Seq: 99}}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	// A cursor never moves back.
	if err := s.Ack(ctx, []parley.Cursor{{Username: "bob", Conv: "alice-bob", Seq: 1}}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	in, _ = s.Inbox(ctx, "bob")
	c, g = in.Chats[0], in.Groups[0]
	// An ACK moves the cursor; unread counts from the read position.
	if c.Cursor != 3 || c.Unread != 3 || c.ReadSeq != 0 {
		t.Fatalf("after ack: chat %+v, want cursor 3, unread 3", c)
	}
	if g.Cursor != 2 || g.Unread != 2 {
		t.Fatalf("ack above the last seq is clamped: group %+v, want cursor 2", g)
	}
	if und, _ := s.Undelivered(ctx, "bob", "alice-bob", c.Cursor, 10); !equal(seqs(und), 4) {
		t.Fatalf("undelivered after ack: got %v", seqs(und))
	}

	// A new member's cursor starts at the group's last seq.
	if _, err := s.JoinGroup(ctx, "g1", "alice", t0); err != nil {
		t.Fatal(err)
	}
	in, _ = s.Inbox(ctx, "alice")
	if len(in.Groups) != 1 || in.Groups[0].Cursor != 2 || in.Groups[0].Unread != 0 {
		t.Fatalf("newcomer's group: got %+v", in.Groups)
	}
	if len(in.Chats) != 1 || in.Chats[0].Unread != 1 || in.Chats[0].With != "bob" {
		t.Fatalf("alice's chat: got %+v", in.Chats)
	}
	if err := s.SetLastSeen(ctx, map[string]time.Time{"bob": t0}); err != nil {
		t.Fatal(err)
	}
	if in, _ := s.Inbox(ctx, "alice"); !in.Chats[0].WithLastSeen.Equal(t0) {
		t.Fatalf("peer last seen: got %v", in.Chats[0].WithLastSeen)
	}
	// An ACK of a conversation with no messages stays at 0.
	if err := s.Ack(ctx, []parley.Cursor{{Username: "alice", Conv: "alice-carol", Seq: 5}}); err != nil {
		t.Fatal(err)
	}
	appendOK(t, s, direct("carol", "alice", "first", ""))
	in, _ = s.Inbox(ctx, "alice")
	for _, c := range in.Chats {
		if c.ChatID == "alice-carol" && (c.Cursor != 0 || c.Unread != 1) {
			t.Fatalf("an early ack must not swallow later messages: got %+v", c)
		}
	}
}

func testJoinCursor(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol")
	mustGroup(t, s, "g1", "alice", false)
	appendOK(t, s, group("alice", "g1", "before 1", ""), group("alice", "g1", "before 2", ""))
	if added, err := s.AddMember(ctx, "g1", "alice", "bob", t0); err != nil || !added {
		t.Fatalf("add bob: %v, %v", added, err)
	}
	if added, err := s.JoinGroup(ctx, "g1", "carol", t0); err != nil || !added {
		t.Fatalf("carol joins: %v, %v", added, err)
	}
	appendOK(t, s, group("alice", "g1", "after", ""))
	for conv, want := range map[string]int64{"g1": 3, "nope": 0, "alice-bob": 0} {
		if got, err := s.LastSeq(ctx, conv); err != nil || got != want {
			t.Fatalf("last seq of %s: got %d, %v; want %d", conv, got, err, want)
		}
	}
	for _, u := range []string{"bob", "carol"} {
		in, err := s.Inbox(ctx, u)
		if err != nil || len(in.Groups) != 1 {
			t.Fatalf("%s's inbox: got %+v, %v", u, in, err)
		}
		if g := in.Groups[0]; g.Cursor != 2 || g.LastSeq != 3 || g.Unread != 1 {
			t.Fatalf("%s: got %+v, want cursor 2 (the last seq at joining), 1 unread", u, g)
		}
		und, err := s.Undelivered(ctx, u, "g1", 2, 10)
		if err != nil || !equal(seqs(und), 3) {
			t.Fatalf("%s: undelivered got %v, %v; want the message sent after joining", u, seqs(und), err)
		}
	}
	// Joining again changes nothing, and a member's cursor never moves back.
	if err := s.Ack(ctx, []parley.Cursor{{Username: "bob", Conv: "g1", Seq: 3}}); err != nil {
		t.Fatal(err)
	}
	if added, err := s.JoinGroup(ctx, "g1", "bob", t0); err != nil || added {
		t.Fatalf("bob joins again: %v, %v; want false", added, err)
	}
	if in, _ := s.Inbox(ctx, "bob"); in.Groups[0].Cursor != 3 {
		t.Fatalf("bob's cursor after joining again: got %+v", in.Groups[0])
	}
}

func testMessageStats(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol")
	appendOK(t, s, direct("alice", "bob", "1", "k1"), direct("alice", "bob", "2", ""), direct("carol", "alice", "3", ""))
	mustGroup(t, s, "g1", "alice", false, "bob")
	appendOK(t, s, group("alice", "g1", "4", ""), direct("alice", "bob", "again", "k1"))
	st, err := s.Stats(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Chats != 2 || st.Messages != 4 || st.Users != 3 || st.Groups != 1 {
		t.Fatalf("stats: got %+v, want 2 chats and 4 messages (a repeat is not stored)", *st)
	}
}
