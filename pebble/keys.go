package pebble

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/parley-chat/parley"
)

const (
	kindMessage = 'm'
	kindIdem    = 'i'
	kindCursor  = 'c'
	kindLast    = 's'
	kindChat    = 'u'
	kindMeta    = 'z'
)

var (
	countsKey = []byte{kindMeta, 'c', 'o', 'u', 'n', 't', 's'}
	importKey = []byte{kindMeta, 'i', 'm', 'p', 'o', 'r', 't'}
)

// appendString appends a length-prefixed string.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, errCorrupt
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

var errCorrupt = errors.New("pebble: corrupt record")

// newKey returns an empty key of kind with room for n more bytes, so that
// building a key is one allocation.
func newKey(kind byte, n int) []byte {
	b := make([]byte, 1, 1+n)
	b[0] = kind
	return b
}

// strLen is the room appendString needs for s.
func strLen(s string) int { return binary.MaxVarintLen64 + len(s) }

// convPrefix is the prefix of every message key of conv.
func convPrefix(conv string) []byte { return appendString(newKey(kindMessage, strLen(conv)), conv) }

func msgKey(conv string, seq int64) []byte {
	return binary.BigEndian.AppendUint64(appendString(newKey(kindMessage, strLen(conv)+8), conv), uint64(seq))
}

func idemKey(from, clientID string) []byte {
	return append(appendString(newKey(kindIdem, strLen(from)+len(clientID)), from), clientID...)
}

func cursorKey(user, conv string) []byte {
	return append(appendString(newKey(kindCursor, strLen(user)+len(conv)), user), conv...)
}

func lastKey(conv string) []byte { return append(newKey(kindLast, len(conv)), conv...) }

func chatPrefix(user string) []byte { return appendString(newKey(kindChat, strLen(user)), user) }

func chatKey(user, peer string) []byte {
	return append(appendString(newKey(kindChat, strLen(user)+len(peer)), user), peer...)
}

// prefixEnd returns the smallest key above every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func seqOf(key []byte) int64 { return int64(binary.BigEndian.Uint64(key[len(key)-8:])) }

func encodeInt(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func decodeInt(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, errCorrupt
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// record is a stored message as it is encoded in a message key's value.
type record struct {
	created  int64 // Unix ms
	id       string
	from     string
	clientID string
	content  string
}

func (r *record) encode() []byte {
	b := make([]byte, 0, 8+strLen(r.id)+strLen(r.from)+strLen(r.clientID)+len(r.content))
	b = binary.BigEndian.AppendUint64(b, uint64(r.created))
	b = appendString(b, r.id)
	b = appendString(b, r.from)
	b = appendString(b, r.clientID)
	return append(b, r.content...)
}

func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) < 8 {
		return r, errCorrupt
	}
	r.created = int64(binary.BigEndian.Uint64(b))
	var err error
	b = b[8:]
	if r.id, b, err = readString(b); err != nil {
		return r, err
	}
	if r.from, b, err = readString(b); err != nil {
		return r, err
	}
	if r.clientID, b, err = readString(b); err != nil {
		return r, err
	}
	r.content = string(b)
	return r, nil
}

// senderOf reads only the sender of an encoded record.
func senderOf(b []byte) (string, error) {
	if len(b) < 8 {
		return "", errCorrupt
	}
	_, rest, err := readString(b[8:])
	if err != nil {
		return "", err
	}
	from, _, err := readString(rest)
	return from, err
}

// message builds the parley.Message of a record stored at conv, seq.
func (r *record) message(conv string, seq int64) parley.Message {
	m := parley.Message{ID: r.id, Conv: conv, Seq: seq, From: r.from, Content: r.content, Time: time.UnixMilli(r.created).UTC()}
	if !parley.IsGroupID(conv) {
		m.To = parley.ChatPeer(conv, r.from)
	}
	return m
}

func encodeIdem(conv string, seq int64) []byte {
	return binary.BigEndian.AppendUint64(appendString(make([]byte, 0, strLen(conv)+8), conv), uint64(seq))
}

func decodeIdem(b []byte) (string, int64, error) {
	conv, rest, err := readString(b)
	if err != nil || len(rest) != 8 {
		return "", 0, errCorrupt
	}
	return conv, int64(binary.BigEndian.Uint64(rest)), nil
}
