package pebble

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/parley-chat/parley"
)

// TestRecordFormats: a record written before the timeline (created, id,
// sender, client id, content) reads as a plain message, plain messages
// are still written that way, and an entry with timeline fields reads
// back as it was written.
func TestRecordFormats(t *testing.T) {
	old := binary.BigEndian.AppendUint64(nil, 1764806400000)
	for _, s := range []string{"id1", "alice", "c1"} {
		old = append(append(old, byte(len(s))), s...)
	}
	old = append(old, "hello"...)
	r, err := decodeRecord(old)
	want := record{created: 1764806400000, id: "id1", from: "alice", clientID: "c1", content: "hello"}
	if err != nil || !reflect.DeepEqual(r, want) {
		t.Fatalf("old record: got %+v, %v", r, err)
	}
	if got := want.encode(); string(got) != string(old) {
		t.Fatalf("a plain message is encoded as %x, want the old format %x", got, old)
	}
	for _, r := range []record{
		{created: 1, id: "m", from: "bob", content: "a reply", replyTo: 3},
		{created: 2, id: "m", from: "bob", content: "now", editedAt: 5, deletedBy: 0,
			reactions: []parley.Reaction{{Emoji: "👍", Users: []string{"a", "b"}}, {Emoji: "x", Users: []string{"c"}}}},
		{created: 3, id: "m", from: "bob", deletedBy: 9},
		{created: 4, id: "e", from: "bob", clientID: "c", kind: parley.KindEdit, target: 2, content: "edited"},
		{created: 5, id: "r", from: "bob", kind: parley.KindReaction, target: 2, emoji: "👍", removed: true},
	} {
		got, err := decodeRecord(r.encode())
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip of %+v: got %+v, %v", r, got, err)
		}
		if from, err := senderOf(r.encode()); err != nil || from != r.from {
			t.Fatalf("sender of %+v: got %q, %v", r, from, err)
		}
	}
	for _, bad := range [][]byte{{extMark}, {extMark, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, old[:5]} {
		if _, err := decodeRecord(bad); err == nil {
			t.Fatalf("%x decoded", bad)
		}
	}
}
