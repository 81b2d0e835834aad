package protocol

import (
	"encoding/json"
	"reflect"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// FuzzDecodeLikeEncodingJSON: the decoder reads every input as
// encoding/json, which Parley used before, did: it accepts and refuses the
// same inputs, and decodes what it accepts into the same frame.
func FuzzDecodeLikeEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"type":"ACK","chatId":"a-b","seq":1}`, `{"type":"ONE_TO_ONE_CHAT","id":"x","to":"b","content":"hi"}`, `{"Type":"ACK","TYPE":"PING"}`, `{"type":null}`, `{"seq":1.0}`, `{"seq":"1"}`, `{"members":null}`, `{"limit":-1}`, `{"private":1}`, `{"content":"\ud800"}`, `{"type":"A"} x`, ` {"type":"A"} `, `{"from":null}`, `{"seq":1e3}`, `{"seq":01}`, `[]`, `null`, `{"id":"é"}`, `{"type":"REACT","seq":1,"emoji":"👍","remove":true}`, `{"remove":1}`, `{"replyTo":-1}`, `{"type":"READ","groupId":"g1","seq":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a, b Frame
		e1 := json.Unmarshal(data, &a)
		e2 := jsonv2.Unmarshal(data, &b, decodeOptions)
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("%q: encoding/json says %v, the decoder %v", data, e1, e2)
		}
		if e1 == nil && !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: encoding/json decodes %+v, the decoder %+v", data, a, b)
		}
	})
}
