package hub

import "github.com/parley-chat/parley"

// AllSessions, given to EndSession, closes every connection of the user.
const AllSessions = "*"

// EndSession closes, on every node, the user's connections of a session
// (or all of them, with AllSessions) with close code 1008. Logout, session
// revocation and disabling a user call it.
func (h *Hub) EndSession(username, sessionID string) {
	h.endSessionLocal(username, sessionID)
	if h.bus != nil {
		h.publishRemote(&parley.Event{Users: []string{username}, EndSession: sessionID})
	}
}
