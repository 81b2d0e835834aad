package parley

import (
	"context"
	"time"
)

// Presence aggregates users' live connections across every node. A user is
// online while at least one connection of theirs, on any node, is alive.
type Presence interface {
	// Connect records a new live connection of username on this node and
	// reports whether the user was offline everywhere before it.
	Connect(ctx context.Context, username string) (cameOnline bool, err error)
	// Disconnect records that a connection of username on this node closed
	// at the given time and reports whether the user is now offline
	// everywhere.
	Disconnect(ctx context.Context, username string, at time.Time) (wentOffline bool, err error)
	// Online reports, for each name, whether that user is online.
	Online(ctx context.Context, usernames []string) ([]bool, error)
}

// Event is something that must reach users' connections on every node: a
// frame to write, or a session to end.
type Event struct {
	// Users whose connections get the event.
	Users []string `json:"u"`
	// Frame is written to each of their connections, except ExceptConn.
	Frame      []byte `json:"f,omitempty"`
	ExceptConn string `json:"x,omitempty"`
	// Conv and Seq identify a delivered message, so that a connection that
	// is still receiving its offline messages can drop a duplicate.
	Conv string `json:"c,omitempty"`
	Seq  int64  `json:"s,omitempty"`
	// EndSession, when set, closes the users' connections of that session
	// (or, when it is "*", all of the users' connections) with close code
	// 1008 instead of writing a frame.
	EndSession string `json:"e,omitempty"`
	// Origin is the node that published the event.
	Origin string `json:"o,omitempty"`
}

// Bus carries events between nodes. A node delivers every event to its own
// connections itself and publishes it for the others; a single node needs
// no bus at all.
type Bus interface {
	// Publish sends ev to the other nodes that hold connections of ev.Users.
	Publish(ctx context.Context, ev *Event) error
	// Subscribe and Unsubscribe tell the bus which users have connections on
	// this node, so that it receives their events.
	Subscribe(ctx context.Context, username string) error
	Unsubscribe(ctx context.Context, username string) error
}
