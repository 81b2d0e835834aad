package protocol_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

var seeds = []string{
	`{"type":"ONE_TO_ONE_CHAT","id":"m1","to":"bob","content":"hi"}`,
	`{"type":"ONE_TO_ONE_CHAT","id":"m1","to":"bob","from":"alice","chatId":"alice-bob","content":"hi"}`,
	`{"type":"GROUP_CHAT","id":"g1","groupId":"gabc","content":"hello"}`,
	`{"type":"GET_ONE_TO_ONE_HISTORY","to":"bob","before":10,"limit":20}`,
	`{"type":"GET_GROUP_CHAT_HISTORY","groupId":"gabc","after":0}`,
	`{"type":"CREATE_GROUP","name":"team","members":["bob","carol"],"private":true}`,
	`{"type":"JOIN_GROUP","groupId":"gabc"}`,
	`{"type":"ADD_GROUP_MEMBER","groupId":"gabc","username":"dave"}`,
	`{"type":"REMOVE_GROUP_MEMBER","groupId":"gabc","username":"dave"}`,
	`{"type":"LEAVE_GROUP","groupId":"gabc"}`,
	`{"type":"GET_GROUP_MEMBERS","groupId":"gabc"}`,
	`{"type":"ACK","chatId":"alice-bob","seq":5}`,
	`{"type":"TYPING","to":"bob"}`,
	`{"type":"PING","id":"p"}`,
	`{"type":"DISCONNECT"}`,
	`{"type":"ONE_TO_ONE_CHAT","id":"x","content":5}`,
	`{"type":"ONE_TO_ONE_CHAT","id":"m2","to":"bob","content":"yes","replyTo":1}`,
	`{"type":"EDIT_MESSAGE","id":"e1","chatId":"alice-bob","seq":1,"content":"fixed"}`,
	`{"type":"DELETE_MESSAGE","id":"d1","groupId":"gabc","seq":3}`,
	`{"type":"REACT","id":"r1","chatId":"alice-bob","seq":1,"emoji":"\ud83d\udc4d","remove":true}`,
	`{"type":"REACT","id":"r2","to":"bob","seq":1,"emoji":"x","remove":"no"}`,
	`{"type":"READ","groupId":"gabc","seq":7}`,
	`{"type":"EDIT_MESSAGE","id":"e2","seq":"1","content":[]}`,
	`{"type":1}`,
	`[[[[]]]]`,
	`{"type":"PING","x":"\"[[[["}`,
	"",
}

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name, in string
		code     string // "" for success
		typ, id  string
		invalid  bool // a send whose fields are unreadable
	}{
		{"send", seeds[0], "", protocol.TypeOneToOne, "m1", false},
		{"ping", `{"type":"PING","id":"p"}`, "", protocol.TypePing, "p", false},
		{"unknown fields ignored", `{"type":"PING","zzz":[1,{"a":2}]}`, "", protocol.TypePing, "", false},
		{"not json", `nope`, parley.EINVALID, "", "", false},
		{"no type", `{"id":"a"}`, parley.EINVALID, "", "a", false},
		{"unknown type", `{"type":"NOPE","id":"a"}`, parley.EINVALID, "NOPE", "a", false},
		{"long id", `{"type":"PING","id":"` + strings.Repeat("x", 65) + `"}`, parley.EINVALID, "", "", false},
		{"64-char id", `{"type":"PING","id":"` + strings.Repeat("é", 64) + `"}`, "", protocol.TypePing, strings.Repeat("é", 64), false},
		{"bad send field keeps id", `{"type":"ONE_TO_ONE_CHAT","id":"k","to":["x"]}`, "", protocol.TypeOneToOne, "k", true},
		{"bad field elsewhere", `{"type":"ACK","id":"k","seq":"1"}`, parley.EINVALID, protocol.TypeAck, "k", false},
		{"deep", `{"type":"PING","a":` + strings.Repeat("[", 33) + strings.Repeat("]", 33) + `}`, parley.EINVALID, "", "", false},
		{"brackets in strings do not count", `{"type":"PING","a":"` + strings.Repeat("[", 100) + `"}`, "", protocol.TypePing, "", false},
		{"too large", `{"type":"PING","a":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}`, parley.ETOOLARGE, "", "", false},
		{"invalid utf-8", "{\"type\":\"PING\",\"a\":\"\xff\"}", parley.EINVALID, "", "", false},
	} {
		f, err := protocol.Decode([]byte(c.in))
		if got := parley.ErrorCode(err); got != c.code {
			t.Errorf("%s: error %v, want code %q", c.name, err, c.code)
			continue
		}
		if f == nil {
			if c.typ != "" || c.id != "" {
				t.Errorf("%s: no frame, want type %q id %q", c.name, c.typ, c.id)
			}
			continue
		}
		if f.Type != c.typ || f.ID != c.id || (f.Invalid != nil) != c.invalid {
			t.Errorf("%s: got type %q id %q invalid %v", c.name, f.Type, f.ID, f.Invalid)
		}
	}
}

