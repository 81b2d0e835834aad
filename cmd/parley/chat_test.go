package main

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

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
	m := tui.New(tui.Options{Username: c.Username, Server: s.URL(), Sender: sess})
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
	l.m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
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
