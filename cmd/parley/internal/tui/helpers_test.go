package tui_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/cmd/parley/internal/tui"
)

// sender records the frames the model sends; while down it refuses them
// as a session without a connection does.
type sender struct {
	t    testing.TB
	sent []map[string]any
	down bool
}

func (s *sender) Send(v any) error {
	if s.down {
		return client.ErrNotConnected
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatalf("marshal %v: %v", v, err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	s.sent = append(s.sent, m)
	return nil
}

// take returns the frames sent since the last take.
func (s *sender) take() []map[string]any {
	out := s.sent
	s.sent = nil
	return out
}

// clock is a settable time.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time            { return c.now }
func (c *clock) advance(d time.Duration)   { c.now = c.now.Add(d) }
func (h *harness) advance(d time.Duration) { h.clock.advance(d) }

// harness drives a Model as Bubble Tea would.
type harness struct {
	t     testing.TB
	m     *tui.Model
	out   *sender
	clock *clock
	ids   int
}

// newHarness returns a model of alice, 100x30, not yet connected; edits
// change its options.
func newHarness(t testing.TB, edits ...func(*tui.Options)) *harness {
	t.Helper()
	h := &harness{t: t, out: &sender{t: t}, clock: &clock{now: time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)}}
	o := tui.Options{
		Username: "alice", Server: "http://127.0.0.1:3000", Sender: h.out,
		Now: h.clock.Now, Location: time.UTC,
		NewID: func() string { h.ids++; return fmt.Sprintf("r%d", h.ids) },
	}
	for _, e := range edits {
		e(&o)
	}
	h.m = tui.New(o)
	h.update(tea.WindowSizeMsg{Width: 100, Height: 30})
	return h
}

// connect delivers a connection, INIT_DATA and the end of the offline
// delivery (with the given offline frames in between).
func (h *harness) connect(init string, offline ...string) {
	h.t.Helper()
	h.update(client.Event{Type: client.EventConnected})
	h.frame(init)
	for _, f := range offline {
		h.frame(f)
	}
	h.frame(fmt.Sprintf(`{"type":"INFO","msg":"offline messages delivered","event":"offline_delivered","count":%d}`, len(offline)))
}

func (h *harness) update(msg tea.Msg) tea.Cmd {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	return cmd
}

// frame delivers a server frame given as JSON.
func (h *harness) frame(raw string) tea.Cmd {
	h.t.Helper()
	var f client.Frame
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		h.t.Fatalf("bad frame %s: %v", raw, err)
	}
	f.Raw = json.RawMessage(raw)
	return h.update(client.Event{Type: client.EventFrame, Frame: f})
}

// typeText types s, one key press per character.
func (h *harness) typeText(s string) {
	for _, r := range s {
		h.update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func (h *harness) key(code rune, mod ...tea.KeyMod) tea.Cmd {
	k := tea.KeyPressMsg{Code: code}
	for _, m := range mod {
		k.Mod |= m
	}
	return h.update(k)
}

// enter types s and presses enter.
func (h *harness) enter(s string) tea.Cmd {
	h.typeText(s)
	return h.key(tea.KeyEnter)
}

// screen is the rendered screen without styling.
func (h *harness) screen() string { return ansi.Strip(h.m.Render()) }

// expectSent checks the frames sent since the last check, field by field
// (fields of want only).
func (h *harness) expectSent(want ...map[string]any) {
	h.t.Helper()
	got := h.out.take()
	if len(got) != len(want) {
		h.t.Fatalf("sent %d frames, want %d:\n got  %v\n want %v", len(got), len(want), got, want)
	}
	for i := range want {
		for k, v := range want[i] {
			if fmt.Sprint(got[i][k]) != fmt.Sprint(v) {
				h.t.Fatalf("frame %d: %s = %v, want %v\n got %v", i, k, got[i][k], v, got[i])
			}
		}
	}
}

func (h *harness) expectScreen(parts ...string) {
	h.t.Helper()
	s := h.screen()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			h.t.Fatalf("screen lacks %q:\n%s", p, s)
		}
	}
}

func (h *harness) expectNotScreen(parts ...string) {
	h.t.Helper()
	s := h.screen()
	for _, p := range parts {
		if strings.Contains(s, p) {
			h.t.Fatalf("screen shows %q:\n%s", p, s)
		}
	}
}

// isQuit says whether cmd quits the program.
func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// dm builds a delivered one-to-one message frame.
func dm(id string, seq int, from, to, content string, offline bool) string {
	return jsonOf(map[string]any{"type": "ONE_TO_ONE_CHAT", "messageId": id, "seq": seq, "from": from, "to": to,
		"chatId": tui.ChatID(from, to), "content": content, "offline": offline,
		"timestamp": fmt.Sprintf("2026-11-26T19:%02d:00.000Z", seq%60)})
}

// gm builds a delivered group message frame.
func gm(id string, seq int, group, from, content string) string {
	return jsonOf(map[string]any{"type": "GROUP_CHAT", "messageId": id, "seq": seq, "from": from, "groupId": group,
		"content": content, "timestamp": "2026-11-26T19:00:00.000Z"})
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

const initAliceBob = `{"type":"INIT_DATA","username":"alice",
 "chats":[{"chatId":"alice-bob","with":"bob","status":"ONLINE","lastSeen":"2026-11-26T20:00:00.000Z","lastSeq":2,"unread":2}],
 "groups":[{"groupId":"gteam","name":"team","lastSeq":5,"unread":1}]}`
