package parley

import (
	"context"
	"time"
)

// Username and password limits.
const (
	MinUsernameLen = 3
	MaxUsernameLen = 32
	MinPasswordLen = 8
	MaxPasswordLen = 72 // bcrypt reads no more than 72 bytes
)

// User is a registered account.
type User struct {
	Username     string
	PasswordHash []byte
	CreatedAt    time.Time
	// Disabled users cannot log in and have their sockets closed.
	Disabled bool
	// LastSeen is when the user's last connection closed; zero if the user
	// never connected.
	LastSeen time.Time
	// DeletedAt is when the account was deleted; zero while it exists. A
	// deleted account keeps its name (nobody can register it again, so
	// nobody can pass for the author of its messages) and nothing else:
	// no password hash, no sessions, no memberships.
	DeletedAt time.Time
}

// Deleted reports whether the account was deleted.
func (u *User) Deleted() bool { return !u.DeletedAt.IsZero() }

// ValidateUsername reports whether name is 3 to 32 characters from
// A-Z a-z 0-9 _ and ".". Usernames are compared case-sensitively.
func ValidateUsername(name string) error {
	if len(name) < MinUsernameLen || len(name) > MaxUsernameLen {
		return Errorf(EINVALID, "username must be %d to %d characters", MinUsernameLen, MaxUsernameLen)
	}
	for i := 0; i < len(name); i++ {
		if !usernameByte(name[i]) {
			return Errorf(EINVALID, "username may contain only letters, digits, _ and .")
		}
	}
	return nil
}

func usernameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

// ValidatePassword reports whether password is 8 to 72 bytes long.
func ValidatePassword(password string) error {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return Errorf(EINVALID, "password must be %d to %d bytes", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// UserStore keeps accounts.
type UserStore interface {
	// CreateUser stores a new user; a taken username is ECONFLICT.
	CreateUser(ctx context.Context, u *User) error
	// CreateUsers stores many users in one transaction, skipping names
	// that are taken (for seed data), and returns how many it created.
	CreateUsers(ctx context.Context, users []*User) (int, error)
	// User returns one user, or ENOTFOUND.
	User(ctx context.Context, username string) (*User, error)
	// Users lists users in username order, starting after the given name.
	Users(ctx context.Context, after string, limit int) ([]*User, error)
	// FindUsers lists up to limit usernames that start with prefix
	// (compared case-sensitively, as usernames are), ascending; disabled
	// and deleted accounts are left out.
	FindUsers(ctx context.Context, prefix string, limit int) ([]string, error)
	// SetLastSeen records, for each user, when their last connection
	// closed; unknown users are ignored.
	SetLastSeen(ctx context.Context, seen map[string]time.Time) error
	// SetDisabled disables or enables an account; ENOTFOUND if unknown or
	// deleted.
	SetDisabled(ctx context.Context, username string, disabled bool) error
	// DeleteUser deletes an account in one transaction: its password hash,
	// sessions and refresh tokens are removed, it leaves every group as
	// RemoveMember would have it leave (an owner's group passes to the
	// member with the earliest current membership; a group it leaves
	// empty stays, without an owner, until someone joins it), and its
	// name stays reserved: User returns it with DeletedAt set, CreateUser
	// of that name is ECONFLICT, the Directory's UserExists is false and
	// AddMember of it is ENOTFOUND. It returns the groups left. An unknown
	// or already deleted account is ENOTFOUND and nothing changes.
	DeleteUser(ctx context.Context, username string, now time.Time) ([]GroupLeft, error)
}

// GroupLeft is one group a deleted account left.
type GroupLeft struct {
	GroupID string
	// Owner is the group's owner after the change ("" if it is empty).
	Owner string
	// Members are the members who remain, earliest membership first.
	Members []string
}
