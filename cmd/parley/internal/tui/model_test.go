package tui_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/cmd/parley/internal/tui"
)

func TestStartOfflineDeliveryAndAck(t *testing.T) {
	h := newHarness(t)
	h.expectScreen("connecting")
	h.connect(initAliceBob,
		dm("m1", 1, "bob", "alice", "first", true),
		dm("m2", 2, "bob", "alice", "second", true),
		dm("m1", 1, "bob", "alice", "first", true), // at least once: a duplicate
	)
	// The first conversation is shown: its newest page is fetched, and what
	// it shows is acknowledged once, after the offline delivery.
	h.expectSent(
		map[string]any{"type": "GET_ONE_TO_ONE_HISTORY", "to": "bob", "limit": 50, "id": "r1"},
		map[string]any{"type": "READ", "chatId": "alice-bob", "seq": 2},
	)
	c := h.m.Conversation("alice-bob")
	if len(c.Msgs) != 2 || c.Unread != 0 || c.Acked != 2 {
		t.Fatalf("chat: %d messages, unread %d, acked %d; want 2, 0, 2", len(c.Msgs), c.Unread, c.Acked)
	}
	h.frame(`{"type":"ONE_TO_ONE_CHAT_HISTORY","id":"r1","chatId":"alice-bob","hasMore":false,"messages":[` +
		dm("m1", 1, "bob", "alice", "first", false) + `,` + dm("m2", 2, "bob", "alice", "second", false) + `]}`)
	h.expectSent() // nothing new to acknowledge
	if len(c.Msgs) != 2 {
		t.Fatalf("history duplicated messages: %d", len(c.Msgs))
	}
	h.expectScreen("● bob", "# team", "bob: first", "bob: second", "start of the conversation", "● alice@127.0.0.1:3000")
	if g := h.m.Conversation("gteam"); g.Unread != 1 {
		t.Fatalf("group unread %d, want 1 (from INIT_DATA)", g.Unread)
	}

	t.Run("a message elsewhere counts as unread until shown", func(t *testing.T) {
		h.frame(gm("m6", 6, "gteam", "bob", "to the team"))
		g := h.m.Conversation("gteam")
		if g.Unread != 2 {
			t.Fatalf("group unread %d, want 2", g.Unread)
		}
		h.expectSent()
		h.key(tea.KeyTab)
		if h.m.Selected() != g {
			t.Fatalf("tab selected %v", h.m.Selected().Title)
		}
		// The history, the members (for their read positions), and a READ.
		h.expectSent(
			map[string]any{"type": "GET_GROUP_CHAT_HISTORY", "groupId": "gteam"},
			map[string]any{"type": "GET_GROUP_MEMBERS", "groupId": "gteam"},
			map[string]any{"type": "READ", "groupId": "gteam", "seq": 6},
		)
		if g.Unread != 0 {
			t.Fatalf("group unread %d after showing it", g.Unread)
		}
	})

	t.Run("a live message in the shown conversation is acknowledged", func(t *testing.T) {
		h.frame(gm("m7", 7, "gteam", "bob", "again"))
		h.expectSent(map[string]any{"type": "READ", "groupId": "gteam", "seq": 7})
		h.frame(gm("m7", 7, "gteam", "bob", "again")) // a duplicate
		h.expectSent()
	})
}

func TestSendMessageAndTyping(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob)
	h.out.take()

	h.typeText("he")
	// One TYPING for the first keystroke, none for the next.
	h.expectSent(map[string]any{"type": "TYPING", "to": "bob"})
	h.advance(3 * time.Second)
	h.typeText("y")
	h.expectSent(map[string]any{"type": "TYPING", "to": "bob"})
	if h.m.Input() != "hey" {
		t.Fatalf("input %q", h.m.Input())
	}
	h.key(tea.KeyEnter)
	h.expectSent(map[string]any{"type": "ONE_TO_ONE_CHAT", "to": "bob", "content": "hey", "id": "r2"})
	if h.m.Input() != "" {
		t.Fatalf("input not cleared: %q", h.m.Input())
	}
	c := h.m.Conversation("alice-bob")
	if len(c.Pending) != 1 {
		t.Fatalf("pending %d, want 1", len(c.Pending))
	}
	h.expectScreen("alice: hey …")

	h.frame(`{"type":"SUCCESS","id":"r2","messageId":"m3","chatId":"alice-bob","seq":3,"timestamp":"2026-11-26T20:00:01.000Z"}`)
	if len(c.Pending) != 0 || len(c.Msgs) != 1 || c.Msgs[0].Seq != 3 || c.Msgs[0].ID != "m3" {
		t.Fatalf("after SUCCESS: pending %v, messages %v", c.Pending, c.Msgs)
	}
	h.expectScreen("20:00 alice: hey")
	h.expectNotScreen("hey …")
	h.expectSent(map[string]any{"type": "READ", "chatId": "alice-bob", "seq": 3})

	t.Run("a refused message is marked", func(t *testing.T) {
		h.enter("no")
		h.out.take()
		h.frame(`{"type":"ERROR","id":"r3","code":"rate_limited","msg":"slow down"}`)
		if c.Pending[0].Failed != "rate_limited: slow down" {
			t.Fatalf("failed = %q", c.Pending[0].Failed)
		}
		h.expectScreen("✗ rate_limited: slow down", "message not sent")
	})

	t.Run("slash commands send no TYPING; // sends a slash", func(t *testing.T) {
		h.advance(time.Minute)
		h.typeText("/x")
		h.key(tea.KeyBackspace)
		h.key(tea.KeyBackspace)
		h.expectSent()
		h.enter("//shrug")
		h.expectSent(map[string]any{"type": "ONE_TO_ONE_CHAT", "content": "/shrug"})
	})

	t.Run("too long", func(t *testing.T) {
		h.update(tea.PasteMsg{Content: strings.Repeat("x", 4097)})
		h.key(tea.KeyEnter)
		h.expectSent(map[string]any{"type": "TYPING"})
		if !strings.Contains(h.m.Status(), "too long") {
			t.Fatalf("status %q", h.m.Status())
		}
	})
}