func TestPeekID(t *testing.T) {
	if id := protocol.PeekID([]byte(seeds[0])); id != "m1" {
		t.Fatalf("got %q", id)
	}
	if id := protocol.PeekID([]byte(`{"id":7}`)); id != "" {
		t.Fatalf("got %q", id)
	}
}

func TestEncode(t *testing.T) {
	err := parley.Errorf(parley.EFORBIDDEN, "no")
	var f map[string]any
	if e := json.Unmarshal(protocol.Error("x", err), &f); e != nil {
		t.Fatal(e)
	}
	if f["type"] != "ERROR" || f["id"] != "x" || f["code"] != "forbidden" || f["msg"] != "no" {
		t.Fatalf("got %v", f)
	}
	// An internal error never shows its cause.
	json.Unmarshal(protocol.Error("", errInternal{}), &f)
	if f["code"] != "internal" || strings.Contains(f["msg"].(string), "secret") {
		t.Fatalf("got %v", f)
	}
}

func TestIsPresenceUpdate(t *testing.T) {
	seen := "2026-01-02T03:04:05.000Z"
	if !protocol.IsPresenceUpdate(protocol.Encode(protocol.PresenceUpdate{Type: protocol.TypePresenceUpdate, Username: "a", Status: protocol.StatusOnline, LastSeen: &seen})) {
		t.Fatal("an encoded PRESENCE_UPDATE is not recognised")
	}
	for _, f := range [][]byte{
		protocol.Encode(protocol.Info{Type: protocol.TypeInfo, Msg: "PRESENCE_UPDATE"}),
		protocol.Error("PRESENCE_UPDATE", parley.Errorf(parley.EINVALID, "no")),
		[]byte(`{"type":"PRESENCE_UPDATES"}`),
	} {
		if protocol.IsPresenceUpdate(f) {
			t.Fatalf("%s taken for a PRESENCE_UPDATE", f)
		}
	}
}

type errInternal struct{}

func (errInternal) Error() string { return "secret database detail" }

// FuzzDecode feeds arbitrary bytes to the frame decoder: it must never
// panic, and whatever it accepts must have a known type and a valid id,
// and must decode the same way twice.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := protocol.Decode(data)
		if err != nil {
			code := parley.ErrorCode(err)
			if code != parley.EINVALID && code != parley.ETOOLARGE {
				t.Fatalf("error code %q for %q", code, data)
			}
			return
		}
		if fr == nil || fr.Type == "" || len([]rune(fr.ID)) > parley.MaxClientIDLen {
			t.Fatalf("accepted %q as %+v", data, fr)
		}
		// Only entries (which are idempotent by id) come back with their
		// fields' problem set aside, and it is always EINVALID.
		if fr.Invalid != nil && (!protocol.IsEntry(fr.Type) || parley.ErrorCode(fr.Invalid) != parley.EINVALID) {
			t.Fatalf("%q: Invalid %v on a %s", data, fr.Invalid, fr.Type)
		}
		again, err := protocol.Decode(data)
		if err != nil || again.Type != fr.Type || again.ID != fr.ID {
			t.Fatalf("decoding %q twice differs", data)
		}
		_ = protocol.PeekID(data)
	})
}
