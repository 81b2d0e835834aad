package tui_test

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

func TestGroupCommands(t *testing.T) {
	h := newHarness(t)
	h.connect(`{"type":"INIT_DATA","username":"alice","chats":[],"groups":[]}`)
	h.expectScreen("no conversations yet", "/create NAME")
	h.out.take()

	t.Run("create", func(t *testing.T) {
		h.enter(`/create "the team" bob carol`)
		h.expectSent(map[string]any{"type": "CREATE_GROUP", "name": "the team", "members": "[bob carol]", "id": "r1"})
		h.frame(`{"type":"SUCCESS","id":"r1","groupId":"g9","name":"the team"}`)
		c := h.m.Selected()
		if c == nil || c.Key != "g9" || c.Title != "the team" || !c.Group {
			t.Fatalf("selected %+v", c)
		}
		h.expectScreen("# the team", "g9", "/join g9")
		h.expectSent() // a new group has no history to fetch
	})

	t.Run("members", func(t *testing.T) {
		h.enter("/members")
		h.expectSent(map[string]any{"type": "GET_GROUP_MEMBERS", "groupId": "g9", "id": "r2"})
		h.frame(`{"type":"GROUP_MEMBERS","id":"r2","groupId":"g9","name":"the team","owner":"alice","members":[{"username":"alice","status":"ONLINE"},{"username":"bob","status":"OFFLINE"}]}`)
		h.expectScreen("2 members: alice (owner, online), bob (offline)")
	})

	t.Run("events of others", func(t *testing.T) {
		h.frame(`{"type":"GROUP_MEMBER_JOINED","groupId":"g9","name":"the team","username":"dave","by":"dave"}`)
		h.frame(`{"type":"GROUP_MEMBER_JOINED","groupId":"g9","name":"the team","username":"erin","by":"bob"}`)
		h.frame(`{"type":"GROUP_MEMBER_LEFT","groupId":"g9","username":"dave","by":"dave","owner":"alice"}`)
		h.expectScreen("dave joined", "bob added erin", "dave left")
	})

	t.Run("message to the group", func(t *testing.T) {
		h.enter("hi all")
		h.expectSent(
			map[string]any{"type": "TYPING", "groupId": "g9"},
			map[string]any{"type": "GROUP_CHAT", "groupId": "g9", "content": "hi all"},
		)
	})

	t.Run("join", func(t *testing.T) {
		h.enter("/join g7")
		h.expectSent(map[string]any{"type": "JOIN_GROUP", "groupId": "g7", "id": "r4"})
		h.frame(`{"type":"SUCCESS","id":"r4","groupId":"g7"}`)
		h.expectSent(
			map[string]any{"type": "GET_GROUP_MEMBERS", "groupId": "g7", "id": "r5"},
			map[string]any{"type": "GET_GROUP_CHAT_HISTORY", "groupId": "g7", "id": "r6"},
		)
		h.frame(`{"type":"GROUP_MEMBERS","id":"r5","groupId":"g7","name":"book club","owner":"bob","members":[]}`)
		h.frame(`{"type":"GROUP_CHAT_HISTORY","id":"r6","groupId":"g7","hasMore":false,"messages":[` + gm("m1", 1, "g7", "bob", "welcome") + `]}`)
		h.expectScreen("# book club", "bob: welcome")
		h.expectNotScreen("members:") // the quiet request only learned the name
	})

	t.Run("leave", func(t *testing.T) {
		h.out.take()
		h.enter("/leave")
		h.expectSent(map[string]any{"type": "LEAVE_GROUP", "groupId": "g7"})
		h.frame(`{"type":"SUCCESS","id":"r7","groupId":"g7"}`)
		if h.m.Conversation("g7") != nil {
			t.Fatal("group still listed after leaving")
		}
		h.expectScreen("you left book club", "# the team")
	})

	t.Run("added and removed by others", func(t *testing.T) {
		h.frame(`{"type":"GROUP_MEMBER_JOINED","groupId":"g8","name":"ops","username":"alice","by":"bob"}`)
		if c := h.m.Conversation("g8"); c == nil || c.Title != "ops" {
			t.Fatalf("not added: %+v", c)
		}
		h.expectScreen("# ops")
		h.frame(`{"type":"GROUP_MEMBER_LEFT","groupId":"g8","username":"alice","by":"bob","owner":"bob"}`)
		if h.m.Conversation("g8") != nil {
			t.Fatal("still listed after being removed")
		}
		h.expectScreen("bob removed you from ops")
	})

	t.Run("errors", func(t *testing.T) {
		h.out.take()
		h.enter("/join gX")
		h.frame(`{"type":"ERROR","id":"r8","code":"forbidden","msg":"this group is private"}`)
		h.expectScreen("forbidden: this group is private")
		h.enter("/frobnicate")
		h.expectScreen("unknown command /frobnicate")
		h.enter("/join")
		h.expectScreen("usage: /join GROUP_ID")
	})
}

func TestChatCommand(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob)
	h.out.take()

	h.enter("/chat carol")
	c := h.m.Selected()
	if c == nil || c.Key != "alice-carol" || c.Peer != "carol" {
		t.Fatalf("selected %+v", c)
	}
	h.expectSent(map[string]any{"type": "GET_ONE_TO_ONE_HISTORY", "to": "carol", "id": "r2"})
	h.frame(`{"type":"ONE_TO_ONE_CHAT_HISTORY","id":"r2","chatId":"alice-carol","hasMore":false,"messages":[]}`)
	h.expectScreen("start of the conversation", "· carol")

	t.Run("unknown user", func(t *testing.T) {
		h.enter("/chat nobody")
		h.frame(`{"type":"ERROR","id":"r3","code":"not_found","msg":"no such user"}`)
		if h.m.Conversation("alice-nobody") != nil {
			t.Fatal("a chat with a user who does not exist stays listed")
		}
		if !strings.Contains(h.m.Status(), "no such user") {
			t.Fatalf("status %q", h.m.Status())
		}
	})

	t.Run("help", func(t *testing.T) {
		h.enter("/help")
		h.expectScreen("/chat USER", "/leave")
	})

	t.Run("quit", func(t *testing.T) {
		h.typeText("/quit")
		if cmd := h.key(tea.KeyEnter); !isQuit(cmd) {
			t.Fatal("/quit does not quit")
		}
	})
}
