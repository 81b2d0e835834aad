package bench

import (
	"encoding/json"
	"testing"
)

func TestParseFrame(t *testing.T) {
	t.Run("delivery", func(t *testing.T) {
		var f frame
		in := `{"type":"ONE_TO_ONE_CHAT","messageId":"123","seq":42,"from":"a_1","content":"id-1 99 x\"y","timestamp":"2026-01-01T00:00:00.000Z","chatId":"a_1-b_2","to":"b_2","offline":true}`
		if err := parseFrame([]byte(in), &f); err != nil {
			t.Fatal(err)
		}
		if string(f.typ) != "ONE_TO_ONE_CHAT" || string(f.messageID) != "123" || f.seq != 42 || string(f.from) != "a_1" ||
			string(f.chatID) != "a_1-b_2" || !f.offline || string(f.content) != `id-1 99 x\"y` {
			t.Fatalf("got %+v", f)
		}
		id, sent, ok := parseContent(f.content)
		if !ok || string(id) != "id-1" || sent != 99 {
			t.Fatalf("content: got %q %d %v", id, sent, ok)
		}
	})
	t.Run("nested values are skipped", func(t *testing.T) {
		var f frame
		in := `{ "type" : "INIT_DATA", "chats":[{"chatId":"x","seq":5,"s":"]}"}], "groups":[], "username":"u", "count": 3 }`
		if err := parseFrame([]byte(in), &f); err != nil {
			t.Fatal(err)
		}
		if string(f.typ) != "INIT_DATA" || len(f.chatID) != 0 || f.seq != 0 || f.count != 3 {
			t.Fatalf("got %+v", f)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		for _, in := range []string{``, `[]`, `{"type":`, `{"type":"x"`, `{"a":"unterminated}`, `{"a":[1,2}`} {
			var f frame
			if err := parseFrame([]byte(in), &f); err == nil {
				t.Errorf("%q: got no error", in)
			}
		}
	})
}

func TestBuiltFramesAreJSON(t *testing.T) {
	content := makeContent(nil, "run-7", 123456, 64)
	if len(content) != 64 {
		t.Fatalf("content length: got %d, want 64", len(content))
	}
	var v map[string]any
	b := appendSend(nil, "GROUP_CHAT", "run-7", "groupId", "g1", content)
	if err := json.Unmarshal(b, &v); err != nil || v["type"] != "GROUP_CHAT" || v["groupId"] != "g1" || v["content"] != string(content) {
		t.Fatalf("send frame %s: %v %v", b, v, err)
	}
	b = appendAck(nil, "a-b", false, 17)
	if err := json.Unmarshal(b, &v); err != nil || v["type"] != "ACK" || v["chatId"] != "a-b" || v["seq"] != float64(17) {
		t.Fatalf("ack frame %s: %v %v", b, v, err)
	}
	id, sent, ok := parseContent(content)
	if !ok || string(id) != "run-7" || sent != 123456 {
		t.Fatalf("round trip: got %q %d %v", id, sent, ok)
	}
	if _, _, ok := parseContent([]byte("hello world")); ok {
		t.Fatal("foreign content parsed as a bench message")
	}
}

func TestTracker(t *testing.T) {
	var c Counters
	tr := newTracker(&c)
	w := newWaiter(4)
	tr.add("m1", 100, 1, w)
	tr.add("m2", 100, 1, w)
	if !tr.deliver([]byte("m1")) { // delivery may come before SUCCESS
		t.Fatal("m1 not followed")
	}
	if sent, ok := tr.ack([]byte("m1")); !ok || sent != 100 {
		t.Fatalf("ack m1: got %d %v", sent, ok)
	}
	tr.ack([]byte("m2"))
	if n := tr.outstanding(); n != 1 {
		t.Fatalf("outstanding: got %d, want 1 (m2 waits for its delivery)", n)
	}
	tr.sweep(0, 200) // m2 answered but undelivered since before 200: lost
	select {
	case <-w.done:
	default:
		t.Fatal("waiter not done after the sweep")
	}
	if c.Lost.Load() != 1 || w.failed.Load() != 1 || tr.outstanding() != 0 {
		t.Fatalf("lost %d failed %d outstanding %d, want 1 1 0", c.Lost.Load(), w.failed.Load(), tr.outstanding())
	}
	if tr.deliver([]byte("m2")) {
		t.Fatal("a message given up on is still followed")
	}
}
