package tui

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

var (
	dim      = lipgloss.NewStyle().Faint(true)
	bold     = lipgloss.NewStyle().Bold(true)
	selected = lipgloss.NewStyle().Reverse(true)
	green    = lipgloss.NewStyle().Foreground(lipgloss.Green)
	yellow   = lipgloss.NewStyle().Foreground(lipgloss.Yellow)
	red      = lipgloss.NewStyle().Foreground(lipgloss.Red)
	mine     = lipgloss.NewStyle().Foreground(lipgloss.Cyan).Bold(true)
	theirs   = lipgloss.NewStyle().Foreground(lipgloss.Magenta).Bold(true)
)

// View implements tea.Model: the full-screen layout.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "parley"
	if m.me != "" {
		v.WindowTitle += " — " + m.me
	}
	if c := m.input.Cursor(); c != nil {
		c.Position.Y += m.height - 1
		v.Cursor = c
	}
	return v
}

// Render draws the screen: the conversation list on the left, the message
// pane on the right, the status line and the input line at the bottom.
func (m *Model) Render() string {
	bodyH := m.height - 2
	lw := m.listWidth()
	pw := m.paneWidth()
	left := m.listLines(lw, bodyH)
	right := m.paneView(pw, bodyH)
	var b strings.Builder
	for i := 0; i < bodyH; i++ {
		b.WriteString(pad(left[i], lw))
		b.WriteString(dim.Render("│"))
		b.WriteString(pad(right[i], pw))
		b.WriteByte('\n')
	}
	b.WriteString(pad(m.statusLine(), m.width))
	b.WriteByte('\n')
	b.WriteString(m.input.View())
	return b.String()
}

func (m *Model) listWidth() int  { return min(max(m.width/4, 14), 28) }
func (m *Model) paneWidth() int  { return max(m.width-m.listWidth()-1, 10) }
func (m *Model) paneHeight() int { return max(m.height-4, 1) }

// listLines draws the conversation list: a presence dot (or # for a
// group), the name and the unread count.
func (m *Model) listLines(w, h int) []string {
	lines := make([]string, h)
	first := max(0, m.sel-h+1)
	for i := first; i < len(m.convs) && i-first < h; i++ {
		c := m.convs[i]
		mark := dim.Render("·")
		switch {
		case c.Group:
			mark = "#"
		case c.Status == "ONLINE":
			mark = green.Render("●")
		case c.Status == "OFFLINE":
			mark = dim.Render("○")
		}
		count := ""
		if c.Unread > 0 {
			count = fmt.Sprintf(" %d", c.Unread)
		}
		name := ansi.Truncate(clean(c.Title), w-3-len(count), "…")
		gap := max(w-2-ansi.StringWidth(name)-len(count), 0)
		row := name + strings.Repeat(" ", gap) + bold.Render(count)
		if i == m.sel {
			row = selected.Render(ansi.Strip(row))
		}
		lines[i-first] = mark + " " + row
	}
	return lines
}

// paneView draws the header, the visible window of the message pane and
// the line under it (typing, or how far back the pane is scrolled).
func (m *Model) paneView(w, h int) []string {
	out := make([]string, h)
	c := m.Selected()
	if c == nil {
		out[0] = bold.Render("no conversations yet")
		row := 2
		for _, l := range helpLines(w) {
			if row < h {
				out[row] = dim.Render(l)
			}
			row++
		}
		return out
	}
	out[0] = m.header(c)
	lines := m.paneLines(c)
	rows := h - 2
	end := max(len(lines)-m.scroll, 0)
	start := max(end-rows, 0)
	for i, l := range lines[start:end] {
		out[1+rows-(end-start)+i] = l
	}
	out[h-1] = m.footer(c)
	return out
}

func (m *Model) header(c *Conversation) string {
	if c.Group {
		return bold.Render("# "+clean(c.Title)) + dim.Render("  "+c.Key)
	}
	// A chat the server did not list in INIT_DATA is new: its users become
	// contacts, and see each other's presence, with its first message.
	status := "presence shows after the first message"
	switch c.Status {
	case "ONLINE":
		status = green.Render("online")
	case "OFFLINE":
		status = "offline"
		if t := parseTime(c.LastSeen); !t.IsZero() {
			status += ", last seen " + t.In(m.opts.Location).Format("2006-01-02 15:04")
		}
	}
	return bold.Render(clean(c.Title)) + dim.Render(" · ") + status
}

func (m *Model) footer(c *Conversation) string {
	if m.scroll > 0 {
		s := fmt.Sprintf("↑ %d lines back, esc for the newest", m.scroll)
		if c.Unread > 0 {
			s += fmt.Sprintf(" (%d new)", c.Unread)
		}
		return yellow.Render(s)
	}
	var who []string
	for name := range c.Typing {
		who = append(who, name)
	}
	switch len(who) {
	case 0:
		return ""
	case 1:
		return dim.Render(who[0] + " is typing…")
	default:
		return dim.Render(fmt.Sprintf("%d people are typing…", len(who)))
	}
}

