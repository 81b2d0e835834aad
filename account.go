package parley

import (
	"context"
	"time"
)

// Deletion is what deleting an account changed.
type Deletion struct {
	Username string
	// Sessions counts the sessions that were still active.
	Sessions int
	// Left are the groups the account left.
	Left []GroupLeft
	// Erased counts the messages whose content was erased; 0 without
	// erasing.
	Erased int64
}

// DeleteAccount deletes username's account from s (see
// UserStore.DeleteUser); with erase, it first erases the content of every
// message the account sent (MessageStore.EraseSender). Closing the
// account's sockets and telling the groups is the caller's part (the hub
// does both).
//
// Erasing comes first because it needs the account's groups, which the
// deletion takes away; the account is disabled and its sessions revoked
// before, so that it sends nothing meanwhile. An erase that fails leaves
// the account disabled and not deleted, and deleting it again finishes
// the work. An unknown or deleted account is ENOTFOUND and nothing
// changes.
func DeleteAccount(ctx context.Context, s Store, username string, erase bool, now time.Time) (*Deletion, error) {
	u, err := s.User(ctx, username)
	if err != nil {
		return nil, err
	}
	if u.Deleted() {
		return nil, Errorf(ENOTFOUND, "the account %q was deleted already", username)
	}
	d := &Deletion{Username: username}
	if erase {
		// Fail before changing anything when the messages cannot be
		// reached.
		if err := s.Ping(ctx); err != nil {
			return nil, err
		}
		if err := s.SetDisabled(ctx, username, true); err != nil {
			return nil, err
		}
		ids, err := s.RevokeUserSessions(ctx, username, now)
		if err != nil {
			return nil, err
		}
		d.Sessions = len(ids)
		in, err := s.Inbox(ctx, username)
		if err != nil {
			return nil, err
		}
		groups := make([]string, len(in.Groups))
		for i, g := range in.Groups {
			groups[i] = g.GroupID
		}
		if d.Erased, err = s.EraseSender(ctx, username, groups); err != nil {
			return nil, err
		}
	} else {
		active, err := activeSessions(ctx, s, username, now)
		if err != nil {
			return nil, err
		}
		d.Sessions = active
	}
	if d.Left, err = s.DeleteUser(ctx, username, now); err != nil {
		return nil, err
	}
	return d, nil
}

func activeSessions(ctx context.Context, s SessionStore, username string, now time.Time) (int, error) {
	all, err := s.UserSessions(ctx, username)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sess := range all {
		if sess.Active(now) {
			n++
		}
	}
	return n, nil
}
