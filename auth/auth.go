// Package auth issues and checks Parley's credentials: bcrypt password
// hashes, short-lived HS256 access tokens (JWT) that name a session, and
// opaque refresh tokens that rotate on every use and are stored only as
// SHA-256 hashes. Logging out revokes the session, which every token
// check consults, so a revoked token stops working at once.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/parley-chat/parley"
	"golang.org/x/crypto/bcrypt"
)

// MinSecretBytes is the shortest JWT secret Parley accepts.
const MinSecretBytes = 32

// Config configures a Service.
type Config struct {
	// Secret signs access tokens; at least MinSecretBytes.
	Secret []byte
	// AccessTTL is the life of an access token (default 15 minutes).
	AccessTTL time.Duration
	// RefreshTTL is how long a session lives without a refresh (default 30
	// days); each refresh extends it.
	RefreshTTL time.Duration
	// RefreshGrace is how long a rotated-out refresh token may retry its
	// rotation when the answer was lost (a page reloaded while refreshing);
	// 0 allows no retry, and any reuse ends the session.
	RefreshGrace time.Duration
	// BcryptCost is the cost of password hashes (default 10).
	BcryptCost int
	// OnRevoke, when set, is called when a session ends (logout, or a
	// stolen refresh token), so that its sockets can be closed.
	OnRevoke func(username, sessionID string)
	Now      func() time.Time
}

// Store is what the service keeps.
type Store interface {
	parley.UserStore
	parley.SessionStore
}

// Service implements registration, login, refresh, logout and token checks.
type Service struct {
	cfg   Config
	store Store
	// dummy is a hash compared against when a username is unknown, so
	// that unknown and known users take the same time to refuse.
	dummy []byte
}

// Tokens are what login and refresh return.
type Tokens = parley.Tokens

// Identity is who an access token speaks for.
type Identity = parley.Identity

// New returns a Service; it refuses a secret shorter than MinSecretBytes.
func New(cfg Config, store Store) (*Service, error) {
	if len(cfg.Secret) < MinSecretBytes {
		return nil, fmt.Errorf("auth: the JWT secret must be at least %d bytes", MinSecretBytes)
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = 10
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("auth: bcrypt cost must be %d to %d", bcrypt.MinCost, bcrypt.MaxCost)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &Service{cfg: cfg, store: store, dummy: dummy}, nil
}

// Register creates an account.
func (s *Service) Register(ctx context.Context, username, password string) (*parley.User, error) {
	if err := parley.ValidateUsername(username); err != nil {
		return nil, err
	}
	if err := parley.ValidatePassword(password); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash password: %w", err)
	}
	u := &parley.User{Username: username, PasswordHash: hash, CreatedAt: s.cfg.Now()}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

var errLogin = parley.Errorf(parley.EUNAUTHORIZED, "wrong username or password")

var errDeleted = parley.Errorf(parley.EUNAUTHORIZED, "this account was deleted")

// Login checks a password and opens a session.
func (s *Service) Login(ctx context.Context, username, password string) (*Tokens, error) {
	if username == "" || password == "" {
		return nil, parley.Errorf(parley.EINVALID, "username and password are required")
	}
	if len(password) > parley.MaxPasswordLen || len(username) > parley.MaxUsernameLen {
		return nil, errLogin
	}
	u, err := s.store.User(ctx, username)
	if parley.ErrorCode(err) == parley.ENOTFOUND {
		bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return nil, errLogin
	}
	if err != nil {
		return nil, err
	}
	if u.Deleted() {
		// The name stays reserved and says so, as registering it would.
		bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return nil, errDeleted
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
		return nil, errLogin
	}
	if u.Disabled {
		return nil, parley.Errorf(parley.EUNAUTHORIZED, "this account is disabled")
	}
	now := s.cfg.Now()
	sess := &parley.Session{ID: randomID(16), Username: u.Username, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	refresh := randomID(32)
	if err := s.store.CreateSession(ctx, sess, hashToken(refresh)); err != nil {
		return nil, err
	}
	return s.tokens(sess, refresh, now)
}

// Refresh rotates a refresh token: the new pair belongs to the same
// session and the old refresh token stops working. Presenting an old one
// again ends the session, except that the token rotated out last may ask
// again within the grace: it gets a new pair, and the pair its first
// refresh returned stops working.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	if refreshToken == "" {
		return nil, parley.Errorf(parley.EINVALID, "refreshToken is required")
	}
	now := s.cfg.Now()
	next := randomID(32)
	sess, err := s.store.RotateRefresh(ctx, hashToken(refreshToken), hashToken(next), now, now.Add(s.cfg.RefreshTTL), s.cfg.RefreshGrace)
	if err != nil {
		if sess != nil {
			s.revoked(sess.Username, sess.ID)
		}
		return nil, err
	}
	u, err := s.store.User(ctx, sess.Username)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, parley.Errorf(parley.EUNAUTHORIZED, "this account is disabled")
	}
	return s.tokens(sess, next, now)
}

