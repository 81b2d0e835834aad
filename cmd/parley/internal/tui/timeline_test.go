package tui_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parley-chat/parley/cmd/parley/internal/tui"
)

// entry builds a timeline entry of the alice-bob chat.
func entry(kind, id string, seq, target int, from string, extra map[string]any) string {
	types := map[string]string{"edit": "MESSAGE_EDITED", "delete": "MESSAGE_DELETED", "reaction": "REACTION"}
	f := map[string]any{"type": types[kind], "kind": kind, "messageId": id, "seq": seq, "target": target, "from": from,
		"chatId": "alice-bob", "timestamp": "2026-11-26T19:30:00.000Z"}
	for k, v := range extra {
		f[k] = v
	}
	return jsonOf(f)
}

// TestTimelineEntries: edits, deletions and reactions from others change
// the message they target in place, are not shown as messages of their
// own, and count as present for the gapless tail (a message after an
// edit still shows).
func TestTimelineEntries(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob, dm("m1", 1, "bob", "alice", "helo", true), dm("m2", 2, "bob", "alice", "second", true))
	h.out.take()
	h.frame(entry("edit", "e3", 3, 1, "bob", map[string]any{"content": "hello"}))
	h.frame(dm("m4", 4, "bob", "alice", "after the edit", false))
	h.expectScreen("bob: hello (edited)", "after the edit")
	h.expectNotScreen("helo")
	h.frame(entry("reaction", "r5", 5, 4, "bob", map[string]any{"emoji": "👍", "removed": false}))
	h.expectScreen("👍 1")
	h.frame(entry("reaction", "r6", 6, 4, "bob", map[string]any{"emoji": "👍", "removed": true}))
	h.expectNotScreen("👍")
	h.frame(entry("delete", "d7", 7, 2, "bob", nil))
	h.expectScreen("bob: (message deleted)")
	h.expectNotScreen("second")
	c := h.m.Conversation("alice-bob")
	if c.Unread != 0 || c.Acked != 7 {
		t.Fatalf("unread %d, acked %d; want 0 and 7 (entries are read, never unread)", c.Unread, c.Acked)
	}

	t.Run("a message's own state is not applied twice", func(t *testing.T) {
		// A history page: message 1 already carries its edit (seq 3), and
		// the edit entry itself comes after it.
		h.frame(`{"type":"ONE_TO_ONE_CHAT_HISTORY","chatId":"alice-bob","messages":[` +
			jsonOf(map[string]any{"messageId": "m1", "seq": 1, "from": "bob", "to": "alice", "chatId": "alice-bob", "kind": "message",
				"content": "hello", "edited": true, "timestamp": "2026-11-26T19:01:00.000Z"}) + `,` +
			entry("edit", "e3", 3, 1, "bob", map[string]any{"content": "hello"}) + `]}`)
		if n := strings.Count(h.screen(), "hello"); n != 1 {
			t.Fatalf("%d lines say hello, want 1:\n%s", n, h.screen())
		}
	})
}

// TestTimelineCommands: /edit, /delete, /react and /reply send the frames
// of the contract for the last fitting message or #N, and their SUCCESS
// shows the change; /seqs shows the numbers they take.
func TestTimelineCommands(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob, dm("m1", 1, "bob", "alice", "lunch?", true))
	h.out.take()
	h.enter("yes")
	h.expectSent(map[string]any{"type": "TYPING", "to": "bob"}, map[string]any{"type": "ONE_TO_ONE_CHAT", "to": "bob", "content": "yes"})
	h.frame(`{"type":"SUCCESS","id":"r2","messageId":"m2","seq":2,"chatId":"alice-bob","timestamp":"2026-11-26T20:00:00.000Z"}`)
	h.out.take() // its READ
	h.expectScreen("alice: yes ✓")

	h.enter("/edit yes, at noon")
	h.expectSent(map[string]any{"type": "EDIT_MESSAGE", "chatId": "alice-bob", "seq": 2, "content": "yes, at noon"})
	h.frame(`{"type":"SUCCESS","id":"r3","messageId":"e3","seq":3,"target":2,"chatId":"alice-bob","timestamp":"2026-11-26T20:00:01.000Z"}`)
	h.out.take()
	h.expectScreen("alice: yes, at noon (edited)")

	h.enter("/react 🍕")
	h.expectSent(map[string]any{"type": "REACT", "chatId": "alice-bob", "seq": 2, "emoji": "🍕", "remove": false})
	h.frame(`{"type":"SUCCESS","id":"r4","messageId":"x4","seq":4,"target":2,"chatId":"alice-bob","timestamp":"2026-11-26T20:00:02.000Z"}`)
	h.out.take()
	h.expectScreen("🍕 1")
	h.enter("/react 🍕") // again: taken back
	h.expectSent(map[string]any{"type": "REACT", "seq": 2, "emoji": "🍕", "remove": true})

	h.enter("/seqs")
	h.expectScreen("#1 bob: lunch?", "#2 alice:")
	h.enter("/reply where?")
	h.expectSent(map[string]any{"type": "ONE_TO_ONE_CHAT", "to": "bob", "content": "where?", "replyTo": 1})
	h.expectScreen("↪ bob: lunch?")
	h.enter("/react #1 👍")
	h.expectSent(map[string]any{"type": "REACT", "seq": 1, "emoji": "👍"})

	h.enter("/delete")
	h.expectSent(map[string]any{"type": "DELETE_MESSAGE", "chatId": "alice-bob", "seq": 2})

	t.Run("bad uses", func(t *testing.T) {
		h.enter("/edit #1 not mine")
		h.expectSent()
		h.expectScreen("#1 is not a message of yours")
		h.enter("/delete #x")
		h.expectScreen("not a message number")
		h.enter("/react")
		h.expectScreen("usage: /react")
		h.expectSent()
	})

	t.Run("read marks", func(t *testing.T) {
		h.frame(`{"type":"READ_RECEIPT","chatId":"alice-bob","username":"bob","seq":2,"timestamp":"2026-11-26T20:01:00.000Z"}`)
		h.expectScreen("✓✓")
	})
}

// TestFind: /find shows the usernames FindUsers returns, or why none.
func TestFind(t *testing.T) {
	var asked []string
	h := newHarness(t, func(o *tui.Options) {
		o.FindUsers = func(prefix string) ([]string, error) {
			asked = append(asked, prefix)
			switch prefix {
			case "ca":
				return []string{"carla", "carol"}, nil
			case "zz":
				return nil, nil
			}
			return nil, errors.New("429 rate_limited")
		}
	})
	h.connect(initAliceBob)
	h.out.take()
	for _, c := range []struct{ prefix, want string }{
		{"ca", "found: carla, carol (/chat USER)"},
		{"zz", "nobody's name starts with zz"},
		{"x", "/find x: 429 rate_limited"},
	} {
		cmd := h.enter("/find " + c.prefix)
		if cmd == nil {
			t.Fatalf("/find %s returned no command", c.prefix)
		}
		h.update(cmd())
		if got := h.m.Status(); got != c.want {
			t.Fatalf("/find %s: status %q, want %q", c.prefix, got, c.want)
		}
	}
	if strings.Join(asked, ",") != "ca,zz,x" {
		t.Fatalf("asked for %v", asked)
	}
	if h.enter("/find"); !strings.Contains(h.m.Status(), "usage: /find PREFIX") {
		t.Fatalf("/find alone: status %q", h.m.Status())
	}
	h.expectSent()
}
