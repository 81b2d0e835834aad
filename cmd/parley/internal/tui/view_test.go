package tui_test

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/cmd/parley/internal/tui"
)

// words are the words of the help text, each of which must be on screen.
func helpWords() []string {
	return strings.Fields(strings.NewReplacer("…", " ", ",", " ", ";", " ").Replace(tui.Help))
}

// TestHelpWraps: /help on a narrow terminal wraps at the pane's width
// instead of cutting its lines, with and without a conversation shown.
func TestHelpWraps(t *testing.T) {
	check := func(t *testing.T, h *harness) {
		t.Helper()
		screen := h.screen()
		for _, w := range helpWords() {
			if !strings.Contains(screen, w) {
				t.Errorf("the help lost %q on a 60-column screen:\n%s", w, screen)
			}
		}
	}
	t.Run("no conversation", func(t *testing.T) {
		h := newHarness(t)
		h.update(tea.WindowSizeMsg{Width: 60, Height: 50})
		h.connect(`{"type":"INIT_DATA","username":"alice","chats":[],"groups":[]}`)
		h.enter("/help")
		check(t, h)
	})
	t.Run("in a chat", func(t *testing.T) {
		h := newHarness(t)
		h.update(tea.WindowSizeMsg{Width: 60, Height: 70})
		h.connect(initAliceBob)
		h.enter("/help")
		check(t, h)
	})
}

// TestErrorClearsOnSuccess: an error in the status line goes away once a
// later command or message works.
func TestErrorClearsOnSuccess(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob)
	h.enter("/frobnicate")
	h.expectScreen("unknown command /frobnicate")
	h.enter("/chat bob")
	h.expectNotScreen("unknown command")

	h.enter("/leave")
	h.expectScreen("show a group first")
	h.out.take()
	h.enter("hello")
	h.expectNotScreen("show a group first")

	// An error that came from the server goes once a request succeeds.
	sent := h.out.take()
	id := sent[len(sent)-1]["id"].(string)
	h.frame(`{"type":"ERROR","code":"rate_limited","msg":"slow down"}`)
	h.expectScreen("slow down")
	h.frame(`{"type":"SUCCESS","id":"` + id + `","messageId":"m9","chatId":"alice-bob","seq":3,"timestamp":"2026-11-26T20:00:01.000Z"}`)
	h.expectNotScreen("slow down")
}

// TestNewChatPresence: a chat opened with /chat says when its presence
// will show, instead of "presence unknown".
func TestNewChatPresence(t *testing.T) {
	h := newHarness(t)
	h.connect(initAliceBob)
	h.enter("/chat carol")
	h.expectNotScreen("presence unknown")
	h.expectScreen("presence shows after the first message")
	h.frame(`{"type":"PRESENCE_UPDATE","username":"carol","status":"ONLINE","lastSeen":"2026-11-26T20:00:00.000Z"}`)
	h.expectScreen("carol · online")
}
