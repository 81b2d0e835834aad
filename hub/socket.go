package hub

import "errors"

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
