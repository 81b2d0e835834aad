package hub

import "github.com/parley-chat/parley"

// Socket is one WebSocket as the hub sees it; see parley.Socket.
type Socket = parley.Socket

// ErrSlow is returned by Socket.WriteText when a client cannot keep up.
var ErrSlow = parley.ErrSlow