func TestReconnectResendsPending(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob)
	h.out.take()

	h.update(client.Event{Type: client.EventDisconnected, CloseCode: 1001, Retry: 2 * time.Second, Attempt: 1})
	h.expectScreen("offline: server shutting down; retry 2 in 2s")
	h.out.down = true
	h.enter("are you there")
	h.expectScreen("alice: are you there …", "queued until reconnected")
	h.out.down = false
	h.expectSent()

	// The next connection: the pending message goes again, with its id.
	h.connect(initAliceBob)
	sent := h.out.take()
	var resent map[string]any
	for _, f := range sent {
		if f["type"] == "ONE_TO_ONE_CHAT" {
			resent = f
		}
	}
	if resent == nil || resent["content"] != "are you there" {
		t.Fatalf("not sent again: %v", sent)
	}
	id := resent["id"].(string)
	h.frame(`{"type":"SUCCESS","id":"` + id + `","messageId":"m3","chatId":"alice-bob","seq":3,"timestamp":"2026-11-26T20:00:01.000Z"}`)
	// A repeat of the same SUCCESS (sent twice) changes nothing.
	h.frame(`{"type":"SUCCESS","id":"` + id + `","messageId":"m3","chatId":"alice-bob","seq":3,"timestamp":"2026-11-26T20:00:01.000Z"}`)
	c := h.m.Conversation("alice-bob")
	if len(c.Pending) != 0 || len(c.Msgs) != 1 {
		t.Fatalf("pending %v, messages %v", c.Pending, c.Msgs)
	}
}

func TestReconnectForgetsLostRequestsAndLeftGroups(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob)
	c := h.m.Conversation("alice-bob")
	if !c.Loading {
		t.Fatal("history not requested")
	}
	h.update(client.Event{Type: client.EventDisconnected, Retry: time.Second})
	if c.Loading {
		t.Fatal("still loading after the connection was lost")
	}
	h.out.take()
	// Left the group from another device meanwhile.
	h.connect(`{"type":"INIT_DATA","username":"alice","chats":[{"chatId":"alice-bob","with":"bob","status":"OFFLINE","lastSeen":null,"lastSeq":2,"unread":2}],"groups":[]}`)
	if h.m.Conversation("gteam") != nil {
		t.Fatal("group still listed")
	}
	h.expectSent(map[string]any{"type": "GET_ONE_TO_ONE_HISTORY", "to": "bob"})
}

func TestPresenceAndTyping(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob)
	h.frame(`{"type":"PRESENCE_UPDATE","username":"bob","status":"OFFLINE","lastSeen":"2026-11-26T19:59:00.000Z"}`)
	h.expectScreen("○ bob", "offline, last seen 2026-11-26 19:59")
	h.frame(`{"type":"PRESENCE_UPDATE","username":"bob","status":"ONLINE","lastSeen":"2026-11-26T20:00:00.000Z"}`)
	h.expectScreen("● bob", "bob · online")

	cmd := h.frame(`{"type":"TYPING","from":"bob","chatId":"alice-bob"}`)
	if cmd == nil {
		t.Fatal("no tick scheduled to expire the typing indicator")
	}
	h.expectScreen("bob is typing…")
	if h.frame(`{"type":"TYPING","from":"bob","chatId":"alice-bob"}`) != nil {
		t.Fatal("a second tick chain")
	}
	h.advance(5 * time.Second)
	if h.update(tui.Tick{}) == nil {
		t.Fatal("the tick chain stopped while bob is typing")
	}
	h.expectScreen("bob is typing…")
	h.advance(2 * time.Second)
	if h.update(tui.Tick{}) != nil {
		t.Fatal("the tick chain goes on with nobody typing")
	}
	h.expectNotScreen("is typing")

	// A message from the typist ends the indicator at once.
	h.frame(`{"type":"TYPING","from":"bob","chatId":"alice-bob"}`)
	h.frame(dm("m3", 3, "bob", "alice", "done typing", false))
	h.expectNotScreen("is typing")
	h.expectScreen("bob: done typing")
}

