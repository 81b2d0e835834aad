package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley/client"
)

// TestFindUsers: GET /users lists usernames by prefix to a signed-in
// user, ascending and bounded, with clear errors for bad requests.
func TestFindUsers(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RateUserSearchPerSec = 1 })
	ctx := context.Background()
	me := s.newUser("finder")
	var zoe []string
	for range 3 {
		zoe = append(zoe, s.newUser("zoe").name)
	}
	s.newUser("zed")
	slices.Sort(zoe)

	got, err := s.api.FindUsers(ctx, me.tokens.Token, "zoe", 0)
	if err != nil || !slices.Equal(got, zoe) {
		t.Fatalf("prefix zoe: got %v, %v; want %v", got, err, zoe)
	}
	if got, err := s.api.FindUsers(ctx, me.tokens.Token, "z", 2); err != nil || len(got) != 2 || !slices.IsSorted(got) || !strings.HasPrefix(got[0], "z") {
		t.Fatalf("prefix z, limit 2: got %v, %v", got, err)
	}
	if got, err := s.api.FindUsers(ctx, me.tokens.Token, "Zoe", 0); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("prefixes are case-sensitive and an empty answer is []: got %#v, %v", got, err)
	}
	status := func(err error) int {
		var e *client.APIError
		if errors.As(err, &e) {
			return e.Status
		}
		t.Fatalf("want an API error, got %v", err)
		return 0
	}
	for _, c := range []struct {
		token, prefix string
		limit, want   int
	}{
		{me.tokens.Token, "", 0, http.StatusBadRequest},
		{me.tokens.Token, strings.Repeat("a", 33), 0, http.StatusBadRequest},
		{me.tokens.Token, "zoe", -1, http.StatusBadRequest},
		{"", "zoe", 0, http.StatusUnauthorized},
		{"not-a-token", "zoe", 0, http.StatusUnauthorized},
	} {
		if _, err := s.api.FindUsers(ctx, c.token, c.prefix, c.limit); status(err) != c.want {
			t.Fatalf("%q limit %d: got %v, want %d", c.prefix, c.limit, err, c.want)
		}
	}
	// One search a second, burst 4: the burst is used up above.
	limited := false
	for range 6 {
		if _, err := s.api.FindUsers(ctx, me.tokens.Token, "zoe", 0); err != nil {
			if status(err) != http.StatusTooManyRequests {
				t.Fatalf("past the limit: got %v", err)
			}
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("six searches at once were not rate limited")
	}
}
