package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/parley-chat/parley"
)

// entry builds an edit, deletion or reaction of the message at target.
func entry(kind parley.EntryKind, from, conv string, target int64, clientID string) *parley.Append {
	a := &parley.Append{ClientID: clientID, From: from, Conv: conv, Kind: kind, Target: target, ID: newID(), Time: t0}
	if !parley.IsGroupID(conv) {
		a.To = parley.ChatPeer(conv, from)
	}
	return a
}

func edit(from, conv string, target int64, content string) *parley.Append {
	a := entry(parley.KindEdit, from, conv, target, "")
	a.Content = content
	return a
}

func react(from, conv string, target int64, emoji string, remove bool) *parley.Append {
	a := entry(parley.KindReaction, from, conv, target, "")
	a.Emoji, a.Remove = emoji, remove
	return a
}

// appendOne stores one item and returns it, with its result.
func appendOne(t testing.TB, s parley.Store, a *parley.Append) *parley.Append {
	t.Helper()
	if err := s.AppendMessages(ctx, []*parley.Append{a}); err != nil {
		t.Fatalf("append: %v", err)
	}
	return a
}

// wantCode stores one item and checks that it failed with code.
func wantCode(t testing.TB, s parley.Store, a *parley.Append, want string) {
	t.Helper()
	appendOne(t, s, a)
	if code(a.Err) != want {
		t.Fatalf("%v of %d by %s: got %v, want %s", a.Kind, a.Target, a.From, a.Err, want)
	}
}

// historyOf reads a conversation's whole timeline (up to 200 entries).
func historyOf(t testing.TB, s parley.Store, conv string) []parley.Message {
	t.Helper()
	msgs, _, err := s.History(ctx, conv, parley.Page{Forward: true, Limit: parley.MaxPageSize})
	if err != nil {
		t.Fatalf("history of %s: %v", conv, err)
	}
	return msgs
}

func kinds(msgs []parley.Message) []parley.EntryKind {
	out := make([]parley.EntryKind, len(msgs))
	for i, m := range msgs {
		out[i] = m.Kind
	}
	return out
}

func testTimelineEdit(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob")
	chat := parley.ChatID("alice", "bob")
	appendOK(t, s, direct("alice", "bob", "helo", ""))

	wantCode(t, s, edit("bob", chat, 1, "not yours"), parley.EFORBIDDEN)
	wantCode(t, s, edit("alice", chat, 9, "nothing there"), parley.ENOTFOUND)

	e := appendOne(t, s, edit("alice", chat, 1, "hello"))
	if e.Err != nil || e.Duplicate || e.NoOp {
		t.Fatalf("edit: %+v", e)
	}
	m := e.Message
	if m.Seq != 2 || m.Kind != parley.KindEdit || m.Target != 1 || m.Content != "hello" || m.From != "alice" || m.To != "bob" || m.Conv != chat {
		t.Fatalf("edit entry: got %+v", m)
	}
	if !equal(e.Recipients, "bob") {
		t.Fatalf("edit recipients: got %v", e.Recipients)
	}
	// An edit is not a message: editing it is invalid.
	wantCode(t, s, edit("alice", chat, 2, "edit of an edit"), parley.EINVALID)
	appendOK(t, s, edit("alice", chat, 1, "hello, bob"))

	h := historyOf(t, s, chat)
	if !equal(seqs(h), 1, 2, 3) || !equal(kinds(h), parley.KindMessage, parley.KindEdit, parley.KindEdit) {
		t.Fatalf("history: got %v %v", seqs(h), kinds(h))
	}
	if h[0].Content != "hello, bob" || !h[0].Edited || !h[0].EditedAt.Equal(h[2].Time) || h[0].Deleted {
		t.Fatalf("message after two edits: got %+v", h[0])
	}
	if h[1].Content != "hello" || h[1].Target != 1 || h[2].Content != "hello, bob" {
		t.Fatalf("edit entries keep their own content: got %+v, %+v", h[1], h[2])
	}
	// Bob, offline, gets the message in its current state and both edits;
	// alice gets none of her own entries.
	und, err := s.Undelivered(ctx, "bob", chat, 0, 10)
	if err != nil || !equal(seqs(und), 1, 2, 3) || und[0].Content != "hello, bob" || !und[0].Edited {
		t.Fatalf("undelivered to bob: got %+v, %v", und, err)
	}
	if und, _ := s.Undelivered(ctx, "alice", chat, 0, 10); len(und) != 0 {
		t.Fatalf("alice's own entries came back: %+v", und)
	}
	// Edits count toward the timeline, not toward unread.
	if in, _ := s.Inbox(ctx, "bob"); in.Chats[0].LastSeq != 3 || in.Chats[0].Unread != 1 {
		t.Fatalf("bob's inbox: got %+v, want last seq 3 and 1 unread", in.Chats[0])
	}
}

