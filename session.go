package parley

import (
	"context"
	"time"
)

// Session is one login. Its access tokens carry its ID; its refresh token
// rotates on every refresh. Logging out revokes it, and with it every token
// and socket it issued.
type Session struct {
	ID        string
	Username  string
	CreatedAt time.Time
	// ExpiresAt is when the current refresh token stops working.
	ExpiresAt time.Time
	// RevokedAt is zero while the session is active.
	RevokedAt time.Time
	// UserDisabled reports whether the session's user is disabled, which
	// ends every session of theirs.
	UserDisabled bool
}

// Active reports whether the session can still be used at now.
func (s *Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && !s.UserDisabled && now.Before(s.ExpiresAt)
}

// SessionStore keeps sessions and the hashes of their refresh tokens.
type SessionStore interface {
	// CreateSession stores a new session with its first refresh token hash.
	CreateSession(ctx context.Context, s *Session, refreshHash string) error
	// Session returns one session, revoked or not, or ENOTFOUND.
	Session(ctx context.Context, id string) (*Session, error)
	// EndedSessions returns those of the given session IDs that are revoked,
	// unknown, or belong to a disabled user.
	EndedSessions(ctx context.Context, ids []string) ([]string, error)
	// RotateRefresh replaces the refresh token with hash oldHash by newHash
	// and extends the session to expiresAt. A token that was already rotated
	// out is taken as stolen: the session is revoked, and it is returned
	// together with an EUNAUTHORIZED error so that its sockets can be
	// closed. An unknown token, or one of a revoked or expired session, is
	// EUNAUTHORIZED with a nil session.
	//
	// One exception makes a lost answer harmless: the token rotated out
	// last, presented again less than grace after its rotation, rotates
	// once more. The token its first rotation issued is retired (the client
	// that asked never received it, as when a page reloads while its
	// refresh is in flight), and a retired token that comes back is taken
	// as stolen. A grace of 0 allows no such retry.
	RotateRefresh(ctx context.Context, oldHash, newHash string, now, expiresAt time.Time, grace time.Duration) (*Session, error)
	// RevokeSession ends a session; revoking an ended one is not an error.
	RevokeSession(ctx context.Context, id string, now time.Time) error
	// RevokeUserSessions ends every active session of a user and returns
	// their IDs.
	RevokeUserSessions(ctx context.Context, username string, now time.Time) ([]string, error)
	// UserSessions lists every session of a user that the store still
	// keeps, active or ended, oldest first.
	UserSessions(ctx context.Context, username string) ([]*Session, error)
}
