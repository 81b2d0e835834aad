package hub

import (
	"context"
	"errors"
)

// Socket is the hub's view of one WebSocket, implemented by the transport.
// All methods are safe for concurrent use and never block on the network.
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
var ErrSlow = errors.New("hub: client too slow")