func testTimelineDelete(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol")
	mustGroup(t, s, "g1", "carol", false, "alice", "bob")
	appendOK(t, s, group("alice", "g1", "secret", ""), group("bob", "g1", "bob's", ""))
	appendOK(t, s, edit("alice", "g1", 1, "secret, edited"))

	wantCode(t, s, entry(parley.KindDelete, "bob", "g1", 1, ""), parley.EFORBIDDEN)
	wantCode(t, s, entry(parley.KindDelete, "alice", "g1", 7, ""), parley.ENOTFOUND)
	wantCode(t, s, entry(parley.KindDelete, "alice", "g1", 3, ""), parley.EINVALID) // an edit

	// The group's owner may delete any member's message.
	del := entry(parley.KindDelete, "carol", "g1", 1, "")
	del.Moderator = true
	appendOne(t, s, del)
	if del.Err != nil || del.Duplicate {
		t.Fatalf("owner's deletion: %+v", del)
	}
	if m := del.Message; m.Seq != 4 || m.Kind != parley.KindDelete || m.Target != 1 || m.From != "carol" || m.Content != "" {
		t.Fatalf("deletion entry: got %+v", m)
	}
	if !slices.Equal(slices.Sorted(slices.Values(del.Recipients)), []string{"alice", "bob"}) {
		t.Fatalf("deletion recipients: got %v", del.Recipients)
	}
	// Deleting again answers with the first deletion, and stores nothing.
	again := appendOne(t, s, entry(parley.KindDelete, "alice", "g1", 1, ""))
	if again.Err != nil || !again.Duplicate || again.Message.Seq != 4 || again.Message.From != "carol" {
		t.Fatalf("second deletion: got %+v", again)
	}
	wantCode(t, s, edit("alice", "g1", 1, "too late"), parley.EINVALID)
	wantCode(t, s, react("bob", "g1", 1, "👍", false), parley.EINVALID)

	h := historyOf(t, s, "g1")
	if !equal(seqs(h), 1, 2, 3, 4) {
		t.Fatalf("history after deletion: got %v", seqs(h))
	}
	if m := h[0]; !m.Deleted || m.Content != "" || m.Erased() || m.ID == "" || m.From != "alice" {
		t.Fatalf("deleted message: got %+v, want a tombstone", m)
	}
	if h[2].Content != "" {
		t.Fatalf("the edit of a deleted message keeps its content: %+v", h[2])
	}
	if h[1].Content != "bob's" || h[1].Deleted {
		t.Fatalf("another message changed: %+v", h[1])
	}
	// The author deletes their own message of a chat.
	appendOK(t, s, direct("alice", "bob", "oops", ""))
	own := appendOne(t, s, entry(parley.KindDelete, "alice", parley.ChatID("alice", "bob"), 1, ""))
	if own.Err != nil || own.Message.Seq != 2 || !equal(own.Recipients, "bob") {
		t.Fatalf("author's deletion in a chat: %+v", own)
	}
	// A deleted message is not unread; the deletion is not either.
	if in, _ := s.Inbox(ctx, "bob"); in.Chats[0].Unread != 0 || in.Groups[0].Unread != 0 {
		t.Fatalf("bob's inbox after deletions: got %+v", in)
	}
}

