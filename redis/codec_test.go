package redis_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/redis"
)

var codecEvents = []parley.Event{
	{},
	{Frame: []byte(`{"type":"ONE_TO_ONE_CHAT","content":"hé \"there\"\n"}`), ExceptConn: "c12", Conv: "alice-bob", Seq: 42, Origin: "node-3"},
	{EndSession: "*"},
	{Frame: []byte("not json \x00\xff"), Conv: "quote\"d\\back", Origin: "ünïcode\u2028"},
	{Frame: []byte(`"x"`), Seq: -1},
	{Frame: []byte(`[1, 2]`), ExceptConn: "\x01"},
}

func TestCodec(t *testing.T) {
	for _, ev := range codecEvents {
		p := redis.AppendEvent(nil, &ev, 1023, 1700000000123456789)
		if !json.Valid(p) {
			t.Fatalf("payload is not JSON: %s", p)
		}
		var got parley.Event
		node, sent, err := redis.DecodeEvent(p, &got)
		if err != nil {
			t.Fatalf("decoding %s: %v", p, err)
		}
		if node != 1023 || sent != 1700000000123456789 {
			t.Fatalf("node %d sent %d", node, sent)
		}
		want := ev
		if len(want.Frame) == 0 {
			want.Frame = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\ngot  %+v\nwant %+v", p, got, want)
		}
	}
	// Any JSON object with these keys, in any order, decodes.
	var got parley.Event
	node, _, err := redis.DecodeEvent([]byte(`{"f":{"a":1},"s":3,"n":2,"c":"\u0041"}`), &got)
	if err != nil || node != 2 || got.Seq != 3 || got.Conv != "A" || string(got.Frame) != `{"a":1}` {
		t.Fatalf("got %+v, node %d, err %v", got, node, err)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, ev := range codecEvents {
		f.Add(redis.AppendEvent(nil, &ev, 7, 99))
	}
	f.Add([]byte(`{"n":1,"t":2,"s":3,"x":"","c":"","e":"","o":"","f":}`))
	f.Add([]byte(`{"n":1,"t":2,"s":3,"x":"","c":"","e":"","o":"","fb":"AAE="}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		var ev parley.Event
		node, sent, err := redis.DecodeEvent(p, &ev)
		if err != nil {
			return
		}
		// What decodes encodes and decodes again to the same event.
		q := redis.AppendEvent(nil, &ev, node, sent)
		var again parley.Event
		node2, sent2, err := redis.DecodeEvent(q, &again)
		if err != nil || node2 != node || sent2 != sent {
			t.Fatalf("re-decoding %s: %v", q, err)
		}
		if !bytes.Equal(bytes.TrimSpace(again.Frame), bytes.TrimSpace(ev.Frame)) && json.Valid(ev.Frame) {
			t.Fatalf("frame %q became %q", ev.Frame, again.Frame)
		}
		again.Frame, ev.Frame = nil, nil
		if !reflect.DeepEqual(again, ev) {
			t.Fatalf("%+v became %+v", ev, again)
		}
	})
}
