package hub

import (
	"context"
	"sync"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// LocalPresence is the presence of a single node: a count of each user's
// live connections.
type LocalPresence struct {
	mu    sync.Mutex
	conns map[string]int
}

var _ parley.Presence = (*LocalPresence)(nil)

// NewLocalPresence returns an empty LocalPresence.
func NewLocalPresence() *LocalPresence { return &LocalPresence{conns: make(map[string]int)} }

// Connect counts a new connection.
func (p *LocalPresence) Connect(_ context.Context, username string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[username]++
	return p.conns[username] == 1, nil
}

// Disconnect counts a closed connection.
func (p *LocalPresence) Disconnect(_ context.Context, username string, _ time.Time) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.conns[username] - 1
	if n > 0 {
		p.conns[username] = n
		return false, nil
	}
	delete(p.conns, username)
	return n == 0, nil
}

// Online reports which users have a live connection.
func (p *LocalPresence) Online(_ context.Context, usernames []string) ([]bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]bool, len(usernames))
	for i, u := range usernames {
		out[i] = p.conns[u] > 0
	}
	return out, nil
}

// connected runs when a connection of username has opened.
func (h *Hub) connected(ctx context.Context, username string) {
	came, err := h.presence.Connect(ctx, username)
	if err != nil {
		h.log.Error("presence connect failed", "user", username, "err", err)
		return
	}
	if came {
		h.PresenceChanged(ctx, username, true, h.now())
	}
}

// disconnected runs when a connection of username has closed.
func (h *Hub) disconnected(ctx context.Context, username string) {
	at := h.now()
	went, err := h.presence.Disconnect(ctx, username, at)
	if err != nil {
		h.log.Error("presence disconnect failed", "user", username, "err", err)
		return
	}
	if went {
		h.PresenceChanged(ctx, username, false, at)
	}
}

// PresenceChanged records that a user went online or offline at a time
// and tells their contacts, on every node. The presence service calls it
// too, when it finds that a dead node's users went offline.
func (h *Hub) PresenceChanged(ctx context.Context, username string, online bool, at time.Time) {
	status := protocol.StatusOnline
	if !online {
		status = protocol.StatusOffline
		h.lastSeen(username, at)
	}
	contacts, err := h.store.Contacts(ctx, username)
	if err != nil {
		h.log.Error("loading contacts failed", "user", username, "err", err)
		return
	}
	if len(contacts) == 0 {
		return
	}
	seen := parley.FormatTime(at)
	h.publish(&parley.Event{
		Users: contacts,
		Frame: protocol.Encode(protocol.PresenceUpdate{Type: protocol.TypePresenceUpdate, Username: username, Status: status, LastSeen: &seen}),
	})
}

// Online reports whether a user is online anywhere.
func (h *Hub) Online(ctx context.Context, username string) (bool, error) {
	on, err := h.presence.Online(ctx, []string{username})
	if err != nil {
		return false, err
	}
	return on[0], nil
}

// statuses returns ONLINE or OFFLINE for each user.
func (h *Hub) statuses(ctx context.Context, usernames []string) []string {
	out := make([]string, len(usernames))
	online, err := h.presence.Online(ctx, usernames)
	if err != nil {
		h.log.Error("presence lookup failed", "err", err)
	}
	for i := range usernames {
		out[i] = protocol.StatusOffline
		if err == nil && online[i] {
			out[i] = protocol.StatusOnline
		}
	}
	return out
}

// introduce tells two users whose chat has just begun (a wrote first)
// each other's presence: from now on they are contacts, and a client should not have to
// reconnect to learn whether the other is online.
func (h *Hub) introduce(a, b string) {
	h.run(func() {
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		defer cancel()
		users := []string{a, b}
		statuses := h.statuses(ctx, users)
		// a has just sent from a live connection, whose registration
		// with the presence service may still be on its way.
		statuses[0] = protocol.StatusOnline
		now := h.now()
		for i, u := range users {
			var stored time.Time
			if statuses[i] != protocol.StatusOnline {
				if usr, err := h.store.User(ctx, u); err == nil {
					stored = usr.LastSeen
				}
			}
			h.publish(&parley.Event{Users: []string{users[1-i]}, Frame: h.presenceFrame(u, statuses[i], stored, now)})
		}
	})
}

// sendContactsPresence writes one PRESENCE_UPDATE per contact of the
// inbox, with their current status: how a presence connection opens.
func (c *Conn) sendContactsPresence(ctx context.Context, in *parley.Inbox) {
	names := make([]string, len(in.Chats))
	for i, ch := range in.Chats {
		names[i] = ch.With
	}
	statuses := c.hub.statuses(ctx, names)
	now := c.hub.now()
	for i, ch := range in.Chats {
		c.write(c.hub.presenceFrame(ch.With, statuses[i], ch.WithLastSeen, now))
	}
}

// presenceFrame is a PRESENCE_UPDATE of a user with the given status,
// stored being their last-seen time as the store has it.
func (h *Hub) presenceFrame(username, status string, stored, now time.Time) []byte {
	return protocol.Encode(protocol.PresenceUpdate{
		Type:     protocol.TypePresenceUpdate,
		Username: username,
		Status:   status,
		LastSeen: lastSeen(status, h.seenOf(username, stored), now),
	})
}

// lastSeen is the wire lastSeen: now while online, the stored time
// otherwise, null if the user never connected.
func lastSeen(status string, stored, now time.Time) *string {
	var s string
	switch {
	case status == protocol.StatusOnline:
		s = parley.FormatTime(now)
	case stored.IsZero():
		return nil
	default:
		s = parley.FormatTime(stored)
	}
	return &s
}
