// Package client is a Go client of the Parley wire protocol
// (docs/protocol.md in the repository): the HTTP auth API and the chat and
// presence WebSockets. The terminal client, the load generator and the
// end-to-end tests use it, so it is kept exactly in step with the server.
// Any Go module may import it:
//
//	go get github.com/parley-chat/parley/client
//
// # Vocabulary
//
// A [Client] holds the server's base URL and makes the HTTP calls:
// [Client.Register], [Client.Login] (which returns [Tokens]: a short-lived
// access token and a refresh token), [Client.Refresh] and [Client.Logout].
//
// A [Conn] is one WebSocket, opened with [Client.Dial] ("chat" or
// "presence") or [Dial]. Its frames arrive as [Frame] values, one struct
// holding the fields of every server frame type, read with [Conn.Next] or
// from [Conn.Frames]. Client frames are any value that marshals to a JSON
// object, sent with [Conn.Send], e.g.
//
//	conn.Send(map[string]any{"type": "ONE_TO_ONE_CHAT", "id": "m1", "to": "bob", "content": "hi"})
//
// A chat connection starts with INIT_DATA, then the messages that arrived
// while the user was away (Offline set), then INFO with Event
// "offline_delivered". A message is delivered again on every connection
// until the user ACKs its seq, so a client ACKs what it has shown.
//
// A [Session] keeps one connection open for a long-running client: it
// reconnects with exponential backoff and jitter when the connection
// drops, refreshes the access token through a [TokenSource] when the
// server refuses it, and reports everything as [Event] values, in order,
// on one channel. It does not resend: a client keeps the messages it sent
// without a SUCCESS and sends them again, with the same id, after
// EventConnected; the server stores each (sender, id) once.
//
// # Concurrency
//
// A Conn reads in a goroutine of its own and queues frames (4096 at most;
// a reader that falls behind stops reading from the socket, and the server
// eventually disconnects it as too slow). Send may be called from any
// goroutine; writes are serialized. A Session's Send, Connected and Close
// may be called from any goroutine while Run runs.
package client