func testTimelineReactions(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol")
	chat := parley.ChatID("alice", "bob")
	appendOK(t, s, direct("alice", "bob", "react to me", ""))

	r := appendOne(t, s, react("bob", chat, 1, "👍", false))
	if r.Err != nil || r.NoOp || r.Message.Seq != 2 || r.Message.Kind != parley.KindReaction || r.Message.Emoji != "👍" || r.Message.Removed || r.Message.Target != 1 {
		t.Fatalf("reaction: got %+v", r)
	}
	// The same reaction again, or taking back one never given: no entry.
	for _, a := range []*parley.Append{react("bob", chat, 1, "👍", false), react("bob", chat, 1, "🎉", true)} {
		appendOne(t, s, a)
		if a.Err != nil || !a.NoOp || a.Message.Seq != 0 || a.Message.Target != 1 || len(a.Recipients) != 0 {
			t.Fatalf("reaction that changes nothing: got %+v", a)
		}
	}
	appendOK(t, s, react("alice", chat, 1, "👍", false), react("alice", chat, 1, "❤️", false))
	off := appendOne(t, s, react("bob", chat, 1, "👍", true))
	if off.Err != nil || off.NoOp || off.Message.Seq != 5 || !off.Message.Removed {
		t.Fatalf("removing a reaction: got %+v", off)
	}
	h := historyOf(t, s, chat)
	want := []parley.Reaction{{Emoji: "👍", Users: []string{"alice"}}, {Emoji: "❤️", Users: []string{"alice"}}}
	if len(h) != 5 || fmt.Sprint(h[0].Reactions) != fmt.Sprint(want) {
		t.Fatalf("reactions in history: got %+v, want %v", h[0].Reactions, want)
	}
	if h[1].Kind != parley.KindReaction || h[1].Emoji != "👍" || h[4].Emoji != "👍" || !h[4].Removed {
		t.Fatalf("reaction entries: got %+v, %+v", h[1], h[4])
	}
	// At most MaxReactionEmoji distinct emoji; more users on one is fine.
	var batch []*parley.Append
	for i := len(want); i < parley.MaxReactionEmoji; i++ {
		batch = append(batch, react("bob", chat, 1, fmt.Sprintf("e%d", i), false))
	}
	appendOK(t, s, batch...)
	wantCode(t, s, react("bob", chat, 1, "one-too-many", false), parley.EINVALID)
	appendOK(t, s, react("bob", chat, 1, "❤️", false))
	h = historyOf(t, s, chat)
	if n := len(h[0].Reactions); n != parley.MaxReactionEmoji || !equal(h[0].Reactions[1].Users, "alice", "bob") {
		t.Fatalf("reactions: got %d, %+v", n, h[0].Reactions)
	}
	// A reaction is a timeline entry: bob gets alice's offline, not his own.
	und, _ := s.Undelivered(ctx, "bob", chat, 1, 50)
	if !equal(seqs(und), 3, 4) {
		t.Fatalf("undelivered reactions to bob: got %v", seqs(und))
	}
	// Non-members cannot react in a group.
	mustGroup(t, s, "g1", "alice", false)
	appendOK(t, s, group("alice", "g1", "group message", ""))
	wantCode(t, s, react("carol", "g1", 1, "👍", false), parley.EFORBIDDEN)
}

func testTimelineReplies(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob")
	chat := parley.ChatID("alice", "bob")
	appendOK(t, s, direct("alice", "bob", "question?", ""), react("bob", chat, 1, "🤔", false))
	reply := direct("bob", "alice", "answer", "")
	reply.ReplyTo = 1
	appendOK(t, s, reply)
	if reply.Message.ReplyTo != 1 || reply.Message.Seq != 3 {
		t.Fatalf("reply: got %+v", reply.Message)
	}
	for _, to := range []int64{2, 99} { // a reaction; nothing
		bad := direct("bob", "alice", "to nothing", "")
		bad.ReplyTo = to
		wantCode(t, s, bad, parley.EINVALID)
	}
	h := historyOf(t, s, chat)
	if len(h) != 3 || h[2].ReplyTo != 1 || h[0].ReplyTo != 0 {
		t.Fatalf("history: got %+v", h)
	}
	if und, _ := s.Undelivered(ctx, "alice", chat, 0, 10); len(und) != 2 || und[1].ReplyTo != 1 {
		t.Fatalf("undelivered reply: got %+v", und)
	}
}

