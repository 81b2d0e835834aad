package hub

import (
	"context"
	"slices"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// createGroup answers CREATE_GROUP: the creator owns the new group, and
// every member, the creator included, is announced with
// GROUP_MEMBER_JOINED, to every member.
func (c *Conn) createGroup(ctx context.Context, f *protocol.Frame) error {
	if !allow(c.hub.cfg.Limits.Groups, c.user) {
		return parley.Errorf(parley.ERATELIMITED, "too many groups created; slow down")
	}
	name, err := parley.NormalizeGroupName(f.Name)
	if err != nil {
		return err
	}
	if len(f.Members) > protocol.MaxGroupMembers {
		return parley.Errorf(parley.EINVALID, "at most %d members may be listed", protocol.MaxGroupMembers)
	}
	seen := map[string]bool{c.user: true}
	var members []string
	for _, m := range f.Members {
		if err := parley.ValidateUsername(m); err != nil {
			return parley.Errorf(parley.EINVALID, "member %q is not a valid username", m)
		}
		if !seen[m] {
			seen[m] = true
			members = append(members, m)
		}
	}
	if err := c.hub.groupRoom(ctx, "", append([]string{c.user}, members...)); err != nil {
		return err
	}
	g := &parley.Group{ID: c.hub.newGroupID(), Name: name, Owner: c.user, Private: f.Private, CreatedAt: c.hub.now()}
	if err := c.hub.store.CreateGroup(ctx, g, members, g.CreatedAt); err != nil {
		return err
	}
	c.reply(protocol.Encode(protocol.Success{Type: protocol.TypeSuccess, ID: f.ID, GroupID: g.ID, Name: g.Name}))
	// One event for the N GROUP_MEMBER_JOINED frames: each node expands
	// it once for its own connections (see protocol.GroupCreated).
	all := append([]string{c.user}, members...)
	c.hub.publish(&parley.Event{
		Users:      all,
		Frame:      protocol.Encode(protocol.GroupCreated{Type: protocol.TypeGroupCreated, GroupID: g.ID, Name: g.Name, By: c.user, Members: all}),
		ExceptConn: c.id,
	})
	return nil
}

// joinGroup answers JOIN_GROUP.
func (c *Conn) joinGroup(ctx context.Context, f *protocol.Frame) error {
	if err := checkGroupID(f.GroupID); err != nil {
		return err
	}
	fails := c.hub.cfg.Limits.JoinFailures
	if fails != nil && fails.Blocked(c.user) {
		return parley.Errorf(parley.ERATELIMITED, "too many failed attempts to join groups; wait a minute")
	}
	if err := c.hub.groupRoom(ctx, f.GroupID, []string{c.user}); err != nil {
		return err
	}
	joined, err := c.hub.store.JoinGroup(ctx, f.GroupID, c.user, c.hub.now())
	if err != nil {
		if code := parley.ErrorCode(err); fails != nil && (code == parley.ENOTFOUND || code == parley.EFORBIDDEN) {
			fails.Fail(c.user)
		}
		return err
	}
	return c.joined(ctx, f, c.user, joined)
}

// addMember answers ADD_GROUP_MEMBER.
func (c *Conn) addMember(ctx context.Context, f *protocol.Frame) error {
	if err := checkGroupID(f.GroupID); err != nil {
		return err
	}
	if err := parley.ValidateUsername(f.Username); err != nil {
		return parley.Errorf(parley.EINVALID, "username is not a valid username")
	}
	if err := c.hub.groupRoom(ctx, f.GroupID, []string{f.Username}); err != nil {
		return err
	}
	added, err := c.hub.store.AddMember(ctx, f.GroupID, c.user, f.Username, c.hub.now())
	if err != nil {
		return err
	}
	return c.joined(ctx, f, f.Username, added)
}

// joined replies SUCCESS and, if username became a member, tells every
// member's connections but this one.
func (c *Conn) joined(ctx context.Context, f *protocol.Frame, username string, changed bool) error {
	c.reply(protocol.Encode(protocol.Success{Type: protocol.TypeSuccess, ID: f.ID, GroupID: f.GroupID}))
	if !changed {
		return nil
	}
	g, err := c.hub.store.Group(ctx, f.GroupID)
	if err != nil {
		return c.logOnly(err)
	}
	members, err := c.hub.store.Members(ctx, f.GroupID)
	if err != nil {
		return c.logOnly(err)
	}
	c.hub.publish(&parley.Event{
		Users:      usernames(members),
		Frame:      protocol.Encode(protocol.MemberJoined{Type: protocol.TypeMemberJoined, GroupID: g.ID, Name: g.Name, Username: username, By: c.user}),
		ExceptConn: c.id,
	})
	return nil
}

// removeMember answers REMOVE_GROUP_MEMBER and LEAVE_GROUP (username is
// the user themself); the owner removing themself is leaving.
func (c *Conn) removeMember(ctx context.Context, f *protocol.Frame, username string) error {
	if err := checkGroupID(f.GroupID); err != nil {
		return err
	}
	if err := parley.ValidateUsername(username); err != nil {
		return parley.Errorf(parley.EINVALID, "username is not a valid username")
	}
	owner, err := c.hub.store.RemoveMember(ctx, f.GroupID, c.user, username, c.hub.now())
	if err != nil {
		return err
	}
	c.reply(protocol.Encode(protocol.Success{Type: protocol.TypeSuccess, ID: f.ID, GroupID: f.GroupID}))
	members, err := c.hub.store.Members(ctx, f.GroupID)
	if err != nil {
		return c.logOnly(err)
	}
	c.hub.publish(&parley.Event{
		Users:      append(usernames(members), username),
		Frame:      protocol.Encode(protocol.MemberLeft{Type: protocol.TypeMemberLeft, GroupID: f.GroupID, Username: username, By: c.user, Owner: owner}),
		ExceptConn: c.id,
	})
	return nil
}

// groupMembers answers GET_GROUP_MEMBERS.
func (c *Conn) groupMembers(ctx context.Context, f *protocol.Frame) error {
	if err := checkGroupID(f.GroupID); err != nil {
		return err
	}
	g, err := c.hub.store.Group(ctx, f.GroupID)
	if err != nil {
		return err
	}
	members, err := c.membersOf(ctx, f.GroupID)
	if err != nil {
		return err
	}
	names := usernames(members)
	statuses := c.hub.statuses(ctx, names)
	reads, err := c.hub.readPositions(ctx, g.ID, names)
	if err != nil {
		return err
	}
	out := protocol.Members{Type: protocol.TypeMembers, ID: f.ID, GroupID: g.ID, Name: g.Name, Owner: g.Owner, Members: make([]protocol.MemberStatus, len(names))}
	for i, n := range names {
		out.Members[i] = protocol.MemberStatus{Username: n, Status: statuses[i], ReadSeq: reads[i]}
	}
	c.reply(protocol.Encode(out))
	return nil
}

// membersOf lists a group's members if the user is one of them.
func (c *Conn) membersOf(ctx context.Context, groupID string) ([]parley.Member, error) {
	if _, err := c.hub.store.Group(ctx, groupID); err != nil {
		return nil, err
	}
	members, err := c.hub.store.Members(ctx, groupID)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.Username == c.user {
			return members, nil
		}
	}
	return nil, parley.Errorf(parley.EFORBIDDEN, "you are not a member of group %q", groupID)
}

// groupRoom returns EFORBIDDEN if one of users is already in
// MaxGroupsPerUser groups, not counting groupID (a member being added
// again changes nothing). It is checked before the change, outside its
// transaction: concurrent additions can overshoot the bound by a few.
func (h *Hub) groupRoom(ctx context.Context, groupID string, users []string) error {
	limit := h.cfg.MaxGroupsPerUser
	if limit <= 0 {
		return nil
	}
	for _, u := range users {
		in, err := h.store.Inbox(ctx, u)
		if err != nil {
			return err
		}
		if len(in.Groups) < limit {
			continue
		}
		if groupID != "" && slices.ContainsFunc(in.Groups, func(g parley.GroupSummary) bool { return g.GroupID == groupID }) {
			continue
		}
		return parley.Errorf(parley.EFORBIDDEN, "%s is already in %d groups, the most allowed", u, limit)
	}
	return nil
}

// logOnly logs an error that happened after the reply was sent; the client
// already has its answer.
func (c *Conn) logOnly(err error) error {
	c.hub.log.Error("group event not sent", "conn", c.id, "user", c.user, "err", err)
	return nil
}

func usernames(members []parley.Member) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.Username
	}
	return out
}
