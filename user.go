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
}

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
	// SetLastSeen records, for each user, when their last connection
	// closed; unknown users are ignored.
	SetLastSeen(ctx context.Context, seen map[string]time.Time) error
	// SetDisabled disables or enables an account; ENOTFOUND if unknown.
	SetDisabled(ctx context.Context, username string, disabled bool) error
}
