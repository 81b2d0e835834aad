package hub

import (
	"context"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// DeleteAccount deletes username's account (parley.DeleteAccount, erasing
// the content of its messages with erase), closes its connections on
// every node with 1008 and tells the members of every group it left with
// the GROUP_MEMBER_LEFT a LEAVE_GROUP gives them (by the user themself,
// with the owner after the change). The admin API and DELETE
// /auth/account call it.
func (h *Hub) DeleteAccount(ctx context.Context, username string, erase bool) (*parley.Deletion, error) {
	d, err := parley.DeleteAccount(ctx, h.store, username, erase, h.now())
	if err != nil {
		return nil, err
	}
	h.EndSession(username, AllSessions)
	for _, g := range d.Left {
		if len(g.Members) == 0 {
			continue
		}
		h.publish(&parley.Event{
			Users: g.Members,
			Frame: protocol.Encode(protocol.MemberLeft{Type: protocol.TypeMemberLeft, GroupID: g.GroupID, Username: username, By: username, Owner: g.Owner}),
		})
	}
	return d, nil
}
