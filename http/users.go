package http

import (
	"context"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/parley-chat/parley"
)

// UserFinder finds usernames by prefix (parley.UserStore.FindUsers).
type UserFinder interface {
	FindUsers(ctx context.Context, prefix string, limit int) ([]string, error)
}

// Limits of GET /users.
const (
	maxPrefixChars   = 32
	defaultUserLimit = 20
	maxUserLimit     = 50
)

// findUsers answers GET /users?prefix=P&limit=N for a signed-in user:
// 200 {"users": [...]}, the usernames that start with P, ascending.
func (s *Server) findUsers(w http.ResponseWriter, r *http.Request) {
	id, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if n := utf8.RuneCountInString(prefix); n < 1 || n > maxPrefixChars || !utf8.ValidString(prefix) {
		writeError(w, s.Logger, parley.Errorf(parley.EINVALID, "prefix must be 1 to %d characters", maxPrefixChars))
		return
	}
	limit := defaultUserLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, s.Logger, parley.Errorf(parley.EINVALID, "limit must be an integer of at least 1"))
			return
		}
		limit = min(n, maxUserLimit)
	}
	if s.UserSearch != nil && !s.UserSearch.Allow(id.Username) {
		s.observeLimit("user_search")
		w.Header().Set("Retry-After", "1")
		writeError(w, s.Logger, parley.Errorf(parley.ERATELIMITED, "too many searches; slow down"))
		return
	}
	users, err := s.Users.FindUsers(r.Context(), prefix, limit)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	if users == nil {
		users = []string{}
	}
	writeJSON(w, http.StatusOK, struct {
		Users []string `json:"users"`
	}{users})
}
