// Package hub is Parley's connection hub: it owns the live WebSocket
// connections of one node, turns client frames into store operations, and
// fans committed messages and events out to connections.
//
// Vocabulary:
//   - A Conn is one authenticated WebSocket, of kind Chat or Presence. The
//     transport (package ws) owns the socket and calls Conn.Receive for each
//     text frame, Conn.Pong for each pong and Hub.Detach when it closes.
//   - The committer collects the sends of all connections and stores them
//     in batches, one transaction per batch (group commit); under load it
//     waits up to CommitDelay for a batch to fill. A dispatcher fans each
//     stored batch out while the next one is stored.
//   - Fan-out workers deliver committed messages to recipients' connections;
//     each recipient is always served by the same worker, so a connection
//     sees one conversation's messages in seq order. They also write each
//     sender's SUCCESS (or per-message ERROR) replies, in the same write as
//     the connection's deliveries of that batch; the sender's goroutine
//     waits for them before it handles its next frame, so replies still
//     leave in frame order. A batch the store refused is answered by the
//     senders themselves.
//   - An event may stand for several frames: a CREATE_GROUP's
//     GROUP_MEMBER_JOINED frames travel as one protocol.GroupCreated, which
//     dispatch expands once per node (delivery.more), so that a group of N
//     members costs N deliveries between nodes, not N squared.
//   - While a chat connection is syncing (sending INIT_DATA and offline
//     messages), deliveries to it are held and then sent, without the
//     duplicates that the offline pass already sent.
//
// Concurrency contract:
//   - A Conn processes its frames one at a time, in order, on a goroutine
//     that exists only while frames are waiting; an idle connection has no
//     goroutine. Replies go out in frame order.
//   - Socket writes never block: a connection whose outbound queue passes
//     its byte bound is closed with 1013 (its messages stay stored and come
//     back as offline messages), so a slow client never slows anyone else.
//     The opening pass (INIT_DATA, offline messages, INFO) is the one
//     exception: its goroutine waits for room (Socket.WaitRoom) instead, so
//     that a slow link gets its backlog rather than a 1013; it handles the
//     ACKs at the head of the inbox as it goes. A closing connection still
//     applies the ACKs it had queued.
//   - ACKs and last-seen times are kept in memory and stored every 100 ms
//     (and before a connection of the user reads them); losing them in a
//     crash means a message is delivered again, never lost.
//   - Lock order: registry shard lock, then Conn.mu; flushMu, then ackMu.
//     No lock but flushMu is held while calling the store, and none while
//     calling the presence service or the bus.
package hub
