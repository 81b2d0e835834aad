package hub

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
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

// sessionLoop closes, every SessionCheck, the connections whose session
// has ended without this node being told: revoked by another process
// (parleyd users disable), or while the bus between nodes was down.
func (h *Hub) sessionLoop() { h.every(h.cfg.SessionCheck, h.CheckSessions) }

// every runs fn each interval until the hub stops; it is one of the hub's
// goroutines (h.wg).
func (h *Hub) every(interval time.Duration, fn func()) {
	defer h.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// CheckSessions closes the connections whose session has ended.
func (h *Hub) CheckSessions() {
	users := map[string]string{} // session -> user
	for _, c := range h.allConns() {
		users[c.session] = c.user
	}
	if len(users) == 0 {
		return
	}
	ids := make([]string, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	ended, err := h.store.EndedSessions(ctx, ids)
	if err != nil {
		h.log.Error("checking sessions failed", "err", err)
		return
	}
	for _, id := range ended {
		h.log.Info("closing connections of an ended session", "user", users[id])
		h.endSessionLocal(users[id], id)
	}
}