// testTimelineOneBatch sends a message and entries acting on it in one
// batch: each item sees the ones before it.
func testTimelineOneBatch(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob")
	chat := parley.ChatID("alice", "bob")
	reply := direct("bob", "alice", "re", "")
	reply.ReplyTo = 1
	batch := []*parley.Append{
		direct("alice", "bob", "first", "m1"),
		edit("alice", chat, 1, "first!"),
		react("bob", chat, 1, "👍", false),
		react("bob", chat, 1, "👍", false), // a repeat within the batch
		reply,
		entry(parley.KindDelete, "bob", chat, 4, ""), // bob deletes his reply
		edit("bob", chat, 4, "re, edited"),           // too late
	}
	if err := s.AppendMessages(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range batch {
		got = append(got, fmt.Sprintf("%d/%s/%v", a.Message.Seq, code(a.Err), a.NoOp))
	}
	want := []string{"1//false", "2//false", "3//false", "0//true", "4//false", "5//false", "0/invalid/false"}
	if !slices.Equal(got, want) {
		t.Fatalf("one batch: got %v, want %v", got, want)
	}
	h := historyOf(t, s, chat)
	if len(h) != 5 || h[0].Content != "first!" || !h[0].Edited || len(h[0].Reactions) != 1 || !h[3].Deleted || h[3].ReplyTo != 1 {
		t.Fatalf("history: got %+v", h)
	}
}

func testTimelineIdempotent(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob")
	chat := parley.ChatID("alice", "bob")
	appendOK(t, s, direct("alice", "bob", "hi", "m1"))
	e := edit("alice", chat, 1, "hi!")
	e.ClientID = "e1"
	appendOK(t, s, e)
	r := react("bob", chat, 1, "👋", false)
	r.ClientID = "r1"
	appendOK(t, s, r)
	d := entry(parley.KindDelete, "alice", chat, 1, "d1")
	appendOK(t, s, d)
	for _, orig := range []*parley.Append{e, r, d} {
		again := *orig
		again.ID, again.Content, again.Target, again.Message = newID(), "whatever", 99, parley.Message{}
		appendOne(t, s, &again)
		if again.Err != nil || !again.Duplicate || again.Message.Seq != orig.Message.Seq || again.Message.ID != orig.Message.ID || again.Message.Kind != orig.Message.Kind {
			t.Fatalf("repeat of %s: got %+v, want the original %+v", orig.ClientID, again.Message, orig.Message)
		}
	}
	if last, _ := s.LastSeq(ctx, chat); last != 4 {
		t.Fatalf("repeats stored entries: last seq %d", last)
	}
	// An id answered with an error reserves nothing.
	bad := edit("bob", chat, 1, "nope")
	bad.ClientID = "x1"
	wantCode(t, s, bad, parley.EFORBIDDEN)
	ok := direct("bob", "alice", "fine", "x1")
	appendOK(t, s, ok)
	if ok.Duplicate || ok.Message.Seq != 5 {
		t.Fatalf("id after an error: got %+v", ok)
	}
}

func testReadPositions(t *testing.T, s parley.Store) {
	mustUsers(t, s, "alice", "bob", "carol")
	chat := parley.ChatID("alice", "bob")
	appendOK(t, s,
		direct("alice", "bob", "1", ""), direct("alice", "bob", "2", ""),
		direct("bob", "alice", "3", ""), direct("alice", "bob", "4", ""))
	appendOK(t, s, direct("alice", "bob", "5", ""), direct("alice", "bob", "6", ""))
	// Bob's unread: all but his own 3. (TimelineDelete checks that
	// deletions, and deleted messages, are not unread.)
	in, _ := s.Inbox(ctx, "bob")
	if c := in.Chats[0]; c.Unread != 5 || c.ReadSeq != 0 || c.PeerReadSeq != 0 || c.LastSeq != 6 {
		t.Fatalf("bob's chat: got %+v", c)
	}
	if err := s.MarkRead(ctx, []parley.Cursor{{Username: "bob", Conv: chat, Seq: 1}, {Username: "alice", Conv: chat, Seq: 99}}); err != nil {
		t.Fatal(err)
	}
	// A read position never moves back.
	if err := s.MarkRead(ctx, []parley.Cursor{{Username: "bob", Conv: chat, Seq: 0}}); err != nil {
		t.Fatal(err)
	}
	in, _ = s.Inbox(ctx, "bob")
	if c := in.Chats[0]; c.Unread != 4 || c.ReadSeq != 1 || c.PeerReadSeq != 6 || c.Cursor != 0 {
		t.Fatalf("bob's chat after reading 1: got %+v (a read position is clamped, and not a cursor)", c)
	}
	in, _ = s.Inbox(ctx, "alice")
	if c := in.Chats[0]; c.Unread != 0 || c.ReadSeq != 6 || c.PeerReadSeq != 1 {
		t.Fatalf("alice's chat: got %+v", c)
	}
	got, err := s.ReadPositions(ctx, chat, []string{"bob", "carol", "alice"})
	if err != nil || !equal(got, 1, 0, 6) {
		t.Fatalf("read positions: got %v, %v", got, err)
	}
	// A read position of a conversation with nothing in it stays 0.
	if err := s.MarkRead(ctx, []parley.Cursor{{Username: "carol", Conv: parley.ChatID("alice", "carol"), Seq: 5}}); err != nil {
		t.Fatal(err)
	}
	appendOK(t, s, direct("alice", "carol", "hello", ""))
	if in, _ := s.Inbox(ctx, "carol"); in.Chats[0].ReadSeq != 0 || in.Chats[0].Unread != 1 {
		t.Fatalf("an early read must not swallow later messages: got %+v", in.Chats[0])
	}

	// A new group member's read position starts at the group's last seq.
	mustGroup(t, s, "g1", "alice", false)
	appendOK(t, s, group("alice", "g1", "before", ""), group("alice", "g1", "before", ""))
	if _, err := s.JoinGroup(ctx, "g1", "bob", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMember(ctx, "g1", "alice", "carol", t0); err != nil {
		t.Fatal(err)
	}
	appendOK(t, s, group("alice", "g1", "after", ""))
	for _, u := range []string{"bob", "carol"} {
		in, _ := s.Inbox(ctx, u)
		if g := in.Groups[0]; g.ReadSeq != 2 || g.Unread != 1 {
			t.Fatalf("%s's group: got %+v, want read position 2 and 1 unread", u, g)
		}
	}
	if got, _ := s.ReadPositions(ctx, "g1", []string{"alice", "bob"}); !equal(got, 0, 2) {
		t.Fatalf("group read positions: got %v", got)
	}
}
