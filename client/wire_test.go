package client_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/protocol"
)

// TestFrameReadsWhatTheServerWrites ties client.Frame to the server's wire
// structs (package protocol): each frame the server encodes, decoded into
// a Frame and encoded again, keeps every field that carries a value. A
// field the server adds and the client does not know fails here.
func TestFrameReadsWhatTheServerWrites(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	lastSeen := parley.FormatTime(at)
	count := 3
	msg := &parley.Message{ID: "m1", Conv: "alice-bob", Seq: 7, From: "alice", To: "bob", Content: "hello", Time: at,
		ReplyTo: 2, Edited: true, EditedAt: at.Add(time.Minute),
		Reactions: []parley.Reaction{{Emoji: "👍", Users: []string{"bob", "carol"}}}}
	reaction := &parley.Message{ID: "r1", Conv: "gabc", Seq: 8, From: "bob", Time: at, Kind: parley.KindReaction, Target: 7, Emoji: "🎉", Removed: true}
	erased := &parley.Message{ID: "e1", Conv: "gabc", Seq: 9, From: "dave", Time: at, Kind: parley.KindEdit, Target: 7}
	frames := map[string]any{
		"message":  protocol.Delivery{Type: "ONE_TO_ONE_CHAT", Message: protocol.FromMessage(msg), Offline: true},
		"reaction": protocol.Delivery{Type: protocol.EntryFrameType(reaction), Message: protocol.FromMessage(reaction)},
		"erased":   protocol.Delivery{Type: protocol.EntryFrameType(erased), Message: protocol.FromMessage(erased)},
		"success":  protocol.Success{Type: "SUCCESS", ID: "c1", MessageID: "m1", ChatID: "alice-bob", Seq: 7, Target: 2, Timestamp: lastSeen},
		"group":    protocol.Success{Type: "SUCCESS", ID: "c2", GroupID: "gabc", Name: "the team"},
		"info":     protocol.Info{Type: "INFO", Msg: "offline messages delivered", Event: "offline_delivered", Count: &count},
		"history": protocol.History{Type: "GROUP_CHAT_HISTORY", ID: "h1", GroupID: "gabc", HasMore: true,
			Messages: []protocol.Message{protocol.FromMessage(msg), protocol.FromMessage(reaction)}},
		"members": protocol.Members{Type: "GROUP_MEMBERS", ID: "g1", GroupID: "gabc", Name: "the team", Owner: "alice",
			Members: []protocol.MemberStatus{{Username: "alice", Status: "ONLINE", ReadSeq: 4}}},
		"init": protocol.InitData{Type: "INIT_DATA", Username: "alice", MoreChats: true, MoreGroups: true,
			Chats:  []protocol.ChatInfo{{ChatID: "alice-bob", With: "bob", Status: "OFFLINE", LastSeen: &lastSeen, LastSeq: 9, Unread: 2, ReadSeq: 7, PeerReadSeq: 5}},
			Groups: []protocol.GroupInfo{{GroupID: "gabc", Name: "the team", LastSeq: 3, Unread: 1, ReadSeq: 2}}},
		"receipt":  protocol.ReadReceipt{Type: "READ_RECEIPT", GroupID: "gabc", Username: "bob", Seq: 6, Timestamp: lastSeen},
		"presence": protocol.PresenceUpdate{Type: "PRESENCE_UPDATE", Username: "bob", Status: "OFFLINE", LastSeen: &lastSeen},
		"typing":   protocol.Typing{Type: "TYPING", From: "bob", ChatID: "alice-bob"},
		"error":    json.RawMessage(protocol.Error("c3", parley.Errorf(parley.EFORBIDDEN, "not a member"))),
	}
	for name, v := range frames {
		wire := protocol.Encode(v)
		var f client.Frame
		if err := json.Unmarshal(wire, &f); err != nil {
			t.Fatalf("%s: the client cannot decode %s: %v", name, wire, err)
		}
		again, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		want, got := valued(t, wire), valued(t, again)
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: the server wrote\n  %s\nthe client keeps\n  %s", name, wire, again)
		}
	}
}

// valued decodes a JSON object and drops what carries no value (false, 0,
// "", null, empty lists and objects), which a client reads as absent.
func valued(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return prune(v)
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if p := prune(e); p != nil {
				out[k] = p
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, prune(e))
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case bool:
		if !x {
			return nil
		}
	case float64:
		if x == 0 {
			return nil
		}
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}
