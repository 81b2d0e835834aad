package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/cmd/parley/internal/tui"
)

// testBasic: two fresh users exchange one-to-one messages both ways; the
// history holds both; an acknowledged message is not delivered again and
// one sent while the recipient was away is; logout ends the session.
func testBasic(s *suite) error {
	var a, b *tester
	if err := s.check("register and log in two fresh users", func() error {
		us, err := s.newUsers("alice", "bob")
		if err == nil {
			a, b = us[0], us[1]
		}
		return err
	}); err != nil {
		return err
	}
	if err := s.check("chat connections open with INIT_DATA", func() error {
		for _, u := range []*tester{a, b} {
			if _, err := s.connect(u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}

	var sent [2]client.Frame // the SUCCESS of each message
	if err := s.check("one-to-one message delivered", func() error {
		f, err := s.deliver(a, b, "hello from "+a.name)
		sent[0] = f
		return err
	}); err != nil {
		return err
	}
	if err := s.check("reply delivered the other way", func() error {
		f, err := s.deliver(b, a, "hello back from "+b.name)
		if err == nil && f.Seq != sent[0].Seq+1 {
			err = fmt.Errorf("reply has seq %d, want %d", f.Seq, sent[0].Seq+1)
		}
		sent[1] = f
		return err
	}); err != nil {
		return err
	}

	if err := s.check("history has both messages", func() error {
		h, err := s.reply(a.conn, "ONE_TO_ONE_CHAT_HISTORY", map[string]any{"type": "GET_ONE_TO_ONE_HISTORY", "to": b.name})
		if err != nil {
			return err
		}
		if len(h.Messages) != 2 {
			return fmt.Errorf("%d messages, want 2: %s", len(h.Messages), h.Raw)
		}
		for i, m := range h.Messages {
			if m.MessageID != sent[i].MessageID || m.Seq != sent[i].Seq {
				return fmt.Errorf("message %d is %s, want messageId %s seq %d", i, h.Messages[i].Raw, sent[i].MessageID, sent[i].Seq)
			}
		}
		if h.Messages[0].From != a.name || h.Messages[1].From != b.name || h.ChatID != sent[0].ChatID {
			return fmt.Errorf("wrong senders or chatId: %s", h.Raw)
		}
		return nil
	}); err != nil {
		return err
	}

	if err := s.check("message sent while away is delivered offline, once", func() error {
		// b reads what it has seen (READ is also an ACK), leaves, and
		// misses one message.
		if err := b.conn.Send(map[string]any{"type": "READ", "chatId": sent[0].ChatID, "seq": sent[1].Seq}); err != nil {
			return err
		}
		if _, err := s.reply(b.conn, "PONG", map[string]any{"type": "PING"}); err != nil {
			return err // the ACK has taken effect before PONG
		}
		b.conn.CloseNormal()
		b.conn = nil
		missed, err := s.reply(a.conn, "SUCCESS", map[string]any{"type": "ONE_TO_ONE_CHAT", "to": b.name, "content": "while you were away"})
		if err != nil {
			return err
		}
		init, err := s.connect(b)
		if err != nil {
			return err
		}
		if len(init.Chats) != 1 || init.Chats[0].Unread != 1 || init.Chats[0].LastSeq != missed.Seq {
			return fmt.Errorf("INIT_DATA: %s, want one chat with unread 1 and lastSeq %d", init.Raw, missed.Seq)
		}
		off, err := s.expect(b.conn, "ONE_TO_ONE_CHAT", nil)
		if err != nil {
			return err
		}
		if !off.Offline || off.MessageID != missed.MessageID {
			return fmt.Errorf("got %s, want the missed message %s with offline: true", off.Raw, missed.MessageID)
		}
		info, err := s.expect(b.conn, "INFO", func(f client.Frame) bool { return f.Event == "offline_delivered" })
		if err != nil {
			return err
		}
		if info.Count == nil || *info.Count != 1 {
			return fmt.Errorf("got %s, want count 1", info.Raw)
		}
		return nil
	}); err != nil {
		return err
	}

	return s.check("logout ends the session", func() error {
		if err := s.api.Logout(s.ctx, a.tokens.Token); err != nil {
			return err
		}
		c := a.conn
		select {
		case <-c.Done():
		case <-s.after():
			return fmt.Errorf("the open socket was not closed")
		}
		if code := c.CloseCode(); code != 1008 {
			return fmt.Errorf("socket closed with %d, want 1008", code)
		}
		url, _ := s.api.WebSocketURL("chat")
		ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
		defer cancel()
		if c, resp, err := client.Dial(ctx, url, a.tokens.Token, nil); err == nil {
			c.Close()
			return fmt.Errorf("the token still opens a connection")
		} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			return fmt.Errorf("dialing with the old token: %v, want HTTP 401", err)
		}
		a.conn, a.tokens = nil, nil
		return nil
	})
}

// deliver sends a message from one user to another and checks the
// sender's SUCCESS and the recipient's copy; it returns the SUCCESS.
func (s *suite) deliver(from, to *tester, content string) (client.Frame, error) {
	ok, err := s.reply(from.conn, "SUCCESS", map[string]any{"type": "ONE_TO_ONE_CHAT", "to": to.name, "content": content})
	if err != nil {
		return ok, err
	}
	if ok.MessageID == "" || ok.Seq < 1 || ok.ChatID != tui.ChatID(from.name, to.name) {
		return ok, fmt.Errorf("SUCCESS lacks messageId, seq or the right chatId: %s", ok.Raw)
	}
	got, err := s.expect(to.conn, "ONE_TO_ONE_CHAT", func(f client.Frame) bool { return f.MessageID == ok.MessageID })
	if err != nil {
		return ok, err
	}
	if got.From != from.name || got.To != to.name || got.Content != content || got.Seq != ok.Seq {
		return ok, fmt.Errorf("delivered %s, want from %s to %s seq %d", got.Raw, from.name, to.name, ok.Seq)
	}
	return ok, nil
}
