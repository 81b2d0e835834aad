package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/parley-chat/parley/client"
)

// refreshEarly is how long before it expires an access token is replaced.
const refreshEarly = 30 * time.Second

// storedTokens is the client.TokenSource of a server's stored credentials:
// it hands out the stored access token while it is valid and refreshes it
// (POST /auth/refresh, under the store's lock) when it is not.
type storedTokens struct {
	store  *credStore
	server string
	api    *client.Client
	now    func() time.Time

	mu      sync.Mutex
	refresh string // the refresh token of the credentials last used
}

var _ client.TokenSource = (*storedTokens)(nil)

// Token implements client.TokenSource.
func (t *storedTokens) Token(ctx context.Context) (string, error) {
	c, err := t.store.get(t.server)
	if err != nil {
		return "", t.ended(err)
	}
	if t.now().Before(c.Expires.Add(-refreshEarly)) {
		t.used(c)
		return c.Token, nil
	}
	return t.Refresh(ctx, c.Token)
}

// Refresh implements client.TokenSource. If another process refreshed
// while this one waited for the lock, its token is used instead.
func (t *storedTokens) Refresh(ctx context.Context, stale string) (string, error) {
	unlock, err := t.store.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	c, err := t.store.get(t.server)
	if err != nil {
		return "", t.ended(err)
	}
	if c.Token != stale && t.now().Before(c.Expires.Add(-refreshEarly)) {
		t.used(c)
		return c.Token, nil
	}
	nt, err := t.api.Refresh(ctx, c.RefreshToken)
	if err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			// The session is over: the stored tokens are worth nothing.
			t.store.removeLocked(t.server, c.RefreshToken)
		}
		return "", fmt.Errorf("refreshing the token: %w", err)
	}
	if nt.Username == "" {
		nt.Username = c.Username
	}
	nc := newCredentials(nt, t.now())
	f, err := t.store.read()
	if err != nil {
		return "", err
	}
	f.Servers[normServer(t.server)] = nc
	if err := t.store.write(f); err != nil {
		return "", fmt.Errorf("saving the refreshed token: %w", err)
	}
	t.used(nc)
	return nc.Token, nil
}

func (t *storedTokens) used(c *credentials) {
	t.mu.Lock()
	t.refresh = c.RefreshToken
	t.mu.Unlock()
}

// lastRefresh is the refresh token of the credentials last handed out.
func (t *storedTokens) lastRefresh() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refresh
}

// ended marks "not logged in" as the end of the session, so that a
// client.Session stops instead of retrying.
func (t *storedTokens) ended(err error) error {
	if errors.Is(err, errNotLoggedIn) {
		return fmt.Errorf("%w: %w", client.ErrSessionEnded, err)
	}
	return err
}
