package protocol_test

import (
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// TestEntryWireForm: each kind of entry carries the fields the contract
// gives it, and no others.
func TestEntryWireForm(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	base := parley.Message{ID: "m", Conv: "alice-bob", Seq: 3, From: "alice", To: "bob", Time: at}
	with := func(edit func(*parley.Message)) *parley.Message {
		m := base
		edit(&m)
		return &m
	}
	for _, c := range []struct {
		name string
		m    *parley.Message
		typ  string
		want string
	}{
		{"message", with(func(m *parley.Message) { m.Content, m.ReplyTo = "hi", 1 }), "ONE_TO_ONE_CHAT",
			`{"type":"ONE_TO_ONE_CHAT","messageId":"m","seq":3,"from":"alice","content":"hi","timestamp":"2026-12-04T10:00:00.000Z","chatId":"alice-bob","to":"bob","kind":"message","replyTo":1}`},
		{"edited message with reactions", with(func(m *parley.Message) {
			m.Content, m.Edited, m.EditedAt = "hi!", true, at.Add(time.Second)
			m.Reactions = []parley.Reaction{{Emoji: "👍", Users: []string{"bob", "carol"}}}
		}), "ONE_TO_ONE_CHAT",
			`{"type":"ONE_TO_ONE_CHAT","messageId":"m","seq":3,"from":"alice","content":"hi!","timestamp":"2026-12-04T10:00:00.000Z","chatId":"alice-bob","to":"bob","kind":"message","edited":true,"editedAt":"2026-12-04T10:00:01.000Z","reactions":[{"emoji":"👍","users":["bob","carol"]}]}`},
		{"deleted message", with(func(m *parley.Message) { m.Deleted = true }), "ONE_TO_ONE_CHAT",
			`{"type":"ONE_TO_ONE_CHAT","messageId":"m","seq":3,"from":"alice","content":"","timestamp":"2026-12-04T10:00:00.000Z","chatId":"alice-bob","to":"bob","kind":"message","deleted":true}`},
		{"erased message", with(func(m *parley.Message) {}), "ONE_TO_ONE_CHAT",
			`{"type":"ONE_TO_ONE_CHAT","messageId":"m","seq":3,"from":"alice","content":"","timestamp":"2026-12-04T10:00:00.000Z","chatId":"alice-bob","to":"bob","kind":"message","erased":true}`},
		{"edit", with(func(m *parley.Message) { m.Kind, m.Target, m.Content = parley.KindEdit, 1, "new" }), "MESSAGE_EDITED",
			`{"type":"MESSAGE_EDITED","messageId":"m","seq":3,"from":"alice","content":"new","timestamp":"2026-12-04T10:00:00.000Z","chatId":"alice-bob","to":"bob","kind":"edit","target":1}`},
		{"deletion", with(func(m *parley.Message) { m.Kind, m.Target = parley.KindDelete, 1 }), "MESSAGE_DELETED",
			`{"type":"MESSAGE_DELETED","messageId":"m","seq":3,"from":"alice","timestamp":"2026-12-04T10:00:00.000Z","chatId":"alice-bob","to":"bob","kind":"delete","target":1}`},
		{"reaction", with(func(m *parley.Message) {
			m.Kind, m.Target, m.Emoji, m.Conv, m.To = parley.KindReaction, 1, "👍", "gabc", ""
		}), "REACTION",
			`{"type":"REACTION","messageId":"m","seq":3,"from":"alice","timestamp":"2026-12-04T10:00:00.000Z","groupId":"gabc","kind":"reaction","target":1,"emoji":"👍","removed":false}`},
	} {
		typ := protocol.EntryFrameType(c.m)
		got := string(protocol.Encode(protocol.Delivery{Type: typ, Message: protocol.FromMessage(c.m)}))
		if typ != c.typ || got != c.want {
			t.Errorf("%s:\n got %s %s\nwant %s %s", c.name, typ, got, c.typ, c.want)
		}
	}
}
