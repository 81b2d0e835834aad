package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
)

// maxContent is the protocol's limit on a message, in bytes.
const maxContent = 4096

// handleKey applies a key press: navigation and scrolling keys are the
// model's, the rest edit the input line.
func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "ctrl+c":
		return tea.Quit
	case "enter":
		return m.submit()
	case "tab", "ctrl+n":
		m.cycle(1)
		return nil
	case "shift+tab", "ctrl+p":
		m.cycle(-1)
		return nil
	case "pgup":
		m.scrollUp(m.paneHeight() - 1)
		return nil
	case "pgdown":
		m.scrollDown(m.paneHeight() - 1)
		return nil
	case "up", "shift+up":
		m.scrollUp(1)
		return nil
	case "down", "shift+down":
		m.scrollDown(1)
		return nil
	case "esc":
		m.scrollDown(m.scroll)
		return nil
	}
	return m.edit(k)
}

// edit passes a key press or a paste to the input line; a change to a
// message being written says TYPING.
func (m *Model) edit(msg tea.Msg) tea.Cmd {
	before := m.input.Value()
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if v := m.input.Value(); v != before && v != "" && !strings.HasPrefix(v, "/") {
		m.sendTyping()
	}
	return cmd
}

// cycle moves the selection by d, wrapping around.
func (m *Model) cycle(d int) {
	if n := len(m.convs); n > 0 {
		m.selectIndex(((m.sel+d)%n + n) % n)
	}
}

// submit sends the input line as a message, or runs it as a command.
func (m *Model) submit() tea.Cmd {
	line := strings.TrimSpace(m.input.Value())
	if line == "" {
		return nil
	}
	m.input.Reset()
	m.clearError() // the new line makes an old error stale; its own replace it
	if strings.HasPrefix(line, "/") && !strings.HasPrefix(line, "//") {
		return m.command(line)
	}
	line = strings.TrimPrefix(line, "/") // "//x" sends "/x"
	m.sendMessage(line, 0)
	return nil
}

// sendMessage sends content to the shown conversation, as a reply to the
// message with seq replyTo when it is not 0. The message shows as pending
// until SUCCESS; if there is no connection it is sent on the next one.
func (m *Model) sendMessage(content string, replyTo int64) {
	c := m.Selected()
	if c == nil {
		m.setError("no conversation: /chat USER or /join GROUP first")
		return
	}
	if len(content) > maxContent {
		m.setError(fmt.Sprintf("message too long: %d bytes, at most %d", len(content), maxContent))
		return
	}
	f := map[string]any{"content": content}
	if replyTo > 0 {
		f["replyTo"] = replyTo
	}
	if c.Group {
		f["type"], f["groupId"] = "GROUP_CHAT", c.Key
	} else {
		f["type"], f["to"] = "ONE_TO_ONE_CHAT", c.Peer
	}
	err := m.send(request{kind: reqSend, key: c.Key}, f)
	c.Pending = append(c.Pending, Message{ReqID: f["id"].(string), From: m.me, Content: content, ReplyTo: replyTo, Time: m.opts.Now(), Pending: true})
	if err != nil {
		m.setStatus("queued until reconnected")
	}
	c.typingSent = time.Time{} // the next keystroke may say TYPING again
	m.scroll = 0
	m.ackVisible()
}

// sendTyping tells the others of the shown conversation that this user
// is typing, at most once per TypingEvery.
func (m *Model) sendTyping() {
	c := m.Selected()
	if c == nil || m.state != online {
		return
	}
	now := m.opts.Now()
	if now.Sub(c.typingSent) < m.opts.TypingEvery {
		return
	}
	f := map[string]any{"type": "TYPING"}
	if c.Group {
		f["groupId"] = c.Key
	} else {
		f["to"] = c.Peer
	}
	if m.opts.Sender.Send(f) == nil {
		c.typingSent = now
	}
}

// scrollUp moves the pane n lines back; at the top it asks for the page
// of history before the oldest message shown.
func (m *Model) scrollUp(n int) {
	c := m.Selected()
	if c == nil {
		return
	}
	top := m.maxScroll()
	m.scroll = min(m.scroll+n, top)
	if m.scroll == top && c.HasOlder() && !c.Loading && m.state == online {
		m.loadHistory(c, true)
	}
}

// scrollDown moves the pane n lines forward; at the bottom what is shown
// is acknowledged.
func (m *Model) scrollDown(n int) {
	m.scroll = max(m.scroll-n, 0)
	if m.scroll == 0 {
		m.ackVisible()
	}
}

func (m *Model) maxScroll() int {
	c := m.Selected()
	if c == nil {
		return 0
	}
	return max(len(m.paneLines(c))-m.paneHeight(), 0)
}

func (m *Model) clampScroll() { m.scroll = min(m.scroll, m.maxScroll()) }
