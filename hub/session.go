package hub

import (
	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

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

func (h *Hub) endSessionLocal(username, sessionID string) {
	for _, c := range h.connsOf(username) {
		if sessionID == AllSessions || c.session == sessionID {
			c.Close(protocol.ClosePolicy, "session ended")
		}
	}
}
