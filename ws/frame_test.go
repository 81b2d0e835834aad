package ws

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestAppendTextFrame checks the three header forms of RFC 6455 5.2 for
// unmasked final text frames, back to back in one buffer.
func TestAppendTextFrame(t *testing.T) {
	payloads := [][]byte{[]byte("hi"), bytes.Repeat([]byte("x"), 125), bytes.Repeat([]byte("y"), 126), bytes.Repeat([]byte("z"), 70000)}
	var buf []byte
	for _, p := range payloads {
		buf = appendTextFrame(buf, p)
	}
	for i, want := range payloads {
		if len(buf) < 2 || buf[0] != 0x81 {
			t.Fatalf("frame %d: first byte %#x, want 0x81 (FIN, text)", i, buf[0])
		}
		n, head := int(buf[1]), 2
		switch n {
		case 126:
			n, head = int(binary.BigEndian.Uint16(buf[2:4])), 4
		case 127:
			n, head = int(binary.BigEndian.Uint64(buf[2:10])), 10
		}
		if n != len(want) || !bytes.Equal(buf[head:head+n], want) {
			t.Fatalf("frame %d: length %d, want %d", i, n, len(want))
		}
		if int64(head+n) != frameSize(len(want)) {
			t.Fatalf("frame %d: %d bytes, frameSize says %d", i, head+n, frameSize(len(want)))
		}
		buf = buf[head+n:]
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left over", len(buf))
	}
}
