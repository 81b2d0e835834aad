package parley

import (
	"context"
	"errors"
	"time"
)

// The types here cross the seams between the transport (ws), the hub, the
// HTTP API (http), the auth service (auth) and the metrics, so that each of
// those packages needs only this one; cmd/parleyd wires them together.

// ConnKind is the endpoint a WebSocket came in on.
type ConnKind string

// Connection kinds.
const (
	ConnChat     ConnKind = "chat"
	ConnPresence ConnKind = "presence"
)

// Socket is one WebSocket as the hub sees it, implemented by the
// transport. All methods are safe for concurrent use and never block on
// the network.
type Socket interface {
	// WriteText queues one text frame. It returns ErrSlow when the
	// connection's outbound queue is over its bound, and another error when
	// the connection is gone.
	WriteText(frame []byte) error
	// WriteTexts queues several text frames, in order, as one write: a
	// connection that has several frames ready costs one system call,
	// not one per frame. Errors as WriteText's.
	WriteTexts(frames [][]byte) error
	// WaitRoom blocks until a frame of n bytes fits in the outbound queue
	// (an empty queue takes a frame of any size), the connection closes
	// (an error), or ctx ends (its error). It is how the opening pass is
	// paced by what the client reads instead of being cut by the bound.
	WaitRoom(ctx context.Context, n int) error
	// Ping queues a WebSocket ping.
	Ping() error
	// Close sends a close frame with code and reason (when the queue allows)
	// and closes the connection.
	Close(code int, reason string)
	// RemoteAddr is the peer's address, for logs.
	RemoteAddr() string
}

// ErrSlow is returned by Socket.WriteText when a client cannot keep up.
var ErrSlow = errors.New("client too slow")

// Tokens are what login and refresh return.
type Tokens struct {
	Access    string
	Refresh   string
	Username  string
	SessionID string
	// ExpiresIn is the access token's life in seconds.
	ExpiresIn int
}

// Identity is who an access token speaks for.
type Identity struct {
	Username  string
	SessionID string
	Expires   time.Time
}

// NodeStats are a node's live counts: users with a connection, and
// connections by kind.
type NodeStats struct {
	Users       int
	Connections map[ConnKind]int
}

// Limiter limits one user's requests of one kind.
type Limiter interface {
	// Allow reports whether username may make one more request now.
	Allow(username string) bool
}
