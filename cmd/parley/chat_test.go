package main

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/cmd/parley/internal/tui"
	"github.com/parley-chat/parley/internal/testserver"
)

// live is the chat client without its terminal: a session against a real
// server feeding a model, as `parley chat` wires them.
type live struct {
	t       *testing.T
	m       *tui.Model
	sess    *client.Session
	events  <-chan client.Event
	offline int // offline frames received
}

func startLive(t *testing.T, s *testserver.Server, src *storedTokens) *live {
	t.Helper()
	sess, events, _ := runSession(t, s, src)
	c, _ := src.store.get(s.URL())
	m := tui.New(tui.Options{Username: c.Username, Server: s.URL(), Sender: sess, FindUsers: finder(src.api, src)})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	l := &live{t: t, m: m, sess: sess, events: events}
	l.until("ready", m.Ready)
	return l
}

// until feeds the session's events to the model until cond holds.
func (l *live) until(what string, cond func() bool) {
	l.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case ev := <-l.events:
			if ev.Type == client.EventFrame && ev.Frame.Offline {
				l.offline++
			}
			l.m.Update(ev)
		case <-deadline:
			l.t.Fatalf("%s: not %s; screen:\n%s", l.m.Username(), what, l.m.Render())
		}
	}
}

// enter types a line and presses enter.
func (l *live) enter(line string) {
	for _, r := range line {
		l.m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	_, cmd := l.m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if strings.HasPrefix(line, "/find ") && cmd != nil {
		l.m.Update(cmd()) // the lookup, as Bubble Tea would run it
	}
}

func (l *live) conv(key string) *tui.Conversation { return l.m.Conversation(key) }

func TestChatAgainstServer(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	aliceTokens, bobTokens := loggedIn(t, s, "alice"), loggedIn(t, s, "bob")
	a := startLive(t, s, aliceTokens)

	a.enter("/chat bob")
	a.enter("hi bob")
	a.until("confirmed", func() bool {
		c := a.conv("alice-bob")
		return c != nil && len(c.Msgs) == 1 && len(c.Pending) == 0
	})

	// bob connects: the message comes as an offline message, is shown and
	// acknowledged.
	b := startLive(t, s, bobTokens)
	if c := b.conv("alice-bob"); c == nil || len(c.Msgs) != 1 || c.Msgs[0].Content != "hi bob" || c.Unread != 0 || b.offline != 1 {
		t.Fatalf("bob: %+v, %d offline", c, b.offline)
	}
	a.until("bob online", func() bool { return a.conv("alice-bob").Status == "ONLINE" })

	a.m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	b.until("alice typing", func() bool { return !b.conv("alice-bob").Typing["alice"].IsZero() })
	a.m.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})

	b.enter("hi alice")
	a.until("reply", func() bool { return len(a.conv("alice-bob").Msgs) == 2 })

	// bob leaves and comes back: everything was acknowledged, nothing
	// comes again.
	b.sess.Close()
	a.until("bob offline", func() bool { return a.conv("alice-bob").Status == "OFFLINE" })
	b = startLive(t, s, bobTokens)
	if b.offline != 0 {
		t.Fatalf("%d offline messages again after ACK", b.offline)
	}

	// A group: bob is added, and its message is unread while he looks at
	// the chat with alice.
	a.enter("/create crew bob")
	a.until("group created", func() bool { c := a.m.Selected(); return c != nil && c.Group })
	gid := a.m.Selected().Key
	b.until("added to the group", func() bool { return b.conv(gid) != nil })
	a.enter("hello crew")
	b.until("group message", func() bool { return len(b.conv(gid).Msgs) == 1 })
	if g := b.conv(gid); g.Unread != 1 || g.Title != "crew" {
		t.Fatalf("bob's group: unread %d, title %q", g.Unread, g.Title)
	}
}

// TestChatTimelineAgainstServer: edits, reactions, replies, deletions and
// read marks made in one terminal client reach the other through a real
// server, and /find asks the server's directory.
func TestChatTimelineAgainstServer(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	aliceTokens, bobTokens := loggedIn(t, s, "alice"), loggedIn(t, s, "bob")
	a, b := startLive(t, s, aliceTokens), startLive(t, s, bobTokens)
	shows := func(l *live, what string) func() bool {
		return func() bool { return strings.Contains(ansi.Strip(l.m.Render()), what) }
	}

	a.enter("/find bo")
	a.until("found bob", func() bool { return strings.Contains(a.m.Status(), "found: bob") })
	a.enter("/chat bob")
	a.enter("helo bob")
	b.until("the message", shows(b, "alice: helo bob"))
	b.m.Update(tea.KeyPressMsg{Code: tea.KeyTab}) // bob looks at it: READ
	a.until("read by bob", shows(a, "helo bob ✓✓"))

	a.enter("/edit hello bob")
	b.until("the edit", shows(b, "alice: hello bob (edited)"))
	b.enter("/react 👍")
	a.until("bob's reaction", shows(a, "👍 1"))
	b.enter("/reply hi!")
	a.until("the reply", shows(a, "↪ alice: hello bob"))
	a.enter("/delete #1")
	b.until("the deletion", shows(b, "alice: (message deleted)"))

	// bob comes back: the history carries the state of each message.
	b.sess.Close()
	b = startLive(t, s, bobTokens)
	b.until("history", func() bool { c := b.conv("alice-bob"); return c != nil && c.Loaded })
	b.until("state from history", shows(b, "alice: (message deleted)"))
	if screen := ansi.Strip(b.m.Render()); !strings.Contains(screen, "bob: hi!") || strings.Contains(screen, "hello bob (edited)") {
		t.Fatalf("bob's screen after reconnecting:\n%s", screen)
	}
}