// paneLines renders every shown entry of c, wrapped to the pane.
func (m *Model) paneLines(c *Conversation) []string {
	w := m.paneWidth()
	var lines []string
	switch {
	case c.Loading:
		lines = append(lines, dim.Render("loading…"))
	case c.HasOlder():
		lines = append(lines, dim.Render("↑ older messages: scroll up"))
	case len(c.Msgs) > 0 || c.Loaded:
		lines = append(lines, dim.Render("— start of the conversation —"))
	}
	for _, e := range c.entries() {
		if e.msg == nil {
			lines = append(lines, strings.Split(ansi.Wrap(dim.Render("  "+clean(e.notice)), w, ""), "\n")...)
			continue
		}
		lines = append(lines, m.messageLines(c, *e.msg, w)...)
	}
	return lines
}

// messageLines renders one message: the message it replies to, time,
// sender, text, whether it was edited, its state when it is ours (pending,
// refused, stored, read), and its reactions.
func (m *Model) messageLines(c *Conversation, msg Message, w int) []string {
	at := "     "
	if !msg.Time.IsZero() {
		at = msg.Time.In(m.opts.Location).Format("15:04")
	}
	who := theirs.Render(msg.From)
	if msg.From == m.me {
		who = mine.Render(msg.From)
	}
	var lines []string
	if msg.ReplyTo > 0 {
		quote := fmt.Sprintf("#%d (not loaded)", msg.ReplyTo)
		if t := c.find(msg.ReplyTo); t != nil {
			text := clean(t.Content)
			if t.Deleted {
				text = "(message deleted)"
			}
			quote = t.From + ": " + strings.ReplaceAll(text, "\n", " ")
		}
		lines = append(lines, dim.Render(ansi.Truncate(strings.Repeat(" ", indent)+"↪ "+quote, w, "…")))
	}
	s := dim.Render(at) + " "
	if m.showSeqs && msg.Seq > 0 {
		s += dim.Render(fmt.Sprintf("#%d ", msg.Seq))
	}
	s += who + ": "
	if msg.Deleted {
		s += dim.Render("(message deleted)")
	} else {
		s += clean(msg.Content)
	}
	if msg.Edited && !msg.Deleted {
		s += dim.Render(" (edited)")
	}
	switch {
	case msg.Failed != "":
		s += red.Render(" ✗ " + msg.Failed)
	case msg.Pending:
		s = dim.Render(ansi.Strip(s) + " …")
	case msg.From == m.me && !msg.Deleted && c.Group:
		if n := c.seenBy(msg.Seq, m.me); n > 0 {
			s += dim.Render(fmt.Sprintf(" · seen by %d", n))
		}
	case msg.From == m.me && !msg.Deleted:
		if c.reads[c.Peer] >= msg.Seq {
			s += green.Render(" ✓✓")
		} else {
			s += dim.Render(" ✓")
		}
	}
	wrapped := strings.Split(ansi.Wrap(s, max(w-indent, 10), ""), "\n")
	for i := 1; i < len(wrapped); i++ {
		wrapped[i] = strings.Repeat(" ", indent) + wrapped[i]
	}
	lines = append(lines, wrapped...)
	if len(msg.Reactions) > 0 {
		var rs []string
		for _, r := range msg.Reactions {
			tag := clean(r.Emoji) + " " + fmt.Sprint(len(r.Users))
			if slices.Contains(r.Users, m.me) {
				tag = bold.Render(tag)
			}
			rs = append(rs, tag)
		}
		lines = append(lines, ansi.Truncate(strings.Repeat(" ", indent)+strings.Join(rs, "  "), w, "…"))
	}
	return lines
}

// indent is how far the lines after the first of a message are indented:
// past the time.
const indent = 6

// helpLines is Help wrapped to w cells; a line's continuation is indented
// to its description column (22 cells) where the width allows.
func helpLines(w int) []string {
	const col = 22
	var out []string
	for _, l := range strings.Split(Help, "\n") {
		cont := ""
		if w >= col+20 && len(l) > col && strings.HasPrefix(l, "/") {
			cont = strings.Repeat(" ", col)
		}
		wrapped := strings.Split(ansi.Wrap(l, max(w-len(cont), 10), ""), "\n")
		out = append(out, wrapped[0])
		for _, r := range wrapped[1:] {
			out = append(out, cont+strings.TrimLeft(r, " "))
		}
	}
	return out
}

func (m *Model) statusLine() string {
	var conn string
	where := m.me + "@" + strings.TrimPrefix(strings.TrimPrefix(m.opts.Server, "http://"), "https://")
	switch m.state {
	case online:
		conn = green.Render("● " + where)
	case connecting:
		conn = yellow.Render("◌ " + where + " connecting…")
	case offline:
		conn = red.Render("○ " + where + " " + m.detail)
	}
	if m.status == "" {
		return conn
	}
	st := clean(m.status)
	if m.isErr {
		st = red.Render(st)
	}
	return conn + dim.Render(" │ ") + st
}

// pad cuts or fills s to exactly w cells.
func pad(s string, w int) string {
	s = ansi.Truncate(s, w, "")
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

// clean makes text from other users safe to print: control characters
// (escape sequences could take over the terminal) become �, tabs spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			return '\uFFFD'
		}
		return r
	}, s)
}
