package http

import (
	"net/http"
	"strings"

	"github.com/parley-chat/parley"
)

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type tokenResponse struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refreshToken"`
	Username     string `json:"username"`
	ExpiresIn    int    `json:"expiresIn"`
}

func tokenBody(t *parley.Tokens) tokenResponse {
	return tokenResponse{Token: t.Access, RefreshToken: t.Refresh, Username: t.Username, ExpiresIn: t.ExpiresIn}
}

// register answers POST /auth/register.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := readJSON(w, r, &c); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	u, err := s.Auth.Register(r.Context(), c.Username, c.Password)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	setUser(r, u.Username)
	writeJSON(w, http.StatusCreated, map[string]string{"username": u.Username})
}

// login answers POST /auth/login.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := readJSON(w, r, &c); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	setUser(r, c.Username)
	sec := s.security()
	// The address always counts; the username only from addresses that
	// have not logged in as that user before (see LoginGuard).
	ip := sec.clientIP(r)
	pair := "pair:" + c.Username + "|" + ip
	keys := []string{"ip:" + ip}
	if sec.Lockout == nil || !sec.Lockout.Trusted(pair) {
		keys = append(keys, "user:"+c.Username)
	}
	if locked, wait := sec.locked(keys); locked {
		if s.Observer != nil {
			s.Observer.LoginFailed("locked_out")
		}
		tooMany(w, s, wait)
		return
	}
	t, err := s.Auth.Login(r.Context(), c.Username, c.Password)
	if err != nil {
		if parley.ErrorCode(err) == parley.EUNAUTHORIZED && sec.Lockout != nil {
			sec.Lockout.Fail(keys...)
		}
		if s.Observer != nil {
			s.Observer.LoginFailed(parley.ErrorCode(err))
		}
		writeError(w, s.Logger, err)
		return
	}
	if sec.Lockout != nil {
		sec.Lockout.Trust(pair)
	}
	writeJSON(w, http.StatusOK, tokenBody(t))
}

// refresh answers POST /auth/refresh.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RefreshToken string `json:"refreshToken"`
	}
	if err := readJSON(w, r, &body); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	t, err := s.Auth.Refresh(r.Context(), body.RefreshToken)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	setUser(r, t.Username)
	writeJSON(w, http.StatusOK, tokenBody(t))
}

// logout answers POST /auth/logout: the session ends and (through the auth
// service's OnRevoke) its sockets, on every node, are closed with 1008.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		writeError(w, s.Logger, parley.Errorf(parley.EUNAUTHORIZED, "Authorization: Bearer <token> is required"))
		return
	}
	id, err := s.Auth.Logout(r.Context(), token)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	setUser(r, id.Username)
	writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// signedIn authenticates a request by its bearer token and names its user
// in the request log; on failure it has answered 401 and returns false.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request) (parley.Identity, bool) {
	token, ok := bearer(r)
	if !ok {
		writeError(w, s.Logger, parley.Errorf(parley.EUNAUTHORIZED, "Authorization: Bearer <token> is required"))
		return parley.Identity{}, false
	}
	id, err := s.Auth.Authenticate(r.Context(), token)
	if err != nil {
		writeError(w, s.Logger, err)
		return parley.Identity{}, false
	}
	setUser(r, id.Username)
	return id, true
}

// upgrade authenticates a WebSocket handshake (Authorization header or
// authToken query parameter) and hands the socket to the hub.
func (s *Server) upgrade(kind parley.ConnKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			token = r.URL.Query().Get("authToken")
		}
		id, err := s.Auth.Authenticate(r.Context(), token)
		if err != nil {
			writeError(w, s.Logger, err)
			return
		}
		setUser(r, id.Username)
		if s.Hub.Closing() {
			writeError(w, s.Logger, parley.Errorf(parley.EUNAVAILABLE, "server shutting down"))
			return
		}
		if err := s.Hub.Upgrade(w, r, id, kind); err != nil {
			s.Logger.Debug("upgrade failed", "user", id.Username, "err", err)
		}
	}
}
