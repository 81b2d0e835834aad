package main

import (
	"fmt"
	"time"

	"github.com/parley-chat/parley/client"
)

// testPresence: a watcher's presence connection sees a contact go ONLINE
// and OFFLINE when it connects and closes, and OFFLINE when its connection
// stops answering pings.
func testPresence(s *suite) error {
	var a, w *tester
	var watch *client.Conn
	if err := s.check("register two fresh users who share a chat", func() error {
		us, err := s.newUsers("alice", "watcher")
		if err != nil {
			return err
		}
		a, w = us[0], us[1]
		if _, err := s.connect(a); err != nil {
			return err
		}
		if _, err := s.reply(a.conn, "SUCCESS", map[string]any{"type": "ONE_TO_ONE_CHAT", "to": w.name, "content": "hi"}); err != nil {
			return err
		}
		return s.closeAndWait(a)
	}); err != nil {
		return err
	}

	if err := s.check("presence connection reports the contact", func() error {
		var err error
		if watch, err = s.dial(w, "presence", nil); err != nil {
			return err
		}
		w.conn = watch
		p, err := s.presence(watch, a.name, "")
		if err == nil && p.Status == "ONLINE" {
			// a's close had not been counted yet: it must follow.
			_, err = s.presence(watch, a.name, "OFFLINE")
		}
		return err
	}); err != nil {
		return err
	}

	if err := s.check("contact goes ONLINE", func() error {
		if _, err := s.connect(a); err != nil {
			return err
		}
		_, err := s.presence(watch, a.name, "ONLINE")
		return err
	}); err != nil {
		return err
	}

	if err := s.check("contact goes OFFLINE when it closes", func() error {
		if err := s.closeAndWait(a); err != nil {
			return err
		}
		_, err := s.presence(watch, a.name, "OFFLINE")
		return err
	}); err != nil {
		return err
	}

	interval := s.pingInterval
	return s.check(fmt.Sprintf("contact goes OFFLINE by missed pongs (ping interval %v)", interval), func() error {
		dead, err := s.dial(a, "chat", &client.DialOptions{NoPong: true})
		if err != nil {
			return err
		}
		a.conn = dead
		if _, err := s.presence(watch, a.name, "ONLINE"); err != nil {
			return err
		}
		// The first ping goes out within an interval and the connection
		// is dropped at the next one: two intervals, and some slack.
		limit := interval*5/2 + 500*time.Millisecond
		saved := s.timeout
		s.timeout = limit
		_, err = s.presence(watch, a.name, "OFFLINE")
		s.timeout = saved
		if err != nil {
			return fmt.Errorf("not dropped within %v: %w", limit, err)
		}
		return nil
	})
}

// presence waits on c for the PRESENCE_UPDATE of user (with status, if
// given) and checks that it has a lastSeen.
func (s *suite) presence(c *client.Conn, user, status string) (client.Frame, error) {
	p, err := s.expect(c, "PRESENCE_UPDATE", func(f client.Frame) bool {
		return f.Username == user && (status == "" || f.Status == status)
	})
	if err != nil {
		return p, fmt.Errorf("%s %s: %w", user, status, err)
	}
	if p.LastSeen == nil {
		return p, fmt.Errorf("no lastSeen in %s", p.Raw)
	}
	return p, nil
}

// closeAndWait sends DISCONNECT and waits for the server's close 1000.
func (s *suite) closeAndWait(u *tester) error {
	c := u.conn
	u.conn = nil
	if err := c.Send(map[string]string{"type": "DISCONNECT"}); err != nil {
		return err
	}
	select {
	case <-c.Done():
	case <-s.after():
		return fmt.Errorf("DISCONNECT: not closed within %v", s.timeout)
	}
	if code := c.CloseCode(); code != 1000 {
		return fmt.Errorf("DISCONNECT: closed with %d, want 1000", code)
	}
	return nil
}