func (s *Service) tokens(sess *parley.Session, refresh string, now time.Time) (*Tokens, error) {
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "parley",
			Subject:   sess.Username,
			ID:        randomID(8), // every token is distinct, even within a second
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTTL)),
		},
		Session: sess.ID,
	}
	access, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("auth: sign: %w", err)
	}
	return &Tokens{Access: access, Refresh: refresh, Username: sess.Username, SessionID: sess.ID, ExpiresIn: int(s.cfg.AccessTTL / time.Second)}, nil
}

// accessClaims are the claims of an access token: the registered ones and
// the session it belongs to.
type accessClaims struct {
	jwt.RegisteredClaims
	Session string `json:"sid"`
}

var errToken = parley.Errorf(parley.EUNAUTHORIZED, "missing, invalid, expired or revoked token")

// Parse checks an access token's signature and expiry, without asking the
// store whether its session is still active.
func (s *Service) Parse(token string) (Identity, error) {
	if token == "" {
		return Identity{}, errToken
	}
	var claims accessClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.cfg.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer("parley"),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.cfg.Now),
	)
	if err != nil || claims.Subject == "" || claims.Session == "" {
		return Identity{}, errToken
	}
	return Identity{Username: claims.Subject, SessionID: claims.Session, Expires: claims.ExpiresAt.Time}, nil
}

// Authenticate checks an access token and that its session is active and
// its user not disabled.
func (s *Service) Authenticate(ctx context.Context, token string) (Identity, error) {
	id, err := s.Parse(token)
	if err != nil {
		return Identity{}, err
	}
	sess, err := s.store.Session(ctx, id.SessionID)
	if parley.ErrorCode(err) == parley.ENOTFOUND {
		return Identity{}, errToken
	}
	if err != nil {
		return Identity{}, err
	}
	if !sess.RevokedAt.IsZero() || sess.UserDisabled || sess.Username != id.Username {
		return Identity{}, errToken
	}
	return id, nil
}

// CheckPassword authenticates an access token and checks that password
// is its user's: what an action as grave as deleting the account asks
// for, beside the token. A wrong password is EUNAUTHORIZED.
func (s *Service) CheckPassword(ctx context.Context, token, password string) (Identity, error) {
	id, err := s.Authenticate(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	if password == "" {
		return Identity{}, parley.Errorf(parley.EINVALID, "password is required")
	}
	u, err := s.store.User(ctx, id.Username)
	if err != nil {
		return Identity{}, err
	}
	if len(password) > parley.MaxPasswordLen || bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
		return Identity{}, parley.Errorf(parley.EUNAUTHORIZED, "wrong password")
	}
	return id, nil
}

// Logout ends the session of an access token.
func (s *Service) Logout(ctx context.Context, token string) (Identity, error) {
	id, err := s.Authenticate(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	if err := s.store.RevokeSession(ctx, id.SessionID, s.cfg.Now()); err != nil {
		return Identity{}, err
	}
	s.revoked(id.Username, id.SessionID)
	return id, nil
}

func (s *Service) revoked(username, sessionID string) {
	if s.cfg.OnRevoke != nil {
		s.cfg.OnRevoke(username, sessionID)
	}
}

// HashPassword hashes a password at the service's cost (for seed data).
func (s *Service) HashPassword(password string) ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
}

// NewSecret returns a random secret for signing tokens.
func NewSecret() []byte {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}
