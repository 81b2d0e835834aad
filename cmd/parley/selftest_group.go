package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/parley-chat/parley/client"
)

// testGroup: an owner creates a group with a member, a third user joins,
// a message fans out to the members, the third leaves and gets no more of
// its messages.
func testGroup(s *suite) error {
	var owner, member, joiner *tester
	if err := s.check("register and log in three fresh users", func() error {
		us, err := s.newUsers("owner", "member", "joiner")
		if err != nil {
			return err
		}
		owner, member, joiner = us[0], us[1], us[2]
		for _, u := range us {
			if _, err := s.connect(u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}

	var gid string
	name := "test " + s.tag
	if err := s.check("group created with a member", func() error {
		ok, err := s.reply(owner.conn, "SUCCESS", map[string]any{"type": "CREATE_GROUP", "name": name, "members": []string{member.name}})
		if err != nil {
			return err
		}
		if ok.GroupID == "" || ok.Name != name {
			return fmt.Errorf("SUCCESS %s, want a groupId and name %q", ok.Raw, name)
		}
		gid = ok.GroupID
		_, err = s.expect(member.conn, "GROUP_MEMBER_JOINED", func(f client.Frame) bool {
			return f.GroupID == gid && f.Username == member.name && f.By == owner.name
		})
		return err
	}); err != nil {
		return err
	}

	if err := s.check("another user joins", func() error {
		if _, err := s.reply(joiner.conn, "SUCCESS", map[string]any{"type": "JOIN_GROUP", "groupId": gid}); err != nil {
			return err
		}
		for _, u := range []*tester{owner, member} {
			if _, err := s.expect(u.conn, "GROUP_MEMBER_JOINED", func(f client.Frame) bool {
				return f.GroupID == gid && f.Username == joiner.name
			}); err != nil {
				return fmt.Errorf("%s: %w", u.name, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}

	if err := s.check("members listed", func() error {
		f, err := s.reply(owner.conn, "GROUP_MEMBERS", map[string]any{"type": "GET_GROUP_MEMBERS", "groupId": gid})
		if err != nil {
			return err
		}
		var names []string
		for _, m := range f.Members {
			names = append(names, m.Username)
		}
		want := []string{owner.name, member.name, joiner.name}
		if !slices.Equal(names, want) || f.Owner != owner.name || f.Name != name {
			return fmt.Errorf("got %s, want members %v owned by %s", f.Raw, want, owner.name)
		}
		return nil
	}); err != nil {
		return err
	}

	var first client.Frame
	if err := s.check("message fanned out to the members", func() error {
		var err error
		first, err = s.fanOut(owner, gid, "hello group", member, joiner)
		return err
	}); err != nil {
		return err
	}

	if err := s.check("member leaves", func() error {
		if _, err := s.reply(joiner.conn, "SUCCESS", map[string]any{"type": "LEAVE_GROUP", "groupId": gid}); err != nil {
			return err
		}
		_, err := s.expect(owner.conn, "GROUP_MEMBER_LEFT", func(f client.Frame) bool {
			return f.GroupID == gid && f.Username == joiner.name
		})
		return err
	}); err != nil {
		return err
	}

	if err := s.check("no more messages after leaving", func() error {
		if _, err := s.fanOut(member, gid, "after the leave", owner); err != nil {
			return err
		}
		wait := max(s.timeout/10, 300*time.Millisecond)
		if err := s.quiet(joiner.conn, wait, func(f client.Frame) bool {
			return f.Type == "GROUP_CHAT" && f.GroupID == gid
		}); err != nil {
			return fmt.Errorf("%s after leaving: %w", joiner.name, err)
		}
		if f, err := s.reply(joiner.conn, "ERROR", map[string]any{"type": "GROUP_CHAT", "groupId": gid, "content": "let me in"}); err != nil {
			return err
		} else if f.Code != "forbidden" {
			return fmt.Errorf("a former member posting: got %s, want ERROR forbidden", f.Raw)
		}
		return nil
	}); err != nil {
		return err
	}

	return s.check("group history has both messages", func() error {
		h, err := s.reply(member.conn, "GROUP_CHAT_HISTORY", map[string]any{"type": "GET_GROUP_CHAT_HISTORY", "groupId": gid})
		if err != nil {
			return err
		}
		if len(h.Messages) != 2 || h.Messages[0].MessageID != first.MessageID || h.Messages[1].From != member.name {
			return fmt.Errorf("got %s, want the two messages", h.Raw)
		}
		return nil
	})
}

// fanOut posts to a group and checks that every one of to gets it.
func (s *suite) fanOut(from *tester, gid, content string, to ...*tester) (client.Frame, error) {
	ok, err := s.reply(from.conn, "SUCCESS", map[string]any{"type": "GROUP_CHAT", "groupId": gid, "content": content})
	if err != nil {
		return ok, err
	}
	if ok.MessageID == "" || ok.Seq < 1 || ok.GroupID != gid {
		return ok, fmt.Errorf("SUCCESS lacks messageId, seq or groupId: %s", ok.Raw)
	}
	for _, u := range to {
		got, err := s.expect(u.conn, "GROUP_CHAT", func(f client.Frame) bool { return f.MessageID == ok.MessageID })
		if err != nil {
			return ok, fmt.Errorf("%s: %w", u.name, err)
		}
		if got.From != from.name || got.Content != content || got.Seq != ok.Seq {
			return ok, fmt.Errorf("%s got %s", u.name, got.Raw)
		}
	}
	return ok, nil
}
