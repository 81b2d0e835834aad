package parley

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Group is a named conversation with members. Its ID never contains "-".
type Group struct {
	ID        string
	Name      string
	Owner     string // "" while the group has no members
	Private   bool
	CreatedAt time.Time
}

// Member is one membership of a group.
type Member struct {
	Username string
	JoinedAt time.Time
}

// NormalizeGroupName returns name in Unicode NFC, or EINVALID when it is
// empty, longer than 100 characters, not UTF-8 or holds control or format
// characters (category Cc or Cf: zero-width characters, bidi overrides and
// isolates, which make a name invisible or display another one).
func NormalizeGroupName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", Errorf(EINVALID, "group name must be valid UTF-8")
	}
	name = norm.NFC.String(name)
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > MaxGroupNameLen {
		return "", Errorf(EINVALID, "group name must be 1 to %d characters", MaxGroupNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", Errorf(EINVALID, "group name must not contain control or invisible formatting characters")
		}
	}
	return name, nil
}

// GroupStore keeps groups and memberships. Every method that changes
// membership applies the protocol's rules inside one transaction, so that
// they hold with several nodes on one database:
//   - a new member's cursor starts at the group's last seq;
//   - when the owner leaves, the member with the earliest current membership
//     becomes owner; the first to join an emptied group becomes its owner.
type GroupStore interface {
	// CreateGroup stores g with its creator (g.Owner) and the listed members.
	// An unknown member is ENOTFOUND and nothing is created.
	CreateGroup(ctx context.Context, g *Group, members []string, now time.Time) error
	// Group returns one group or ENOTFOUND.
	Group(ctx context.Context, id string) (*Group, error)
	// Members lists current members, earliest membership first.
	Members(ctx context.Context, id string) ([]Member, error)
	// JoinGroup makes username a member of an open group. It reports false
	// if they already were one; a private group is EFORBIDDEN.
	JoinGroup(ctx context.Context, id, username string, now time.Time) (bool, error)
	// AddMember makes username a member on behalf of by, who must be a member
	// (EFORBIDDEN), and the owner if the group is private (EFORBIDDEN). An
	// unknown user is ENOTFOUND. It reports false if they already were one.
	AddMember(ctx context.Context, id, by, username string, now time.Time) (bool, error)
	// RemoveMember ends a membership. by must be the owner (EFORBIDDEN) or
	// username itself (leaving); a non-member is ENOTFOUND. It returns the
	// owner after the change.
	RemoveMember(ctx context.Context, id, by, username string, now time.Time) (string, error)
	// IsMember reports whether username is a member; a missing group is
	// ENOTFOUND.
	IsMember(ctx context.Context, id, username string) (bool, error)
}

// CanAdd applies the rule for ADD_GROUP_MEMBER: any member may add to an
// open group, only the owner to a private one.
func CanAdd(g *Group, by string, byIsMember bool) error {
	if !byIsMember {
		return Errorf(EFORBIDDEN, "you are not a member of group %q", g.ID)
	}
	if g.Private && by != g.Owner {
		return Errorf(EFORBIDDEN, "only the owner may add members to private group %q", g.ID)
	}
	return nil
}

// CanRemove applies the rule for REMOVE_GROUP_MEMBER and LEAVE_GROUP: a
// member may remove themself (leave); only the owner may remove others.
func CanRemove(g *Group, by, username string) error {
	if by != username && by != g.Owner {
		return Errorf(EFORBIDDEN, "only the owner may remove members from group %q", g.ID)
	}
	return nil
}
