// Package parley holds Parley's domain: users, sessions, conversations,
// messages and groups, the rules that apply to them, and the interfaces of
// the services that store and move them. It imports nothing but the standard
// library and golang.org/x/text; every technology lives in a sibling package
// (sqlite, pebble, postgres, cassandra, redis, hub, ws, http, ...) and
// cmd/parleyd wires them; docs/architecture.md maps them.
//
// Vocabulary:
//   - A conversation is either a one-to-one chat, named by its chatId (the two
//     usernames sorted bytewise and joined by "-"), or a group, named by its
//     groupId (which never contains "-"). Both kinds share one sequence space:
//     every conversation numbers its messages 1, 2, 3, ... with no gaps.
//   - A cursor is how far a user has acknowledged a conversation; messages
//     above it are "undelivered" and are sent again on the next connection.
//   - A session is one login: its access and refresh tokens, revoked together
//     by logout.
package parley

import "time"

// Version is the server version reported by /health and parleyd -version.
const Version = "0.1.0"

// TimeFormat is the wire format of every timestamp: UTC, milliseconds, "Z".
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as the protocol requires.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeFormat)
}

// Limits of the wire contract.
const (
	MaxContentBytes   = 4096
	MaxClientIDLen    = 64
	MaxGroupNameLen   = 100
	DefaultPageSize   = 50
	MaxPageSize       = 200
	MaxOfflinePerConv = 1000
)