func TestHistoryPagesBack(t *testing.T) {
	h := newHarness(t)
	h.connect(`{"type":"INIT_DATA","username":"alice","chats":[{"chatId":"alice-bob","with":"bob","status":"ONLINE","lastSeen":null,"lastSeq":120,"unread":0}],"groups":[]}`)
	h.out.take()
	page := func(id string, from, to int, more bool) string {
		var ms []string
		for s := from; s <= to; s++ {
			ms = append(ms, dm(fmt.Sprintf("m%d", s), s, "bob", "alice", fmt.Sprintf("message %d", s), false))
		}
		return fmt.Sprintf(`{"type":"ONE_TO_ONE_CHAT_HISTORY","id":%q,"chatId":"alice-bob","hasMore":%v,"messages":[%s]}`, id, more, strings.Join(ms, ","))
	}
	h.frame(page("r1", 71, 120, true))
	h.expectSent(map[string]any{"type": "READ", "seq": 120})
	h.expectScreen("message 120")
	h.expectNotScreen("message 71 ")
	if !h.m.Conversation("alice-bob").HasOlder() {
		t.Fatal("HasOlder false with messages 71-120")
	}

	// Scrolling to the top asks for the page before the oldest shown.
	for i := 0; i < 10; i++ {
		h.key(tea.KeyPgUp)
	}
	h.expectSent(map[string]any{"type": "GET_ONE_TO_ONE_HISTORY", "to": "bob", "before": 71, "limit": 50})
	h.expectScreen("message 71", "loading…")
	h.key(tea.KeyPgUp) // no second request while one is in flight
	h.expectSent()

	h.frame(page("r2", 21, 70, true))
	// The pane stays where it was: message 71 is still on screen.
	h.expectScreen("message 71")
	for i := 0; i < 10; i++ {
		h.key(tea.KeyPgUp)
	}
	h.expectSent(map[string]any{"type": "GET_ONE_TO_ONE_HISTORY", "before": 21})
	h.frame(page("r3", 1, 20, false))
	for i := 0; i < 10; i++ {
		h.key(tea.KeyPgUp)
	}
	h.expectSent()
	h.expectScreen("start of the conversation", "message 1", "lines back")

	// A message arriving while scrolled back is unread until the pane is
	// back at the bottom.
	h.frame(dm("m121", 121, "bob", "alice", "new one", false))
	h.expectSent()
	h.expectScreen("(1 new)")
	h.key(tea.KeyEscape)
	h.expectSent(map[string]any{"type": "READ", "seq": 121})
	h.expectScreen("new one")
	if c := h.m.Conversation("alice-bob"); len(c.Msgs) != 121 || c.Unread != 0 {
		t.Fatalf("%d messages, unread %d", len(c.Msgs), c.Unread)
	}
}

func TestOfflineGapShowsNewestRun(t *testing.T) {
	h := newHarness(t)
	// 1000 offline messages are the oldest ones; the newest page comes
	// with history: what lies between shows up as paging back fills it.
	h.connect(`{"type":"INIT_DATA","username":"alice","chats":[{"chatId":"alice-bob","with":"bob","status":"ONLINE","lastSeen":null,"lastSeq":2000,"unread":2000}],"groups":[]}`,
		dm("m1", 1, "bob", "alice", "oldest", true), dm("m2", 2, "bob", "alice", "second oldest", true))
	h.frame(`{"type":"ONE_TO_ONE_CHAT_HISTORY","id":"r1","chatId":"alice-bob","hasMore":true,"messages":[` +
		dm("m1999", 1999, "bob", "alice", "almost", false) + `,` + dm("m2000", 2000, "bob", "alice", "newest", false) + `]}`)
	h.expectScreen("newest", "older messages: scroll up")
	h.expectNotScreen("oldest")
	if got := h.m.Conversation("alice-bob").Shown(); len(got) != 2 || got[0].Seq != 1999 {
		t.Fatalf("shown %v, want seqs 1999-2000", got)
	}
	h.out.take()
	h.key(tea.KeyPgUp)
	h.expectSent(map[string]any{"type": "GET_ONE_TO_ONE_HISTORY", "before": 1999})
}

func TestSessionEndedQuits(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob)
	cmd := h.update(client.Event{Type: client.EventEnded, Err: client.ErrSessionEnded, CloseCode: 1008})
	if !isQuit(cmd) || h.m.Ended == nil {
		t.Fatalf("ended: quit %v, Ended %v", isQuit(cmd), h.m.Ended)
	}
	if !isQuit(h.key('c', tea.ModCtrl)) {
		t.Fatal("ctrl+c does not quit")
	}
}

func TestControlCharactersAreNotPrinted(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob)
	h.frame(dm("m3", 3, "bob", "alice", "evil \x1b]0;pwned\x07\x1b[2J", false))
	s := h.m.Render()
	if strings.Contains(s, "\x1b]0;pwned") || strings.Contains(s, "\x1b[2J") {
		t.Fatalf("escape sequence from a message reached the screen: %q", s)
	}
	h.expectScreen("evil �]0;pwned��[2J")
}
