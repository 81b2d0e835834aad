// Package tui is the full-screen chat client of `parley chat`, a Bubble Tea
// model kept apart from the terminal and the network so that tests can
// drive it with messages.
//
// Vocabulary: a Conversation is a one-to-one chat (keyed by its chatId,
// "alice-bob") or a group (keyed by its groupId). Its messages are kept in
// seq order without duplicates (delivery is at least once; a messageId is
// kept once). Our own sends are Pending until the server's SUCCESS; their
// client ids are idempotency keys, so after a reconnect they are sent again
// and the server stores each once.
//
// The timeline (protocol 1.1): edits, deletions and reactions are entries
// with seqs of their own, kept among the messages (so that the shown run
// of consecutive seqs has no gaps) but not shown as lines; each changes the
// message it targets. A message that arrives with its state (history,
// offline delivery) already covers the entries up to the conversation's
// last known seq, which are not applied to it again.
//
// Inputs are client.Event values (from a client.Session: connection state
// and server frames), key presses, window sizes and ticks. Outputs are
// frames written through a Sender and the rendered screen.
//
// What is shown is read: when the selected conversation's pane is at its
// newest line, a cumulative READ (which is also an ACK) up to its highest
// seq is sent (one per conversation after the offline delivery, then one
// per new message).
//
// Concurrency: a Model is used by one goroutine (Bubble Tea's event loop);
// the Sender may be called from it and must not block for long.
package tui
