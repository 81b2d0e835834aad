package redis

// Kill stops c's goroutines and closes its connections without cleaning
// anything up, as kill -9 would: its lease and presence stay in Redis
// until they expire and are swept.
func Kill(c *Client) { c.abort() }

// AppendEvent and DecodeEvent are the payload codec.
var (
	AppendEvent = appendEvent
	DecodeEvent = decodeEvent
)
