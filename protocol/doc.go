// Package protocol is Parley's wire format: the JSON frames of the WebSocket
// endpoints, their decoding with the contract's limits, their encoding, and
// the close and error codes. It knows nothing of connections or storage.
//
// The contract is ../docs/protocol.md. Decode is the only way a client frame
// enters the server, and it is fuzzed (FuzzDecode).
package protocol
