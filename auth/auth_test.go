package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

func service(t testing.TB) *auth.Service {
	t.Helper()
	svc, err := auth.New(auth.Config{Secret: []byte(strings.Repeat("k", 32)), BcryptCost: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestSecretLength(t *testing.T) {
	if _, err := auth.New(auth.Config{Secret: []byte("short")}, nil); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

// FuzzParse feeds arbitrary strings to the token parser: it must never
// panic, and never accept anything it did not sign.
func FuzzParse(f *testing.F) {
	svc := service(f)
	for _, s := range []string{
		"", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhIiwianRpIjoieCIsImV4cCI6OTk5OTk5OTk5OX0.sig",
		strings.Repeat(".", 100), "\x00\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := svc.Parse(token)
		if err == nil {
			t.Fatalf("accepted a token it did not sign: %q -> %+v", token, id)
		}
		if parley.ErrorCode(err) != parley.EUNAUTHORIZED {
			t.Fatalf("error %v", err)
		}
	})
}

// fakeStore is just enough of a store for Login and Parse.
type fakeStore struct {
	auth.Store
	users    map[string]*parley.User
	sessions map[string]*parley.Session
}

func (f *fakeStore) User(_ context.Context, name string) (*parley.User, error) {
	if u, ok := f.users[name]; ok {
		return u, nil
	}
	return nil, parley.Errorf(parley.ENOTFOUND, "no user")
}

func (f *fakeStore) CreateSession(_ context.Context, s *parley.Session, _ string) error {
	f.sessions[s.ID] = s
	return nil
}

func TestTokensRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	store := &fakeStore{users: map[string]*parley.User{}, sessions: map[string]*parley.Session{}}
	svc, err := auth.New(auth.Config{Secret: []byte(strings.Repeat("k", 32)), BcryptCost: 4, Now: func() time.Time { return now }}, store)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := svc.HashPassword("password1")
	store.users["alice"] = &parley.User{Username: "alice", PasswordHash: hash}
	tok, err := svc.Login(context.Background(), "alice", "password1")
	if err != nil {
		t.Fatal(err)
	}
	id, err := svc.Parse(tok.Access)
	if err != nil || id.Username != "alice" || id.SessionID != tok.SessionID || !id.Expires.Equal(now.Add(15*time.Minute)) {
		t.Fatalf("parse: got %+v, %v", id, err)
	}
	now = now.Add(16 * time.Minute)
	if _, err := svc.Parse(tok.Access); err == nil {
		t.Fatal("an expired token parsed")
	}
	if _, err := svc.Login(context.Background(), "alice", "wrong"); parley.ErrorCode(err) != parley.EUNAUTHORIZED {
		t.Fatalf("wrong password: %v", err)
	}
}
