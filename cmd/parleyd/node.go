package main

import (
	"net/http"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/hub"
	"github.com/parley-chat/parley/metrics"
	"github.com/parley-chat/parley/ws"
)

// node is the HTTP API's view of this node (parleyhttp.Node): the hub, and
// the transport that hands it upgraded sockets. It is where ws meets hub.
type node struct {
	*hub.Hub
	ws *ws.Server
}

// Upgrade turns the request into a WebSocket and attaches it to the hub,
// which is told when it closes.
func (n node) Upgrade(w http.ResponseWriter, r *http.Request, who parley.Identity, kind parley.ConnKind) error {
	id := hub.Identity{Username: who.Username, SessionID: who.SessionID}
	detach := func(c ws.Receiver, err error) {
		if hc, ok := c.(*hub.Conn); ok {
			n.Detach(hc, err)
		}
	}
	return n.ws.Upgrade(w, r, detach, func(s parley.Socket) ws.Receiver { return n.Attach(s, id, kind) })
}

// The metrics take the hub's measurements.
var _ hub.Metrics = (*metrics.Metrics)(nil)
