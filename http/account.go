package http

import (
	"net/http"

	"github.com/parley-chat/parley"
)

// deleteAccount answers DELETE /auth/account: a user deletes their own
// account, with an access token and their password. The password counts
// toward the login lock-out as a login's does (per address, and per
// username from addresses that never logged in as that user), so a stolen
// token cannot be used to guess it. The hub does the rest: the account's
// sockets close with 1008 and its groups are told it left. Its messages
// are kept (an operator's parleyd users delete -erase-messages erases
// them).
func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		writeError(w, s.Logger, parley.Errorf(parley.EUNAUTHORIZED, "Authorization: Bearer <token> is required"))
		return
	}
	var body struct {
		Password string `json:"password"`
	}
	if err := readJSON(w, r, &body); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	id, err := s.Auth.Authenticate(r.Context(), token)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	setUser(r, id.Username)
	sec := s.security()
	ip := sec.clientIP(r)
	keys := []string{"ip:" + ip}
	if sec.Lockout == nil || !sec.Lockout.Trusted("pair:"+id.Username+"|"+ip) {
		keys = append(keys, "user:"+id.Username)
	}
	if locked, wait := sec.locked(keys); locked {
		if s.Observer != nil {
			s.Observer.LoginFailed("locked_out")
		}
		tooMany(w, s, wait)
		return
	}
	if _, err := s.Auth.CheckPassword(r.Context(), token, body.Password); err != nil {
		if parley.ErrorCode(err) == parley.EUNAUTHORIZED && sec.Lockout != nil {
			sec.Lockout.Fail(keys...)
		}
		writeError(w, s.Logger, err)
		return
	}
	if _, err := s.Hub.DeleteAccount(r.Context(), id.Username, false); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "deleted", "username": id.Username})
}
