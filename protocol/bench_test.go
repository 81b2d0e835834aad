package protocol_test

import (
	"testing"

	"github.com/parley-chat/parley/protocol"
)

// BenchmarkDecode decodes the two frames a busy connection sends most: a
// one-to-one message and an ACK.
func BenchmarkDecode(b *testing.B) {
	frames := map[string][]byte{
		"send": []byte(`{"type":"ONE_TO_ONE_CHAT","id":"c-1234567","to":"bench0042","content":"` + "a message of about one hundred and fifty bytes, which is what a chat message is on average, more or less, give or take a few words here" + `"}`),
		"ack":  []byte(`{"type":"ACK","chatId":"bench0041-bench0042","seq":123456}`),
	}
	for name, frame := range frames {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := protocol.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
